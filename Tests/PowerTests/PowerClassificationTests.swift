import Testing

@testable import Drivers

/// BMC answers map to errors that say what to do: stalled, waiting, transient.
struct PowerClassificationTests {
    @Test(arguments: [
        (UInt8(0xC0), PowerError.Code.busy), (0xC1, .unsupported), (0xD4, .insufficientPrivilege),
        (0xD5, .unsupported), (0xFF, .bmcError), (0xC3, .bmcError),
    ])
    func ipmiCompletionCodes(code: UInt8, expected: PowerError.Code) {
        #expect(IPMIClient.classify(completionCode: code) == expected)
    }

    @Test func successIsNoError() {
        #expect(IPMIClient.classify(completionCode: 0) == nil)
    }

    @Test func intentsFollowTheCode() {
        #expect(PowerError(.authenticationFailed, bmc: "b", "").intent == .stalled)
        #expect(PowerError(.unreachable, bmc: "b", "").intent == .transient)
        #expect(PowerError(.busy, bmc: "b", "").intent == .waiting(retryAfter: .seconds(5)))
        #expect(PowerError(.busy, bmc: "b", "", intent: .waiting(retryAfter: .seconds(30))).intent
            == .waiting(retryAfter: .seconds(30)))
    }

    @Test func redfishResetTypesFollowWhatTheBMCAllows() throws {
        let sushy = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn"]
        #expect(try RedfishClient.resetType(for: .on, allowed: sushy, flavor: .generic) == "On")
        #expect(try RedfishClient.resetType(for: .off, allowed: sushy, flavor: .generic) == "ForceOff")
        #expect(try RedfishClient.resetType(for: .softOff, allowed: sushy, flavor: .generic) == "GracefulShutdown")
        #expect(try RedfishClient.resetType(for: .cycle, allowed: sushy, flavor: .generic) == "ForceRestart")
        #expect(try RedfishClient.resetType(for: .cycle, allowed: nil, flavor: .generic) == "PowerCycle")
        #expect(try RedfishClient.resetType(for: .cycle, allowed: nil, flavor: .ilo) == "ForceRestart")
        // A restart of a system that reads Off powers it on (sushy's libvirt driver ignores ForceRestart there).
        for action in [PowerAction.cycle, .reset] {
            #expect(try RedfishClient.resetType(for: action, powerState: "Off", allowed: sushy, flavor: .generic)
                        == "On")
            #expect(try RedfishClient.resetType(for: action, powerState: "Off", allowed: nil, flavor: .ilo) == "On")
            #expect(try RedfishClient.resetType(for: action, powerState: "On", allowed: sushy, flavor: .generic)
                        == "ForceRestart")
        }
        #expect(try RedfishClient.resetType(for: .off, powerState: "Off", allowed: sushy, flavor: .generic)
                    == "ForceOff")
        let error = #expect(throws: PowerError.self) {
            try RedfishClient.resetType(for: .softOff, allowed: ["On", "ForceOff"], flavor: .generic)
        }
        #expect(error?.code == .unsupported)
    }

    @Test func redfishErrorMessagesComeFromTheBody() {
        let body: [String: Any] = [
            "error": ["message": "generic", "@Message.ExtendedInfo": [["Message": "ResetType Foo is not supported"]]]
        ]
        #expect(RedfishClient.redfishMessage(body) == "ResetType Foo is not supported")
        #expect(RedfishClient.redfishMessage(["error": ["message": "generic"]]) == "generic")
        #expect(RedfishClient.redfishMessage(nil) == nil)
    }
}
