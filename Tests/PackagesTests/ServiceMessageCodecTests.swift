import Drivers
import Testing

struct ServiceMessageCodecTests {
    @Test func parsesThePapersExample() throws {
        let text = "||req||provisioning||install||null||node17||web||eom"
        let message = try ServiceMessageParser.parse(Array(text.utf8)).get()
        #expect(message.kind == .request)
        #expect(message.command == .install)
        #expect(message.code == nil)
        #expect(message.node == "node17")
        #expect(message.service == "web")
        #expect(message.payload.isEmpty)
        #expect(message.encodedString == text)
    }

    @Test func responseMirrorsRequest() throws {
        let request = ServiceMessage.request(.install, node: "node17", service: "web")
        let response = request.response(.rpmFailed, payload: ["No match for argument: httpd"])
        #expect(response.encodedString == "||res||provisioning||install||rpm-failed||node17||web||No match for argument: httpd||eom")
        #expect(try ServiceMessageParser.parse(response.encoded).get() == response)
    }

    @Test(arguments: [
        "a||b", "|", "||", "a|b", "\\", "\\|", "eom", "eomx", "eo", "e", "x eom", "|eom", "", "ünïcødé ||eom||",
        "{\"a\":\"b||c\"}", "\\e", "\r\n",
    ])
    func escapingRoundTrips(value: String) throws {
        let message = ServiceMessage.request(.status, node: value, service: value, payload: [value, "tail", value])
        let decoded = try ServiceMessageParser.parse(message.encoded).get()
        #expect(decoded == message)
    }

    @Test func pipesInsideValuesAreEscaped() {
        let message = ServiceMessage.request(.status, node: "n", service: "s", payload: ["a||b", "eom"])
        #expect(message.encodedString == "||req||provisioning||status||null||n||s||a\\|\\|b||\\eom||eom")
    }

    @Test func unknownCommandStillParses() throws {
        let message = try ServiceMessageParser.parse(Array("||req||provisioning||reboot||null||n||s||eom".utf8)).get()
        #expect(message.command.rawValue == "reboot")
        #expect(!message.command.isKnown)
    }

    @Test(arguments: [
        ("req||provisioning||install||null||n||s||eom", ServiceMessageError.Code.notAFrame),
        ("||req||provisioning||install||null||n||s", .truncated),
        ("||req||provisioning||install||null||n||s||eom||", .trailingData),
        ("||req||provisioning||install||null||n|s||eom", .unescapedPipe),
        ("||req||provisioning||install||null||n\\x||eom", .invalidEscape),
        ("||req||provisioning||install||null||eom", .tooFewFields),
        ("||get||provisioning||install||null||n||s||eom", .unknownType),
        ("||req||monitoring||install||null||n||s||eom", .unknownClass),
        ("||req||provisioning||Install||null||n||s||eom", .invalidCommand),
        ("||req||provisioning||install||ok||n||s||eom", .invalidCode),
        ("||res||provisioning||install||fine||n||s||eom", .invalidCode),
    ])
    func typedErrors(text: String, code: ServiceMessageError.Code) {
        #expect(throws: ServiceMessageError.self) { try ServiceMessageParser.parse(Array(text.utf8)).get() }
        if case .failure(let error) = ServiceMessageParser.parse(Array(text.utf8)) {
            #expect(error.code == code)
        }
    }

    @Test func invalidUTF8IsATypedError() {
        var bytes = Array("||req||provisioning||install||null||".utf8)
        bytes += [0xff, 0xfe]
        bytes += Array("||s||eom".utf8)
        #expect(ServiceMessageParser.parse(bytes) == .failure(ServiceMessageError(.invalidUTF8)))
    }

    @Test func definitionTravelsAsJSONInMessage2() throws {
        // The paper's i386 RPMs, and a repository URL with the message's field separator in it.
        let vod = PackageLab.vod(arch: "i386", RepositoryEntry(name: "site", baseurl: "http://10.0.0.1/repo|x"))
        let message = ServiceMessage.request(.install, node: "node17", service: "VOD", payload: [vod.jsonText()])
        let decoded = try ServiceMessageParser.parse(message.encoded).get()
        let definition = try #require(ServiceDefinition(jsonText: decoded.payload[0]))
        #expect(definition == vod)
        #expect(definition.installOrder.map(\.name) == ["cd#1", "cs#1"])
        #expect(definition.installOrder.map(\.packageName) == ["std_cd", "std_cs"])
        #expect(definition.installOrder.map(\.packageSpec) == ["std_cd-1.0-1.i386", "std_cs-1.0-1.i386"])
    }
}
