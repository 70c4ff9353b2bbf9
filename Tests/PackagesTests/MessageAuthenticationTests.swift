import Drivers
import Foundation
import Testing

struct MessageAuthenticationTests {
    static let key = SiteKey(bytes: Array("0123456789abcdef-site-key".utf8))!
    static let otherKey = SiteKey(bytes: Array("another-site-key-entirely".utf8))!
    let request = ServiceMessage.request(.install, node: "node17", service: "web", payload: ["{}"])

    @Test func signedMessageVerifiesAndSurvivesTheWire() throws {
        let authenticator = MessageAuthenticator(key: Self.key)
        let signed = authenticator.sign(request, timestamp: 1_000, nonce: String(repeating: "ab", count: 16))
        let wire = try ServiceMessageParser.parse(signed.encoded).get()
        let verified = try authenticator.verify(wire).get()
        #expect(verified.message == request)
        #expect(verified.timestamp == 1_000)
        #expect(verified.nonce == String(repeating: "ab", count: 16))
    }

    @Test func anyChangedFieldBreaksTheSignature() {
        let authenticator = MessageAuthenticator(key: Self.key)
        let signed = authenticator.sign(request, timestamp: 1_000)
        var tampered = [signed, signed, signed, signed]
        tampered[0].node = "node18"
        tampered[1].command = .uninstall
        tampered[2].payload[0] = "{ }"
        tampered[3].payload[1] = tampered[3].payload[1].replacingOccurrences(of: ":1000:", with: ":1001:")
        for message in tampered {
            #expect(authenticator.verify(message) == .failure(.badMAC))
        }
    }

    @Test func wrongKeyMissingAndMalformed() {
        let signed = MessageAuthenticator(key: Self.otherKey).sign(request, timestamp: 1_000)
        let authenticator = MessageAuthenticator(key: Self.key)
        #expect(authenticator.verify(signed) == .failure(.badMAC))
        #expect(authenticator.verify(request) == .failure(.missing))
        var malformed = request
        malformed.payload.append("hmac-sha256:soon:xyz:00")
        #expect(authenticator.verify(malformed) == .failure(.malformed))
    }

    @Test func replayGuardRefusesReplaysAndStaleTimestamps() {
        var guardian = ReplayGuard(window: .seconds(300), now: 10_000)
        #expect(guardian.admit(timestamp: 10_000, nonce: "n1", now: 10_001) == nil)
        #expect(guardian.admit(timestamp: 10_000, nonce: "n1", now: 10_002) == .replayed)
        #expect(guardian.admit(timestamp: 9_000, nonce: "n2", now: 10_002) == .stale)
        #expect(guardian.admit(timestamp: 11_000, nonce: "n3", now: 10_002) == .stale)
    }

    @Test func replayGuardRemembersAcrossRestarts() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rs-nonces-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        var first = ReplayGuard(window: .seconds(300), file: file, now: 10_000)
        #expect(first.admit(timestamp: 10_000, nonce: "n1", now: 10_000) == nil)
        var second = ReplayGuard(window: .seconds(300), file: file, now: 10_010)
        #expect(second.admit(timestamp: 10_000, nonce: "n1", now: 10_010) == .replayed)
        #expect(second.admit(timestamp: 10_005, nonce: "n2", now: 10_010) == nil)
    }

    @Test func keyFileIsReadAndNeverPrinted() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rs-key-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "short\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: ServiceAgentError.self) { try SiteKey(contentsOfFile: file) }
        let secret = SiteKey.generateHex()
        try (secret + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let key = try SiteKey(contentsOfFile: file)
        #expect(!"\(key)".contains(secret))
        do {
            _ = try SiteKey(contentsOfFile: file + ".missing")
        } catch {
            #expect(error.code == .badKey)
            #expect(error.intent == .stalled)
        }
    }
}
