import Foundation
import RackswarmCore

/// Decodes and checks a `POST /report/{node}` body, saying exactly what is wrong with a bad one.
///
/// The numbers are range-checked here, where they come in, so what reads the store (the console's sums over nodes,
/// its implied image sizes and ETA) never meets one that makes its arithmetic trap.
enum ReportBody {
    /// The most a byte counter (`downloaded`, `uploaded`, `fromSeed`) may say: 256 TiB, 64 times the largest image a
    /// torrent may describe (`Metainfo.Limits.maxLength`). Summed over 32,768 nodes it still fits an Int64.
    static let maxCounter: Int64 = 1 << 48

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
        if let started = report.uploadStartedAtPercent, !(0...100).contains(started) {
            return fail("uploadStartedAtPercent \(started) is not 0…100")
        }
        guard report.downloaded >= 0, report.uploaded >= 0, report.fromSeed >= 0 else {
            return fail("byte counters must not be negative")
        }
        for (field, value) in [("downloaded", report.downloaded), ("uploaded", report.uploaded),
                               ("fromSeed", report.fromSeed)] where value > maxCounter {
            return fail("field '\(field)': \(value) exceeds the limit of \(maxCounter) bytes (ReportBody.maxCounter)")
        }
        if report.phase == .failed, (report.error ?? "").isEmpty {
            return fail("a failed report needs an error")
        }
        return .success(report)
    }
}
