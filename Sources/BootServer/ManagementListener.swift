import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MemberwiseInit
import NIOSSL

/// The management listener (`reconcile apply --console-listen`): the console, its JSON API and `/metrics`, apart
/// from the boot server that faces the PXE network. With a certificate and key (PEM files) it speaks HTTPS only
/// (NIOSSL), so operator tokens never cross plain HTTP; without them, plain HTTP.
public struct ManagementListener: Sendable {
    /// The PEM files of the listener's certificate chain and private key.
    @PublicMemberwiseInit
    public struct TLSFiles: Sendable, Hashable {
        public var certificate: String
        public var privateKey: String
    }

    /// Why the listener cannot start: the file and what is wrong with it.
    public struct SetupError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public var host: String
    public var port: Int
    public var tls: TLSFiles?
    public var limits = ListenerLimits()
    public var logger: Logger
    /// The routes served (the console's, `/metrics`).
    public var routes: [@Sendable (Router<BootRequestContext>) -> Void] = []

    public init(host: String, port: Int, tls: TLSFiles? = nil, logger: Logger) {
        self.host = host
        self.port = port
        self.tls = tls
        self.logger = logger
    }

    /// `https` with TLS, else `http`.
    public var scheme: String { tls == nil ? "http" : "https" }

    /// The server: HTTP/1 with the listener limits, inside TLS when set. Reads and checks the PEM files now, so a
    /// bad certificate or key stops the command before anything is served.
    public func server() throws(SetupError) -> HTTPServerBuilder {
        guard let tls else { return limits.server() }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tls.certificate)
        } catch {
            throw SetupError(description: "\(tls.certificate): not a PEM certificate chain: \(error)")
        }
        guard !chain.isEmpty else { throw SetupError(description: "\(tls.certificate): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
        } catch {
            throw SetupError(description: "\(tls.privateKey): not a PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            return try .tls(limits.server(), tlsConfiguration: configuration)
        } catch {
            throw SetupError(description: "TLS with \(tls.certificate) and \(tls.privateKey): \(error)")
        }
    }

    /// An application serving `routes` on `host:port` (port 0 picks one; `onServerRunning` learns it).
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        throws(SetupError) -> some ApplicationProtocol
    {
        let router = Router(context: BootRequestContext.self)
        router.add(middleware: MetricsMiddleware())
        for add in routes { add(router) }
        return Application(
            router: router, server: try server(),
            configuration: .init(address: .hostname(host, port: port), serverName: "rackswarm-console"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
