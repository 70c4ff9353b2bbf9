import Logging
import Testing

@testable import Drivers

/// Drivers are picked by URL scheme; an unknown scheme says which ones exist.
struct PowerDriverRegistryTests {
    static func configuration(_ url: String) throws -> BMCConfiguration {
        BMCConfiguration(address: try BMCAddress(parsing: url), username: "admin", password: "x")
    }

    @Test(arguments: [
        ("ipmi://10.0.0.5", "IPMIClient"), ("redfish+https://10.0.0.5", "RedfishClient"),
        ("redfish+http://10.0.0.5", "RedfishClient"), ("ilo://10.0.0.5", "RedfishClient"),
    ])
    func picksTheDriverForEachScheme(url: String, driver: String) async throws {
        let resources = PowerDriverResources()
        let made = try PowerDriverRegistry.standard.driver(
            for: try Self.configuration(url), resources: resources, logger: Logger(label: "test"))
        #expect(String(describing: type(of: made)) == driver)
        await resources.shutdown()
    }

    @Test func anUnknownSchemeIsAStalledErrorListingTheKnownOnes() async throws {
        let resources = PowerDriverResources()
        let error = #expect(throws: PowerError.self) {
            try PowerDriverRegistry.standard.driver(
                for: try Self.configuration("ipmi2://10.0.0.5"), resources: resources, logger: Logger(label: "test"))
        }
        #expect(error?.code == .unknownScheme)
        #expect(error?.intent == .stalled)
        #expect(error?.detail.contains("'ipmi2'") == true)
        #expect(error?.detail.contains("redfish+https") == true)
        #expect(!PowerDriverRegistry.standard.supports(scheme: "ipmi2"))
        #expect(PowerDriverRegistry.standard.supports(scheme: "ILO"))
        await resources.shutdown()
    }

    @Test func theStandardRegistryServesExactlyTheSchemesTheLoaderAccepts() {
        #expect(PowerDriverRegistry.standard.schemes == BMCScheme.allCases.map(\.rawValue).sorted())
        #expect(!PowerDriverRegistry.standard.supports(scheme: "redfish"), "no alias the site loader would refuse")
    }

    @Test func aRegisteredFactoryServesItsScheme() async throws {
        var registry = PowerDriverRegistry()
        let fake = FakeDriverBox()
        registry.register("fake") { _, _, _ in fake.driver }
        let resources = PowerDriverResources()
        let driver = try registry.driver(
            for: try Self.configuration("fake://node-1"), resources: resources, logger: Logger(label: "test"))
        #expect(try await driver.powerState() == .off)
        await resources.shutdown()
    }
}

/// Holds a FakePowerDriver so a @Sendable factory can return it.
final class FakeDriverBox: Sendable {
    let driver = PowerDriverRegistryTests.Fake()
}

extension PowerDriverRegistryTests {
    /// A driver that is always off, for the registry test (the planner's fake is in DriversTesting).
    struct Fake: PowerDriver {
        func powerState() async throws(PowerError) -> PowerState { .off }
        func setPower(_ action: PowerAction) async throws(PowerError) {}
        func setBootDevice(_ device: BootDevice, persistence: BootPersistence) async throws(PowerError) {}
    }
}
