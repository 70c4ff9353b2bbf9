import AsyncHTTPClient
import BootServer
import Drivers
import Foundation
import LabSupport
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// `GET|POST /report/{node}` on the boot server, with closures that record: 200 JSON / 404 for instructions;
/// 204 only after the closure returned, 400 with the exact problem, 404 unknown node, 500 when the closure threw,
/// 413 for an oversized body.
struct ReportRouteTests {
    struct Broken: Error, CustomStringConvertible {
        var description: String { "the state store is read-only" }
    }

    actor Log {
        var entries: [(String, InstallReport)] = []
        func add(_ node: String, _ report: InstallReport) { entries.append((node, report)) }
    }

    static let instructions = InstallInstructions(
        node: "n1", rack: "r1", image: "centos-7@7.9", sha256: String(repeating: "c", count: 64),
        postInstall: [.init(name: "hostname", run: "echo n1 > etc/hostname")])

    func withRoute<T: Sendable>(_ log: Log, _ body: @Sendable (HTTPClient, String) async throws -> T) async throws
        -> T
    {
        let directory = try TemporaryDirectory()
        let server = BootHTTPServer(
            httpRoot: directory.path, logger: Logger(label: "test.report"),
            instructions: { node in node == "n1" ? Self.instructions : nil },
            onReport: { node, report in
                switch node {
                case "n1":
                    try await Task.sleep(for: .milliseconds(50))
                    await log.add(node, report)
                case "broken": throw Broken()
                default: throw BootHTTPServer.ReportRejection.unknownNode
                }
            })
        return try await withBootServer(server) { port in
            try await withHTTPClient { client in try await body(client, "http://127.0.0.1:\(port)/report") }
        }
    }

    static func send(_ client: HTTPClient, _ url: String, post body: String? = nil) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: url)
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: bytes))
    }

    @Test func getAnswersInstructionsOrNotFound() async throws {
        try await withRoute(Log()) { client, base in
            let (status, body) = try await Self.send(client, base + "/n1")
            #expect(status == 200)
            #expect(try JSONDecoder().decode(InstallInstructions.self, from: Data(body.utf8)) == Self.instructions)
            let (unknown, message) = try await Self.send(client, base + "/nobody")
            #expect(unknown == 404 && message == "unknown node 'nobody'\n")
        }
    }

    @Test func postRecordsBeforeAnswering() async throws {
        let log = Log()
        let report = InstallReport(phase: .downloading, image: "centos-7@7.9", percent: 42.5, downloaded: 1000,
                                   uploaded: 10, fromSeed: 900, uploadStartedAtPercent: 30)
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        try await withRoute(log) { client, base in
            let (status, _) = try await Self.send(client, base + "/n1", post: json)
            #expect(status == 204)
            // The answer came after the closure's 50 ms sleep and record: the report is there already.
            #expect(await log.entries.count == 1)
        }
        #expect(await log.entries.first?.0 == "n1")
        #expect(await log.entries.first?.1 == report)
    }

    @Test(arguments: [
        (#"{"phase":"booted"}"#, "not an install report: missing field 'image'\n"),
        (#"{"phase":"asleep","image":"i","percent":0,"downloaded":0,"uploaded":0,"fromSeed":0}"#,
         "not an install report: field 'phase': Cannot initialize Phase from invalid String value asleep\n"),
        ("phase=booted", "not an install report: not JSON\n"),
        (#"{"phase":"booted","image":"i","percent":140,"downloaded":0,"uploaded":0,"fromSeed":0}"#,
         "not an install report: percent 140.0 is not 0…100\n"),
        (#"{"phase":"failed","image":"i","percent":0,"downloaded":0,"uploaded":0,"fromSeed":0}"#,
         "not an install report: a failed report needs an error\n"),
        // Counters the console sums over nodes: one past the limit, and the extreme a node could send.
        (#"{"phase":"booted","image":"i","percent":1,"downloaded":281474976710657,"uploaded":0,"fromSeed":0}"#,
         "not an install report: field 'downloaded': 281474976710657 exceeds the limit of 281474976710656 bytes "
            + "(ReportBody.maxCounter)\n"),
        (#"{"phase":"booted","image":"i","percent":1,"downloaded":0,"uploaded":9223372036854775807,"fromSeed":0}"#,
         "not an install report: field 'uploaded': 9223372036854775807 exceeds the limit of 281474976710656 bytes "
            + "(ReportBody.maxCounter)\n"),
        (#"{"phase":"booted","image":"i","percent":1,"downloaded":0,"uploaded":0,"fromSeed":0,"#
            + #""uploadStartedAtPercent":250}"#,
         "not an install report: uploadStartedAtPercent 250.0 is not 0…100\n"),
    ])
    func badBodiesAreRefusedWithTheirProblem(body: String, message: String) async throws {
        let log = Log()
        try await withRoute(log) { client, base in
            let (status, answer) = try await Self.send(client, base + "/n1", post: body)
            #expect(status == 400)
            #expect(answer == message)
        }
        #expect(await log.entries.isEmpty)
    }

    @Test func unknownNodesBrokenStoresAndHugeBodies() async throws {
        let report = String(decoding: try JSONEncoder().encode(InstallReport(phase: .booted, image: "i")),
                            as: UTF8.self)
        try await withRoute(Log()) { client, base in
            let (unknown, unknownMessage) = try await Self.send(client, base + "/nobody", post: report)
            #expect(unknown == 404 && unknownMessage == "unknown node 'nobody'\n")
            let (broken, brokenMessage) = try await Self.send(client, base + "/broken", post: report)
            #expect(broken == 500 && brokenMessage == "report not recorded: the state store is read-only\n")
            let huge = "{\"image\":\"" + String(repeating: "x", count: BootHTTPServer.maxReportBytes) + "\"}"
            let (tooLarge, _) = try await Self.send(client, base + "/n1", post: huge)
            #expect(tooLarge == 413)
        }
    }
}
