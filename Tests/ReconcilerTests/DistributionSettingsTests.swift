import Reconciler
import Testing

/// `Site.spec.distribution`: whether the reconciler's tracker and seed keep image traffic inside racks.
struct DistributionSettingsTests {
    @Test func keepInRackLoadsAndDefaultsToRacksTrading() throws {
        let (kept, _) = try DecommissionEraseTests.load(siteSpec: "distribution: {keepInRack: true}")
        #expect(try #require(kept.state?.site, "\(kept.renderDiagnostics())").distribution.keepInRack)
        let (plain, _) = try DecommissionEraseTests.load(siteSpec: "# no distribution field")
        #expect(try #require(plain.state?.site, "\(plain.renderDiagnostics())").distribution == .defaults)
        #expect(!DistributionSettings.defaults.keepInRack)
    }

    @Test func aBadValueOrFieldIsALocatedErrorAndNothingLoads() throws {
        let (notBool, _) = try DecommissionEraseTests.load(siteSpec: "distribution: {keepInRack: sometimes}")
        #expect(notBool.state == nil)
        let rendered = notBool.renderDiagnostics()
        #expect(rendered.contains("site.yaml:33:") && rendered.contains("distribution.keepInRack"), "\(rendered)")
        let (typo, _) = try DecommissionEraseTests.load(siteSpec: "distribution: {keepInRacks: true}")
        #expect(typo.state == nil)
        #expect(typo.renderDiagnostics().contains("unknown field 'keepInRacks'"), "\(typo.renderDiagnostics())")
    }
}
