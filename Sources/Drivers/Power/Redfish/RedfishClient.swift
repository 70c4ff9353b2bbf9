import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A Redfish power driver (`redfish+https://`, `redfish+http://`, `ilo://`) over AsyncHTTPClient, with HTTP basic
/// authentication. TLS certificates are verified unless the node opts out (`insecureSkipVerify`).
public struct RedfishClient: PowerDriver {
    /// Vendor defaults chosen by URL scheme.
    public enum Flavor: Sendable {
        /// Any Redfish BMC: the system is named in the URL path or is the only member of `/redfish/v1/Systems`.
        case generic
        /// HPE iLO 4/5/6: HTTPS, system `/redfish/v1/Systems/1/`, no `PowerCycle` (a cycle is `ForceRestart`).
        case ilo
    }

    public let configuration: BMCConfiguration
    private let flavor: Flavor
    private let httpClient: HTTPClient
    private let logger: Logger
    private let retry: RetryPolicy

    public init(
        configuration: BMCConfiguration, flavor: Flavor, httpClient: HTTPClient, logger: Logger,
        retry: RetryPolicy? = nil
    ) {
        self.configuration = configuration
        self.flavor = flavor
        self.httpClient = httpClient
        self.logger = configuration.labelling(logger)
        self.retry = retry ?? RetryPolicy(retries: configuration.retries)
    }

    public func powerState() async throws(PowerError) -> PowerState {
        let system = try await retry.run { () throws(PowerError) in try await fetchSystem() }
        switch system.powerState {
        case "On": return .on
        case "Off": return .off
        case "PoweringOn", "PoweringOff": return .transitioning
        case let other: throw error(.protocolViolation, "unknown PowerState \(other.map { "'\($0)'" } ?? "(none)")")
        }
    }

    /// How long a `ComputerSystem.Reset` may take to be answered. A BMC may answer only once the change is made:
    /// sushy-emulator's libvirt driver destroys and starts the domain before it answers `ForceRestart` (1–5 s for a
    /// TCG guest on a loaded host), and real BMCs take seconds too. A read's timeout (`timeouts.bmcRequest`, 1 s)
    /// would give up on a Reset still under way.
    static let resetTimeout: Duration = .seconds(60)

    /// Sends one `ComputerSystem.Reset` for `action`, chosen for the power state the BMC reports.
    ///
    /// A Reset is sent again only after an answer (an HTTP error: the BMC is done with it), never after a timeout
    /// or a lost connection, when it may still be under way: a second Reset overlapping the first breaks both on
    /// sushy's libvirt driver (its destroy kills the first one's new domain, "qemu unexpectedly closed the monitor",
    /// or finds it already gone, "domain is not running": HTTP 500) and restarts a real server twice. Such a failure
    /// is left to the executor, which looks at the power state again after a while. An answered failure (HTTP 5xx)
    /// is retried, the system read again first.
    public func setPower(_ action: PowerAction) async throws(PowerError) {
        try await retry.run { () throws(PowerError) in
            // Read again before each try: a failed restart may have left the system off.
            let system = try await fetchSystem()
            let resetType = try Self.resetType(
                for: action, powerState: system.powerState, allowed: system.allowedResetTypes, flavor: flavor)
            let target = system.resetTarget ?? system.path + "/Actions/ComputerSystem.Reset"
            _ = try await send(
                .POST, path: target, body: ["ResetType": resetType],
                timeout: max(configuration.timeout, Self.resetTimeout), unanswered: .waiting(retryAfter: .seconds(10)))
        }
    }

    public func setBootDevice(_ device: BootDevice, persistence: BootPersistence) async throws(PowerError) {
        let system = try await retry.run { () throws(PowerError) in try await fetchSystem() }
        let target =
            switch device {
            case .pxe: "Pxe"
            case .disk: "Hdd"
            }
        let enabled =
            switch persistence {
            case .once: "Once"
            case .persistent: "Continuous"
            }
        try await retry.run { () throws(PowerError) in
            _ = try await send(
                .PATCH, path: system.path,
                body: ["Boot": ["BootSourceOverrideTarget": target, "BootSourceOverrideEnabled": enabled]])
        }
    }

    /// Reads the boot override back: the target (`Pxe`, `Hdd`, `None`) and whether it is enabled.
    public func bootOverride() async throws(PowerError) -> (target: String?, enabled: String?) {
        let system = try await retry.run { () throws(PowerError) in try await fetchSystem() }
        return (system.bootTarget, system.bootEnabled)
    }

    /// Picks the Redfish ResetType for an action among those the BMC allows (all, if it does not say). A cycle or
    /// reset of a system that reads `Off` powers it on: a restart of a stopped system is ignored by some BMCs
    /// (sushy's libvirt driver answers 204 to `ForceRestart` on a shut-off domain and leaves it off) and refused by
    /// others.
    static func resetType(for action: PowerAction, powerState: String? = nil, allowed: [String]?, flavor: Flavor)
        throws(PowerError) -> String
    {
        let restartsAStoppedSystem = powerState == "Off" && (action == .cycle || action == .reset)
        let preferences: [String] =
            switch restartsAStoppedSystem ? .on : action {
            case .on: ["On", "ForceOn"]
            case .off: ["ForceOff"]
            case .softOff: ["GracefulShutdown"]
            case .reset: ["ForceRestart"]
            case .cycle: flavor == .ilo ? ["ForceRestart"] : ["PowerCycle", "ForceRestart"]
            }
        guard let allowed else { return preferences[0] }
        guard let choice = preferences.first(where: allowed.contains) else {
            throw PowerError(
                .unsupported, bmc: "redfish", "the BMC allows no ResetType for \(action.rawValue) (allows \(allowed))")
        }
        return choice
    }

