import Drivers

/// An in-memory power driver that records every call, for planner and executor unit tests.
///
/// It behaves like a BMC that applies changes at once: `on`/`cycle`/`reset` leave the host on, `off`/`soft-off`
/// leave it off. Queue errors with `failNext(_:)` to exercise retry and stall paths.
public actor FakePowerDriver: PowerDriver {
    /// One call the driver received.
    public enum Call: Sendable, Equatable {
        case powerState
        case setPower(PowerAction)
        case setBootDevice(BootDevice, BootPersistence)
    }

    public private(set) var calls: [Call] = []
    public private(set) var state: PowerState
    public private(set) var bootDevice: (device: BootDevice, persistence: BootPersistence)?
    private var queuedErrors: [PowerError] = []

    public init(state: PowerState = .off) {
        self.state = state
    }

    /// Makes the next call throw `error` (calls are still recorded).
    public func failNext(_ error: PowerError) {
        queuedErrors.append(error)
    }

    public func powerState() async throws(PowerError) -> PowerState {
        calls.append(.powerState)
        try throwQueued()
        return state
    }

    public func setPower(_ action: PowerAction) async throws(PowerError) {
        calls.append(.setPower(action))
        try throwQueued()
        switch action {
        case .on, .cycle, .reset: state = .on
        case .off, .softOff: state = .off
        }
    }

    public func setBootDevice(_ device: BootDevice, persistence: BootPersistence) async throws(PowerError) {
        calls.append(.setBootDevice(device, persistence))
        try throwQueued()
        bootDevice = (device, persistence)
    }

    private func throwQueued() throws(PowerError) {
        if !queuedErrors.isEmpty { throw queuedErrors.removeFirst() }
    }
}
