import Foundation
import RackswarmCore

/// Decodes and checks a `POST /report/{node}` body, saying exactly what is wrong with a bad one.
enum ReportBody {
    /// Why a body is not a report, for the 400 answer.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    private static func fail(_ problem: String) -> Result<InstallReport, Problem> {
        .failure(Problem(description: problem))
    }

    static func decode(_ body: [UInt8]) -> Result<InstallReport, Problem> {
        let report: InstallReport
        do {
            report = try JSONDecoder().decode(InstallReport.self, from: Data(body))
        } catch let error as DecodingError {
            switch error {
            case .keyNotFound(let key, _): return fail("missing field '\(key.stringValue)'")
            case .typeMismatch(_, let context), .valueNotFound(_, let context):
                let field = context.codingPath.map(\.stringValue).joined(separator: ".")
                return fail("field '\(field)': \(context.debugDescription)")
            case .dataCorrupted(let context):
                let field = context.codingPath.map(\.stringValue).joined(separator: ".")
                return fail(field.isEmpty ? "not JSON" : "field '\(field)': \(context.debugDescription)")
            @unknown default:
                return fail("\(error)")
            }
        } catch {
            return fail("\(error)")
        }
        guard (0...100).contains(report.percent) else { return fail("percent \(report.percent) is not 0…100") }
        guard report.downloaded >= 0, report.uploaded >= 0, report.fromSeed >= 0 else {
            return fail("byte counters must not be negative")
        }
        if report.phase == .failed, (report.error ?? "").isEmpty {
            return fail("a failed report needs an error")
        }
        return .success(report)
    }
}
