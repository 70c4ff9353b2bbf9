import LabSupport
import Logging
import Testing

@testable import Drivers

/// The Redfish client against a real `sushy-emulator` (fake driver). Its power changes land 1–11 s late, so
/// state checks poll with a 15 s deadline, as a real executor would.
struct RedfishSushyTests {
    static func client(_ url: String, password: String = "pass", insecure: Bool = false,
        timeout: Duration = .seconds(5), resources: PowerDriverResources) throws -> RedfishClient
    {
        RedfishClient(
            configuration: BMCConfiguration(
                address: try BMCAddress(parsing: url), username: "admin", password: password,
                insecureSkipVerify: insecure, timeout: timeout, retries: 1),
            flavor: .generic, httpClient: resources.httpClient, logger: Logger(label: "test.redfish"))
    }

    /// Polls until the BMC reports `state`, or the deadline passes.
    static func waitFor(_ state: PowerState, _ client: RedfishClient, deadline: Duration = .seconds(15))
        async throws -> Bool
    {
        let end = ContinuousClock.now.advanced(by: deadline)
        while ContinuousClock.now < end {
            if try await client.powerState() == state { return true }
            try await Task.sleep(for: .milliseconds(250))
        }
        return false
    }

    /// Runs `body` with a new emulator (`start`'s options) and the HTTP resources of its clients, which are shut
    /// down and the emulator stopped afterwards, also when `body` throws.
    static func withSushy(tls: Bool = false, twoSystems: Bool = false,
        _ body: (SushyEmulator, PowerDriverResources) async throws -> Void) async throws
    {
        let sushy = try await SushyEmulator.start(tls: tls, twoSystems: twoSystems)
        defer { sushy.stop() }
        let resources = PowerDriverResources()
        do {
            try await body(sushy, resources)
        } catch {
            await resources.shutdown()
            throw error
        }
        await resources.shutdown()
    }

    @Test func powersOnAndOffAndReadsPowerState() async throws {
        try await Self.withSushy { sushy, resources in
            let client = try Self.client(sushy.url(), resources: resources)
            #expect(try await client.powerState() == .off)
            try await client.setPower(.on)
            #expect(try await Self.waitFor(.on, client))
            try await client.setPower(.off)
            #expect(try await Self.waitFor(.off, client))
        }
    }

    @Test func setsABootOverrideToPXE() async throws {
        try await Self.withSushy { sushy, resources in
            let client = try Self.client(sushy.url(system: SushyEmulator.systemA), resources: resources)
            try await client.setBootDevice(.pxe, persistence: .once)
            let boot = try await client.bootOverride()
            #expect(boot.target == "Pxe")
            // sushy reads `Once` back as `Continuous`; either means the override is enabled.
            #expect(boot.enabled == "Once" || boot.enabled == "Continuous")
            try await client.setBootDevice(.disk, persistence: .persistent)
            #expect(try await client.bootOverride().target == "Hdd")
        }
    }

    @Test func aCycleUsesForceRestartWhereThereIsNoPowerCycle() async throws {
        try await Self.withSushy { sushy, resources in
            let client = try Self.client(sushy.url(), resources: resources)
            // A cycle of a system that reads Off is an On; of one that is on, a restart.
            try await client.setPower(.on)
            #expect(try await Self.waitFor(.on, client))
            try await client.setPower(.cycle)  // sushy allows no PowerCycle: this must pick ForceRestart, not get a 501
            try await client.setPower(.softOff)
        }
    }

    @Test func aWrongPasswordIsAStalledAuthenticationFailureThatNeverShowsThePassword() async throws {
        try await Self.withSushy { sushy, resources in
            let client = try Self.client(sushy.url(), password: "s3cret-wrong", resources: resources)
            let error = await #expect(throws: PowerError.self) { try await client.powerState() }
            #expect(error?.code == .authenticationFailed)
            #expect(error?.intent == .stalled)
            #expect(!(error?.description.contains("s3cret-wrong") ?? true))
        }
    }

    @Test func twoSystemsWithoutOneNamedInTheURLIsAnInvalidAddress() async throws {
        try await Self.withSushy(twoSystems: true) { sushy, resources in
            let error = await #expect(throws: PowerError.self) {
                try await Self.client(sushy.url(), resources: resources).powerState()
            }
            #expect(error?.code == .invalidAddress)
            let named = try Self.client(sushy.url(system: SushyEmulator.systemB), resources: resources)
            #expect(try await named.powerState() == .off)
        }
    }

    /// TLS verification is on by default: a self-signed BMC is refused unless the node opts out.
    @Test func selfSignedCertificatesNeedAnExplicitOptOut() async throws {
        try await Self.withSushy(tls: true) { sushy, resources in
            let error = await #expect(throws: PowerError.self) {
                try await Self.client(sushy.url(), timeout: .seconds(2), resources: resources).powerState()
            }
            #expect(error?.code == .unreachable)
            #expect(error?.intent == .stalled, "an untrusted certificate needs a human, not retries")
            let insecure = try Self.client(sushy.url(), insecure: true, resources: resources)
            #expect(try await insecure.powerState() == .off)
        }
    }

    @Test func nothingListeningIsUnreachableAndTransient() async throws {
        let resources = PowerDriverResources()
        let port = try freePort()
        let error = await #expect(throws: PowerError.self) {
            // AsyncHTTPClient keeps retrying a refused connect until the request deadline.
            try await Self.client("redfish+http://127.0.0.1:\(port)", timeout: .seconds(1), resources: resources)
                .powerState()
        }
        #expect(error?.code == .unreachable)
        #expect(error?.intent == .transient)
        await resources.shutdown()
    }
}
