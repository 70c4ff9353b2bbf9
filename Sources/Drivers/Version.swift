public enum DriversVersion { public static let string = "0.1.0" }
