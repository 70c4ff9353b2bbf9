import Drivers
