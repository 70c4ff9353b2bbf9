import BootServer
import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// The Hummingbird boot endpoint, driven by curl: per-MAC iPXE scripts, files, byte ranges, refusals.
struct BootHTTPServerTests {
    struct Fetched {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
    }

    /// `curl` the URL with extra arguments; headers lower-cased.
    static func curl(_ url: String, _ extra: [String] = [], in directory: TemporaryDirectory) async throws -> Fetched {
        let curl = try #require(tool("curl"), "curl is not installed (boot.apt)")
        let name = UUID().uuidString
        let body = directory.path + "/\(name).body"
        let headers = directory.path + "/\(name).headers"
        let result = await runTool(curl, ["-sS", "--path-as-is", "--max-time", "10", "-o", body, "-D", headers,
                                          "-w", "%{http_code}"] + extra + [url], timeout: .seconds(15))
        #expect(result.succeeded, "curl: \(result.output)")
        var fields: [String: String] = [:]
        for line in ((try? String(contentsOfFile: headers, encoding: .utf8)) ?? "").split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let status = Int(result.output.suffix(3)) ?? 0
        let bytes = [UInt8](FileManager.default.contents(atPath: body) ?? Data())
        return Fetched(status: status, headers: fields, body: bytes)
    }

    @Test func servesPerMACScriptsFilesAndRanges() async throws {
        let directory = try TemporaryDirectory()
        let httpRoot = try directory.subdirectory("http")
        let image = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try directory.write("http/images/lab.img", Data(image))
        try directory.write("http/boot/vmlinuz", Data("kernel".utf8))
        try directory.write("http/boot/initrd.img", Data("initrd".utf8))
        try directory.write("http/.rackswarm-manifest.json", Data("{}".utf8))
        try directory.write("secret", Data("outside the root".utf8))
        try await withBootServer(httpRoot: httpRoot) { port in
            let base = "http://127.0.0.1:\(port)"
            let driver = FileBootDriver(tftpRoot: try directory.subdirectory("tftp"), httpRoot: httpRoot,
                                        server: BootServerAddress(host: "127.0.0.1", httpPort: port),
                                        logger: Logger(label: "test.boot"))
            try await driver.write(Fixtures.install("r1n4", mac: "52:54:00:77:01:04", ip: "10.77.0.14", loader: .ipxe))

            for spelling in ["01-52-54-00-77-01-04", "52:54:00:77:01:04", "52-54-00-77-01-04", "525400770104",
                             "01-52-54-00-77-01-04.ipxe"] {
                let script = try await Self.curl("\(base)/ipxe/\(spelling)", in: directory)
                #expect(script.status == 200, "\(spelling)")
                #expect(String(decoding: script.body, as: UTF8.self).contains("rackswarm.node=r1n4"))
            }
            #expect(try await Self.curl("\(base)/ipxe/52:54:00:77:01:05", in: directory).status == 404)
            #expect(try await Self.curl("\(base)/ipxe/not-a-mac", in: directory).status == 404)

            let whole = try await Self.curl("\(base)/images/lab.img", in: directory)
            #expect(whole.status == 200 && whole.body == image)
            #expect(whole.headers["accept-ranges"] == "bytes")

            let middle = try await Self.curl("\(base)/images/lab.img", ["-r", "1000-1999"], in: directory)
            #expect(middle.status == 206 && middle.body == Array(image[1000...1999]))
            #expect(middle.headers["content-range"] == "bytes 1000-1999/300000")

            let suffix = try await Self.curl("\(base)/images/lab.img", ["-H", "Range: bytes=-100"], in: directory)
            #expect(suffix.status == 206 && suffix.body == Array(image.suffix(100)))
            #expect(suffix.headers["content-range"] == "bytes 299900-299999/300000")

            let open = try await Self.curl("\(base)/images/lab.img", ["-r", "299000-"], in: directory)
            #expect(open.status == 206 && open.body == Array(image[299000...]))

            let beyond = try await Self.curl("\(base)/images/lab.img", ["-r", "300000-"], in: directory)
            #expect(beyond.status == 416 && beyond.headers["content-range"] == "bytes */300000")

            let head = try await Self.curl("\(base)/images/lab.img", ["-I"], in: directory)
            #expect(head.status == 200 && head.headers["content-length"] == "300000")

            #expect(try await Self.curl("\(base)/.rackswarm-manifest.json", in: directory).status == 404)
            #expect(try await Self.curl("\(base)/../secret", in: directory).status == 404)
            #expect(try await Self.curl("\(base)/%2e%2e/secret", in: directory).status == 404)
            #expect(try await Self.curl("\(base)/images", in: directory).status == 404)
            #expect(try await Self.curl("\(base)/missing.img", in: directory).status == 404)
        }
    }

    /// Issue 18's symlinked directory under the HTTP root: the rule is checked on the resolved path, not only on the
    /// last component, so a link that leaves the root is a 404 while one that stays inside still serves.
    @Test func symlinksLeavingTheHTTPRootAreNotFollowed() async throws {
        let directory = try TemporaryDirectory()
        let httpRoot = try directory.subdirectory("http")
        try directory.write("http/images/lab.img", Data("image bytes".utf8))
        try directory.write("outside/secret.img", Data("outside the root".utf8))
        let links = [("http/leak", directory.path + "/outside"), ("http/boot", "/etc"),
                     ("http/images/passwd.img", "/etc/passwd"), ("http/alias", httpRoot + "/images")]
        for (link, target) in links {
            try FileManager.default.createSymbolicLink(atPath: directory.path + "/" + link,
                                                       withDestinationPath: target)
        }
        try await withBootServer(httpRoot: httpRoot) { port in
            let base = "http://127.0.0.1:\(port)"
            for path in ["/leak/secret.img", "/boot/passwd", "/boot/hostname", "/images/passwd.img"] {
                let fetched = try await Self.curl(base + path, in: directory)
                #expect(fetched.status == 404, "\(path) answered \(fetched.status)")
                let body = String(decoding: fetched.body, as: UTF8.self)
                #expect(!body.contains("outside the root") && !body.contains("root:"), "\(path) leaked \(body)")
            }
            let inside = try await Self.curl(base + "/alias/lab.img", in: directory)
            #expect(inside.status == 200 && inside.body == Array("image bytes".utf8))
        }
    }

    @Test func resumesADownloadWithRangesLikeAnInstaller() async throws {
        let directory = try TemporaryDirectory()
        let httpRoot = try directory.subdirectory("http")
        let image = (0..<1_000_003).map { UInt8(truncatingIfNeeded: ($0 * 2_654_435_761) >> 13) }
        try directory.write("http/images/big.img", Data(image))
        try await withBootServer(httpRoot: httpRoot) { port in
            let curl = try #require(tool("curl"))
            let partial = directory.path + "/partial.img"
            // A first download cut short, then `curl -C -` resumes from the partial file's size.
            try Data(image.prefix(333_333)).write(to: URL(fileURLWithPath: partial))
            let result = await runTool(curl, ["-sS", "--max-time", "10", "-C", "-", "-o", partial,
                                              "http://127.0.0.1:\(port)/images/big.img"], timeout: .seconds(15))
            #expect(result.succeeded, "curl: \(result.output)")
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: partial))) == image)
        }
    }
}