    // MARK: HTTP

    /// The parts of a ComputerSystem resource the driver uses.
    private struct System: Sendable {
        let path: String
        let powerState: String?
        let allowedResetTypes: [String]?
        let resetTarget: String?
        let bootTarget: String?
        let bootEnabled: String?

        init(path: String, json: [String: Any]) {
            self.path = (json["@odata.id"] as? String) ?? path
            powerState = json["PowerState"] as? String
            let reset = (json["Actions"] as? [String: Any])?["#ComputerSystem.Reset"] as? [String: Any]
            allowedResetTypes = reset?["ResetType@Redfish.AllowableValues"] as? [String]
            resetTarget = reset?["target"] as? String
            let boot = json["Boot"] as? [String: Any]
            bootTarget = boot?["BootSourceOverrideTarget"] as? String
            bootEnabled = boot?["BootSourceOverrideEnabled"] as? String
        }
    }

    /// The ComputerSystem this client drives, with its current representation.
    private func fetchSystem() async throws(PowerError) -> System {
        var path = configuration.address.path
        while path.hasSuffix("/") && path.count > 1 { path.removeLast() }
        if path.isEmpty || path == "/" {
            if flavor == .ilo {
                path = "/redfish/v1/Systems/1"
            } else {
                let collection = try await send(.GET, path: "/redfish/v1/Systems")
                let members = (collection?["Members"] as? [[String: Any]])?.compactMap { $0["@odata.id"] as? String }
                guard let members, members.count == 1 else {
                    throw error(
                        .invalidAddress,
                        "the BMC has \(members?.count ?? 0) systems; name one in the URL path (/redfish/v1/Systems/ID)")
                }
                path = members[0]
            }
        }
        guard let json = try await send(.GET, path: path) else {
            throw error(.protocolViolation, "empty ComputerSystem at \(path)")
        }
        return System(path: path, json: json)
    }

    /// Sends one request; returns the JSON body (nil when empty) or throws a classified error. `timeout` replaces
    /// the site's request timeout; `unanswered` replaces the intent of a failure without an answer (a timeout, a
    /// lost connection), for a request that must not be sent again at once.
    private func send(
        _ method: HTTPMethod, path: String, body: [String: Any]? = nil, timeout: Duration? = nil,
        unanswered: ErrorIntent? = nil
    ) async throws(PowerError) -> [String: Any]? {
        let address = configuration.address
        let httpScheme = address.scheme == "redfish+http" ? "http" : "https"
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        let port = address.port.map { ":\($0)" } ?? ""
        var request = HTTPClientRequest(url: "\(httpScheme)://\(host)\(port)\(path)")
        request.method = method
        let credentials = Data("\(configuration.username):\(configuration.password)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            guard let data = try? JSONSerialization.data(withJSONObject: body) else {
                throw error(.protocolViolation, "cannot encode request body")
            }
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        if configuration.insecureSkipVerify {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            request.tlsConfiguration = tls
        }
        let limit = timeout ?? configuration.timeout
        let deadline = TimeAmount.nanoseconds(
            limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000)
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: deadline, logger: logger)
            bytes = try await response.body.collect(upTo: 4 << 20)
        } catch let error as NIOSSLError {
            // An untrusted certificate will not fix itself: a human must install the CA or opt the node out.
            throw PowerError(
                .unreachable, bmc: "\(address)",
                "\(method) \(path): TLS handshake failed (\(error)); trust the BMC's CA, or set insecureSkipVerify "
                    + "for a self-signed BMC", intent: .stalled)
        } catch {
            let detail = "\(method) \(path): \(Self.describeTransportError(error))"
            guard let unanswered else { throw self.error(.unreachable, detail) }
            throw PowerError(
                .unreachable, bmc: "\(address)",
                detail + " (no answer: it may still be under way, so it is not sent again now)", intent: unanswered)
        }
        let data = Data(bytes.readableBytesView)
        let json = data.isEmpty ? nil : (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        logger.debug(
            "redfish request",
            metadata: ["http.method": "\(method)", "http.path": "\(path)", "http.status": "\(response.status.code)"])
        if (200..<300).contains(response.status.code) { return json }
        let message = Self.redfishMessage(json) ?? response.status.reasonPhrase
        let detail = "\(method) \(path): HTTP \(response.status.code): \(message)"
        switch response.status.code {
        case 401: throw error(.authenticationFailed, detail)
        case 403: throw error(.insufficientPrivilege, detail)
        case 404: throw error(.invalidAddress, detail)
        case 405, 501: throw error(.unsupported, detail)
        case 429, 503:
            let seconds = response.headers.first(name: "Retry-After").flatMap { Int($0) } ?? 5
            throw PowerError(.busy, bmc: "\(address)", detail, intent: .waiting(retryAfter: .seconds(seconds)))
        case 400..<500: throw PowerError(.bmcError, bmc: "\(address)", detail, intent: .stalled)
        default: throw error(.bmcError, detail)
        }
    }

    /// The message of a Redfish error body (`error.message` or its first extended info).
    static func redfishMessage(_ json: [String: Any]?) -> String? {
        guard let error = json?["error"] as? [String: Any] else { return nil }
        if let info = error["@Message.ExtendedInfo"] as? [[String: Any]],
            let message = info.first?["Message"] as? String
        {
            return message
        }
        return error["message"] as? String
    }

    private static func describeTransportError(_ error: any Error) -> String {
        if let client = error as? HTTPClientError { return "\(client)" }
        return String(describing: error)
    }

    private func error(_ code: PowerError.Code, _ detail: String) -> PowerError {
        PowerError(code, bmc: "\(configuration.address)", detail)
    }
}
