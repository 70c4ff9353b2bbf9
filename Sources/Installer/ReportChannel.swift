import AsyncHTTPClient
import Drivers
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// The install environment's HTTP side of `rackswarm.report=`: `GET` the instructions, `POST` one report per phase,
/// and fetch the .torrent. Each call retries with exponential backoff and jitter while the server is unreachable
/// or answers 5xx, and gives up after `giveUpAfter`.
public struct ReportChannel: Sendable {
    public var reportURL: String
    public var client: HTTPClient
    public var backoff: RetryPolicy
    public var giveUpAfter: Duration
    public var requestTimeout: Duration
    public var logger: Logger
    /// The install's one-time token (`rackswarm.token=`): sent as `Authorization: Bearer …` to the report URL only.
    public var token: String?
    /// Which server requests go to: the report URL's, then each `rackswarm.fallback=` base in turn.
    let servers: ServerChoice

    public init(reportURL: String, client: HTTPClient, backoff: RetryPolicy = RetryPolicy(base: .milliseconds(200),
                cap: .seconds(5)), giveUpAfter: Duration = .seconds(120), requestTimeout: Duration = .seconds(10),
                token: String? = nil, fallbacks: [String] = [], logger: Logger)
    {
        self.token = token
        self.servers = ServerChoice(primary: ServerChoice.base(of: reportURL), fallbacks: fallbacks)
        self.reportURL = reportURL
        self.client = client
        self.backoff = backoff
        self.giveUpAfter = giveUpAfter
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    /// How one attempt ended.
    enum Attempt: Sendable {
        case answered(status: Int, body: ByteBuffer)
        case unreachable(String)
    }

    /// What a request that gave up saw last.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The last HTTP status, nil when the server never answered.
        public var status: Int?
        public var detail: String
        public var description: String { detail }
    }

    /// `GET` the node's instructions.
    public func instructions() async throws(Failure) -> InstallInstructions {
        let body = try await send(method: .GET, url: reportURL, body: nil, retryNotFound: true, limit: 1 << 20)
        do {
            return try JSONDecoder().decode(InstallInstructions.self, from: Data(body.readableBytesView))
        } catch {
            throw Failure(status: 200, detail: "GET \(reportURL): not install instructions: \(Self.describe(error))")
        }
    }

