import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Fetches an image's `url:` once into a local file: resumable (a `.part` file and an HTTP `Range` request), with
/// a progress line every few seconds, and the whole file's SHA-256 checked before the file takes its final name.
///
/// `http://` and `https://` go through AsyncHTTPClient (redirects followed); `file://` is copied. A server that
/// ignores the range (answers 200) gets the download started over; one that answers 416 to a range starting at
/// the end of the `.part` file means the part is already whole.
public struct ImageDownload: Sendable {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public enum Code: Sendable, Hashable {
            /// The URL could not be read (network, status, local file); a later pass may succeed.
            case unreachable
            /// The bytes arrived but their SHA-256 is not the expected one.
            case sha256Mismatch
        }

        public var code: Code
        public var description: String
        /// For `sha256Mismatch`: the SHA-256 the downloaded bytes have.
        public var got: String?
    }

    public var url: String
    /// The final file; the download goes to `destination + ".part"` until it is whole and verified.
    public var destination: String
    /// Lower-case hex SHA-256 the whole file must have.
    public var sha256: String
    public var progressInterval: Duration

    public init(url: String, destination: String, sha256: String, progressInterval: Duration = .seconds(2)) {
        self.url = url
        self.destination = destination
        self.sha256 = sha256.lowercased()
        self.progressInterval = progressInterval
    }

    /// Bytes already on disk from an earlier, interrupted download.
    public var partialBytes: Int64 { Self.size(of: destination + ".part") ?? 0 }

    /// Downloads (resuming), verifies and renames into place; returns how many bytes this call transferred.
    /// On a SHA-256 mismatch the bad bytes are kept at `destination + ".bad"` for inspection, and the `.part` file
    /// is removed, so the next call downloads again from the start.
    @discardableResult
    public func run(logger: Logger) async throws(Failure) -> Int64 {
        let part = destination + ".part"
        let transferred: Int64
        if url.hasPrefix("file://") {
            transferred = try copyLocal(String(url.dropFirst("file://".count)), to: part, logger: logger)
        } else {
            transferred = try await fetch(to: part, logger: logger)
        }
        let got: String
        do {
            got = try FileDigest.sha256(path: part)
        } catch {
            throw Failure(code: .unreachable, description: "cannot read the download \(part): \(error)")
        }
        guard got == sha256 else {
            _ = rename(part, destination + ".bad")
            throw Failure(code: .sha256Mismatch, description: "\(url) has SHA-256 \(got), want \(sha256)", got: got)
        }
        guard rename(part, destination) == 0 else {
            throw Failure(code: .unreachable, description: "cannot rename \(part): \(String(cString: strerror(errno)))")
        }
        return transferred
    }

    private func fetch(to part: String, logger: Logger) async throws(Failure) -> Int64 {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let transferred = try await fetch(to: part, client: client, logger: logger)
            try? await client.shutdown()
            return transferred
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func fetch(to part: String, client: HTTPClient, logger: Logger) async throws(Failure) -> Int64 {
        let offset = partialBytes
        var request = HTTPClientRequest(url: url)
        if offset > 0 { request.headers.add(name: "Range", value: "bytes=\(offset)-") }
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let start: Int64
            let total: Int64?
            switch response.status.code {
            case 206:
                start = offset
                total = Self.rangeTotal(response.headers.first(name: "Content-Range"))
            case 200:
                start = 0
                total = response.headers.first(name: "Content-Length").flatMap { Int64($0) }
            case 416 where offset > 0:
                // Nothing after the end of the part file: it is whole (the SHA-256 decides).
                return 0
            default:
                throw Failure(code: .unreachable, description: "\(url) answered HTTP \(response.status.code)")
            }
            let output = try Self.open(part, truncateAt: start)
            defer { try? output.close() }
            var written = start
            var transferred: Int64 = 0
            let progress = Progress(url: url, total: total, interval: progressInterval, logger: logger)
            progress.started(at: start)
            for try await buffer in response.body {
                try output.write(contentsOf: Data(buffer.readableBytesView))
                written += Int64(buffer.readableBytes)
                transferred += Int64(buffer.readableBytes)
                progress.update(written)
            }
            try output.synchronize()
            progress.finished(written)
            return transferred
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(code: .unreachable, description: "cannot download \(url): \(error)")
        }
    }

    private func copyLocal(_ source: String, to part: String, logger: Logger) throws(Failure) -> Int64 {
        let offset = partialBytes
        do {
            let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: source))
            defer { try? input.close() }
            let total = Self.size(of: source)
            let start = offset <= (total ?? 0) ? offset : 0
            try input.seek(toOffset: UInt64(start))
            let output = try Self.open(part, truncateAt: start)
            defer { try? output.close() }
            let progress = Progress(url: url, total: total, interval: progressInterval, logger: logger)
            progress.started(at: start)
            var written = start
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                try output.write(contentsOf: chunk)
                written += Int64(chunk.count)
                progress.update(written)
            }
            try output.synchronize()
            progress.finished(written)
            return written - start
        } catch {
            throw Failure(code: .unreachable, description: "cannot copy \(url): \(error.localizedDescription)")
        }
    }

    /// The part file, created if missing, cut at `offset` and positioned there.
    private static func open(_ path: String, truncateAt offset: Int64) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw Failure(code: .unreachable, description: "cannot create \(path)")
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(offset))
        try handle.seek(toOffset: UInt64(offset))
        return handle
    }

    static func size(of path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// The total of `Content-Range: bytes a-b/total`; nil when absent or `*`.
    static func rangeTotal(_ header: String?) -> Int64? {
        guard let header, let slash = header.lastIndex(of: "/") else { return nil }
        return Int64(header[header.index(after: slash)...])
    }

    /// The progress line: at the start, every `interval`, and at the end.
    private final class Progress {
        let url: String
        let total: Int64?
        let interval: Duration
        let logger: Logger
        private var last = ContinuousClock.now
        private var startedAt: Int64 = 0

        init(url: String, total: Int64?, interval: Duration, logger: Logger) {
            self.url = url
            self.total = total
            self.interval = interval
            self.logger = logger
        }

        func started(at offset: Int64) {
            startedAt = offset
            logger.info("image download started", metadata: [
                "image.url": "\(url)", "download.resumedAt": "\(offset)", "download.total": "\(total ?? -1)"])
        }

        func update(_ written: Int64) {
            let now = ContinuousClock.now
            guard now - last >= interval else { return }
            last = now
            logger.info("image downloading", metadata: [
                "image.url": "\(url)", "download.bytes": "\(written)", "download.percent": "\(percent(written))"])
        }

        func finished(_ written: Int64) {
            logger.info("image downloaded", metadata: [
                "image.url": "\(url)", "download.bytes": "\(written)", "download.thisRun": "\(written - startedAt)"])
        }

        private func percent(_ written: Int64) -> String {
            guard let total, total > 0 else { return "?" }
            return String(format: "%.1f", Double(written) * 100 / Double(total))
        }
    }
}
