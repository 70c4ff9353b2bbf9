import Foundation
import LabSupport
import Logging
import Testing

@testable import Drivers

/// Install tokens as the file driver writes them, and the HKDF the tokens and the agents' keys come from.
struct InstallTokenTests {
    static let siteKey = SiteKey(bytes: Array("install-token-tests-site-key".utf8))!

    func driver(_ directory: TemporaryDirectory) throws -> FileBootDriver {
        for root in ["tftp", "http"] {
            try directory.write("\(root)/boot/vmlinuz", Data("kernel".utf8))
            try directory.write("\(root)/boot/initrd.img", Data("initrd".utf8))
        }
        return FileBootDriver(tftpRoot: try directory.subdirectory("tftp"), httpRoot: try directory.subdirectory("http"),
                              server: Fixtures.server, tokens: InstallTokenMinter(siteKey: Self.siteKey),
                              logger: Logger(label: "test.boot"))
    }

    /// The token an entry file carries.
    static func token(in text: String) -> String? {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("rackswarm.token=") }
            .map { String($0.dropFirst(16)) }
    }

    @Test func aRewriteKeepsTheInstallsTokenAndANewInstallGetsAnother() async throws {
        let directory = try TemporaryDirectory()
        let driver = try driver(directory)
        let entry = Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .ipxe)
        try await driver.write(entry)
        let file = "http/ipxe/01-52-54-00-aa-00-01.ipxe"
        let first = try #require(Self.token(in: try directory.read(file)))
        #expect(first.count == 64)
        #expect(try await driver.installToken(node: "r1n1") == first)
        // The manifest, which the TFTP server may hand out, holds the nonce, not the token.
        let manifest = try directory.read("tftp/.rackswarm-manifest.json")
        #expect(!manifest.contains(first))
        // The same install's entry, rewritten (a boot sync, a restarted reconciler): the same token.
        try await driver.write(entry)
        #expect(Self.token(in: try directory.read(file)) == first)
        // Installed: the token is dead.
        var local = entry
        local.mode = .localBoot
        try await driver.write(local)
        #expect(try await driver.installToken(node: "r1n1") == nil)
        #expect(Self.token(in: try directory.read(file)) == nil)
        // The next install of the same image: another token.
        try await driver.write(entry)
        let second = try #require(Self.token(in: try directory.read(file)))
        #expect(second != first)
        // Another node's install, at the same time: its own token.
        try await driver.write(Fixtures.install("r1n2", mac: "52:54:00:aa:00:02", ip: "10.77.0.12", loader: .grub))
        let other = try #require(Self.token(in: try directory.read("tftp/grub/grub.cfg-01-52-54-00-aa-00-02")))
        #expect(other != second && other.count == 64)
        try await driver.remove(node: "r1n2")
        #expect(try await driver.installToken(node: "r1n2") == nil)
        // The install environment reads the token back from its command line.
        let parsed = InstallArguments(parsing: try directory.read(file).split(separator: " ").map(String.init))
        #expect(parsed?.token == second)
    }

    @Test func withoutAMinterEntriesCarryNoToken() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("http/boot/vmlinuz", Data("kernel".utf8))
        try directory.write("http/boot/initrd.img", Data("initrd".utf8))
        let driver = FileBootDriver(tftpRoot: try directory.subdirectory("tftp"),
                                    httpRoot: try directory.subdirectory("http"), server: Fixtures.server,
                                    logger: Logger(label: "test.boot"))
        try await driver.write(Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .ipxe))
        #expect(Self.token(in: try directory.read("http/ipxe/01-52-54-00-aa-00-01.ipxe")) == nil)
        #expect(try await driver.installToken(node: "r1n1") == nil)
    }

    /// RFC 5869 appendix A, test cases 1 and 3.
    @Test func hkdfMatchesTheRFCVectors() {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        let okm1 = SiteKey.hkdf(ikm: ikm, salt: Array(0x00...0x0c), info: Array(0xf0...0xf9), length: 42)
        #expect(okm1.map { String(format: "%02x", $0) }.joined()
                == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        let okm3 = SiteKey.hkdf(ikm: ikm, salt: [], info: [], length: 42)
        #expect(okm3.map { String(format: "%02x", $0) }.joined()
                == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test func agentKeysDifferPerNodeAndPerSiteKey() {
        let other = SiteKey(bytes: Array("another-site-key-for-tests".utf8))!
        let a = Self.siteKey.agentKeyText(forNode: "r1n1")
        #expect(a.count == 64 && a.allSatisfy(\.isHexDigit))
        #expect(a == Self.siteKey.agentKeyText(forNode: "r1n1"))
        #expect(a != Self.siteKey.agentKeyText(forNode: "r1n2"))
        #expect(a != other.agentKeyText(forNode: "r1n1"))
        #expect(InstallTokenMinter(siteKey: Self.siteKey).token(node: "r1n1", nonce: "00")
                != InstallTokenMinter(siteKey: Self.siteKey).token(node: "r1n2", nonce: "00"))
    }
}

/// Reconcilers sharing one boot root (scale-out) each have their own driver; the manifest's read-modify-write must
/// not drop the other's entries or install tokens (before the lock, a lost token made a live install's reports 403).
struct SharedBootRootTests {
    @Test(.timeLimit(.minutes(2)))
    func twoDriversOnOneRootKeepEveryEntryAndToken() async throws {
        let directory = try TemporaryDirectory()
        let tokens = InstallTokenTests()
        let drivers = [try tokens.driver(directory), try tokens.driver(directory)]
        let count = 40
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, driver) in drivers.enumerated() {
                group.addTask {
                    for number in 0..<count {
                        let octet = String(format: "%02x", number)
                        try await driver.write(Fixtures.install(
                            "r\(index)n\(number)", mac: "52:54:00:0\(index):00:\(octet)",
                            ip: "10.77.\(index).\(number + 10)", loader: .ipxe))
                    }
                }
            }
            try await group.waitForAll()
        }
        let manifest = try await drivers[0].manifest()
        #expect(manifest.nodes.count == 2 * count)
        for index in drivers.indices {
            for number in 0..<count {
                #expect(try await drivers[1 - index].installToken(node: "r\(index)n\(number)") != nil)
            }
        }
    }
}