    /// `POST` one report; returns once the server acknowledged it (2xx).
    public func post(_ report: InstallReport, giveUpAfter: Duration? = nil) async throws(Failure) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(report) } catch {
            throw Failure(status: nil, detail: "cannot encode the report: \(error)")
        }
        _ = try await send(method: .POST, url: reportURL, body: ByteBuffer(bytes: data), retryNotFound: false,
                           limit: 64 << 10, giveUpAfter: giveUpAfter)
    }

    /// `GET` any URL (the .torrent), with the same retries.
    public func fetch(_ url: String, limit: Int) async throws(Failure) -> [UInt8] {
        let body = try await send(method: .GET, url: url, body: nil, retryNotFound: false, limit: limit)
        return Array(body.readableBytesView)
    }

    private func send(method: HTTPMethod, url: String, body: ByteBuffer?, retryNotFound: Bool, limit: Int,
                      giveUpAfter: Duration? = nil) async throws(Failure) -> ByteBuffer
    {
        let clock = ContinuousClock()
        let deadline = clock.now + (giveUpAfter ?? self.giveUpAfter)
        var attempt = 0
        while true {
            attempt += 1
            let url = servers.current(url)
            let outcome = await once(method: method, url: url, body: body, limit: limit)
            let failure: Failure
            switch outcome {
            case .answered(let status, let answer) where (200..<300).contains(status):
                return answer
            case .answered(let status, let answer):
                let text = String(decoding: answer.readableBytesView.prefix(300), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                failure = Failure(status: status, detail: "\(method) \(url): HTTP \(status)"
                                  + (text.isEmpty ? "" : ": \(text)"))
                // A 4xx other than a 404 the caller expects to clear (the server not knowing the node yet) will
                // be the same next time: give up at once.
                let retryable = status >= 500 || status == 429 || status == 408 || (status == 404 && retryNotFound)
                guard retryable else { throw failure }
                // A reconciler that fails the request (its store unreachable, say) may be alone in that: another
                // takes it.
                if status >= 500, let next = servers.moveOn(from: url) {
                    logger.warning("server failed the request; trying the next reconciler", metadata: [
                        "http.url": "\(url)", "error": "\(failure.detail)", "server": "\(next)",
                    ])
                }
            case .unreachable(let reason):
                failure = Failure(status: nil, detail: "\(method) \(url): \(reason)")
                // The reconciler that wrote the entry may be gone: the next one takes the reports from now on.
                if let next = servers.moveOn(from: url) {
                    logger.warning("server unreachable; reporting to the next reconciler", metadata: [
                        "http.url": "\(url)", "error": "\(reason)", "server": "\(next)",
                    ])
                }
            }
            let delay = backoff.delay(beforeRetry: attempt)
            guard clock.now + delay < deadline, !Task.isCancelled else {
                throw Failure(status: failure.status, detail: failure.detail + " (gave up after \(attempt) attempts)")
            }
            logger.info("retrying", metadata: ["http.url": "\(url)", "error": "\(failure.detail)",
                                              "retry.attempt": "\(attempt)"])
            try? await Task.sleep(for: delay)
        }
    }

    private func once(method: HTTPMethod, url: String, body: ByteBuffer?, limit: Int) async -> Attempt {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token, servers.isReportURL(url, reportURL) {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let timeout = TimeAmount.nanoseconds(
            requestTimeout.components.seconds * 1_000_000_000 + requestTimeout.components.attoseconds / 1_000_000_000)
        do {
            let response = try await client.execute(request, timeout: timeout, logger: logger)
            let answer = try await response.body.collect(upTo: limit)
            return .answered(status: Int(response.status.code), body: answer)
        } catch {
            return .unreachable(Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as DecodingError:
            switch error {
            case .keyNotFound(let key, let context):
                return "missing field '\(Self.path(context.codingPath + [key]))'"
            case .typeMismatch(_, let context), .valueNotFound(_, let context):
                return "wrong type at '\(Self.path(context.codingPath))': \(context.debugDescription)"
            case .dataCorrupted(let context):
                let underlying = context.underlyingError.map { ": \($0.localizedDescription)" } ?? ""
                return "invalid JSON at '\(Self.path(context.codingPath))': \(context.debugDescription)\(underlying)"
            @unknown default:
                return "\(error)"
            }
        case let error as HTTPClientError:
            return "\(error)"
        default:
            return "\(error)"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "." : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

/// The server an install's requests go to: the one its entry names, then, once that one stops answering, each
/// fallback in turn (`rackswarm.fallback=`), staying with the one that answers. Shared by the copies of a channel.
final class ServerChoice: Sendable {
    /// `http://HOST:PORT` bases, the entry's first.
    let bases: [String]
    private let index = Mutex(0)

    init(primary: String, fallbacks: [String]) {
        var bases = [primary]
        for base in fallbacks.map(Self.base(of:)) where !bases.contains(base) { bases.append(base) }
        self.bases = bases
    }

    /// `http://HOST:PORT` of a URL: everything before its path.
    static func base(of url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        return String(url[..<(rest.firstIndex(of: "/") ?? url.endIndex)])
    }

    /// `url` sent to the server in use now, when it is on one of the bases; any other URL as it is.
    func current(_ url: String) -> String {
        let base = Self.base(of: url)
        guard bases.count > 1, bases.contains(base) else { return url }
        return bases[index.withLock { $0 }] + url.dropFirst(base.count)
    }

    /// After `url` could not be reached: the next base, if `url` was on the one in use (a request that raced
    /// another's move does not move twice); nil with no fallback.
    func moveOn(from url: String) -> String? {
        guard bases.count > 1 else { return nil }
        let base = Self.base(of: url)
        return index.withLock { index in
            if bases[index] == base { index = (index + 1) % bases.count }
            return bases[index]
        }
    }

    /// True for the report URL on any of the bases: the token goes there, and nowhere else.
    func isReportURL(_ url: String, _ reportURL: String) -> Bool {
        let path = reportURL.dropFirst(Self.base(of: reportURL).count)
        return bases.contains { $0 + path == url }
    }
}
