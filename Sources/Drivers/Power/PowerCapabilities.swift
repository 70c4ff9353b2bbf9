/// The power state a BMC reports for its host.
public enum PowerState: String, Sendable, Codable, CaseIterable {
    case on
    case off
    /// The BMC reports a transition in progress (Redfish `PoweringOn` / `PoweringOff`).
    case transitioning
}

/// A change of power a BMC can be asked for.
public enum PowerAction: String, Sendable, Codable, CaseIterable {
    case on
    /// Hard power off, without asking the operating system.
    case off
    /// Ask the operating system to shut down (ACPI soft off).
    case softOff = "soft-off"
    /// Power off, then on again.
    case cycle
    /// Hard reset, without a power transition.
    case reset
}

/// A device the host can be told to boot from next.
public enum BootDevice: String, Sendable, Codable, CaseIterable {
    case pxe
    case disk
}

/// Whether a boot device override holds for the next boot only or for every boot.
public enum BootPersistence: String, Sendable, Codable, CaseIterable {
    case once
    case persistent
}

/// Reads the host's power state from its BMC.
public protocol PowerStateGetter: Sendable {
    /// Asks the BMC whether the host is on.
    func powerState() async throws(PowerError) -> PowerState
}

/// Changes the host's power through its BMC.
public protocol PowerSetter: Sendable {
    /// Asks the BMC for a power change; returns once the BMC accepted it (it may still be in progress).
    func setPower(_ action: PowerAction) async throws(PowerError)
}

/// Chooses the device the host boots from next.
public protocol BootDeviceSetter: Sendable {
    /// Sets the boot device override, for the next boot only or for every boot.
    func setBootDevice(_ device: BootDevice, persistence: BootPersistence) async throws(PowerError)
}

/// Everything `reconcile` needs from a BMC: power state, power changes and the next boot device.
public typealias PowerDriver = PowerStateGetter & PowerSetter & BootDeviceSetter
