import DriversTesting
import Testing

@testable import Drivers

/// The fake driver planners and executors test against: records calls, applies them, fails on demand.
struct FakePowerDriverTests {
    @Test func recordsCallsAndTracksState() async throws {
        let fake = FakePowerDriver(state: .off)
        try await fake.setBootDevice(.pxe, persistence: .once)
        try await fake.setPower(.on)
        #expect(try await fake.powerState() == .on)
        try await fake.setPower(.softOff)
        #expect(await fake.state == .off)
        #expect(await fake.calls == [.setBootDevice(.pxe, .once), .setPower(.on), .powerState, .setPower(.softOff)])
    }

    @Test func throwsQueuedErrorsOnce() async throws {
        let fake = FakePowerDriver()
        await fake.failNext(PowerError(.busy, bmc: "fake://n1", "busy"))
        let error = await #expect(throws: PowerError.self) { try await fake.setPower(.on) }
        #expect(error?.code == .busy)
        #expect(await fake.state == .off, "a failed call changes nothing")
        try await fake.setPower(.on)
        #expect(await fake.state == .on)
    }
}
