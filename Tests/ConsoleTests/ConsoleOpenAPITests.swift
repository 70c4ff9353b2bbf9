import Console
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// docs/openapi.yaml and the console agree: every path it documents answers, GETs with 200 and actions with 401
/// when no token is given.
struct ConsoleOpenAPITests {
    /// `(method, path)` for every operation in the document, read from its two-space-indented path keys.
    static func operations() throws -> [(String, String)] {
        let text = try String(contentsOf: Repo.root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        var operations: [(String, String)] = []
        var path: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("  "), !line.hasPrefix("   ") {
                path = nil
            } else if let path, line == "    get:" || line == "    post:" {
                operations.append((String(line.dropFirst(4).dropLast()), path))
            }
        }
        return operations
    }

    @Test func everyDocumentedOperationIsServed() async throws {
        let operations = try Self.operations()
        #expect(operations.count == 11)
        let harness = try await ConsoleHarness.make()
        let tokens = try ConsoleActionTests.tokens()
        try await harness.withClient(tokens: tokens, metrics: .shared) { client in
            for (method, path) in operations {
                let uri = path.replacingOccurrences(of: "{node}", with: "r1n1")
                    .replacingOccurrences(of: "{rack}", with: "r1")
                let answer = try await client.fetch(uri, method: method == "get" ? .get : .post)
                #expect(answer.status == (method == "get" ? 200 : 401), "\(method) \(path): \(answer.status)")
            }
        }
    }
}
