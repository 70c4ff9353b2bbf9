import Drivers
import Foundation
import Hummingbird
import NIOCore

/// `/report/{node}`: the install environment's channel to the reconciler (see `InstallReport`).
/// `GET` → the node's `InstallInstructions`; `POST` an `InstallReport` → 204 once it is recorded.
public struct InstallReportRoutes: Sendable {
    /// The node's instructions, nil for a node the site does not install.
    public var instructions: @Sendable (String) async throws -> InstallInstructions?
    /// Records a report; throws for an unknown node (404) or when it could not be recorded (500).
    public var receive: @Sendable (String, InstallReport) async throws -> Void
    /// Reports are small; anything larger is refused.
    public var maximumBody = 64 << 10

    public init(instructions: @escaping @Sendable (String) async throws -> InstallInstructions?,
                receive: @escaping @Sendable (String, InstallReport) async throws -> Void) {
        self.instructions = instructions
        self.receive = receive
    }

    /// Thrown by `receive` for a node the site does not know: answered 404.
    public struct UnknownNode: Error {
        public init() {}
    }

    func add(to router: Router<BootRequestContext>) {
        router.get("/report/{node}") { _, context in
            let node = try context.parameters.require("node")
            guard let answer = try await instructions(node) else {
                return Self.text(.notFound, "no node named '\(node)' with an image in the site\n")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(answer))))
        }
        router.post("/report/{node}") { request, context in
            let node = try context.parameters.require("node")
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumBody)
            } catch {
                return Self.text(.contentTooLarge, "a report is at most \(maximumBody) bytes\n")
            }
            let report: InstallReport
            do {
                report = try JSONDecoder().decode(InstallReport.self, from: Data(body.readableBytesView))
            } catch {
                return Self.text(.badRequest, "not an install report: \(Self.reason(error))\n")
            }
            guard try await instructions(node) != nil else {
                return Self.text(.notFound, "no node named '\(node)' with an image in the site\n")
            }
            do {
                try await receive(node, report)
            } catch {
                return Self.text(.internalServerError, "report not recorded: \(error)\n")
            }
            return Response(status: .noContent)
        }
    }

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A decoding error in one line: which field and what was wrong.
    static func reason(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: return "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?, .dataCorrupted(let context)?:
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : "field '\(path)': ") + context.debugDescription
        default: return "\(error)"
        }
    }
}
