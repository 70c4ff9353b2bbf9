import AsyncHTTPClient
import Logging
import NIOPosix

/// Picks a power driver by the BMC URL's scheme (metal3 `RegisterFactory`).
///
/// The standard registry has one driver for each `BMCScheme` (`ipmi`, `redfish+https`, `redfish+http`, `ilo`), the
/// schemes the site loader and the schema accept. An unknown scheme is an `unknownScheme` error.
public struct PowerDriverRegistry: Sendable {
    /// Makes a driver for one BMC from shared resources.
    public typealias Factory = @Sendable (BMCConfiguration, PowerDriverResources, Logger) -> any PowerDriver

    private var factories: [String: Factory] = [:]

    public init() {}

    /// The registry with every driver of this package: one per `BMCScheme`.
    public static let standard: PowerDriverRegistry = {
        var registry = PowerDriverRegistry()
        for scheme in BMCScheme.allCases {
            registry.register(scheme.rawValue) { configuration, resources, logger in
                switch scheme {
                case .ipmi:
                    IPMIClient(configuration: configuration, transport: resources.ipmiTransport, logger: logger)
                case .redfishHTTPS, .redfishHTTP:
                    RedfishClient(configuration: configuration, flavor: .generic, httpClient: resources.httpClient,
                                  logger: logger)
                case .ilo:
                    RedfishClient(configuration: configuration, flavor: .ilo, httpClient: resources.httpClient,
                                  logger: logger)
                }
            }
        }
        return registry
    }()

    /// Adds or replaces the factory for a scheme.
    public mutating func register(_ scheme: String, factory: @escaping Factory) {
        factories[scheme.lowercased()] = factory
    }

    /// The schemes with a driver, sorted, for diagnostics ("expected one of ...").
    public var schemes: [String] { factories.keys.sorted() }

    /// True when a driver handles this scheme.
    public func supports(scheme: String) -> Bool { factories[scheme.lowercased()] != nil }

    /// Makes the driver for a BMC, or throws `unknownScheme`.
    public func driver(for configuration: BMCConfiguration, resources: PowerDriverResources, logger: Logger)
        throws(PowerError) -> any PowerDriver
    {
        guard let factory = factories[configuration.address.scheme] else {
            throw PowerError(
                .unknownScheme, bmc: "\(configuration.address)",
                "unknown power driver '\(configuration.address.scheme)'; expected one of "
                    + schemes.joined(separator: ", "))
        }
        return factory(configuration, resources, logger)
    }
}

/// The connections every driver of a process shares: one UDP socket for IPMI, one HTTP client for Redfish
/// (AsyncHTTPClient's process-wide shared client, which follows up to 5 redirects and needs no shutdown).
/// Call `shutdown()` once when done.
public final class PowerDriverResources: Sendable {
    public let ipmiTransport: IPMITransport
    private let givenHTTPClient: HTTPClient?

    /// Uses `httpClient` for Redfish, or AsyncHTTPClient's shared client (made on first Redfish use) if nil.
    public init(httpClient: HTTPClient? = nil) {
        ipmiTransport = IPMITransport(group: MultiThreadedEventLoopGroup.singleton)
        givenHTTPClient = httpClient
    }

    /// Where driver calls run best: the IPMI socket's event loop (Redfish calls are fine there too).
    public var executor: any TaskExecutor { ipmiTransport.executor }

    /// The HTTP client Redfish drivers use.
    public var httpClient: HTTPClient { givenHTTPClient ?? .shared }

    /// Closes the IPMI socket. The HTTP client belongs to whoever made it.
    public func shutdown() async {
        await ipmiTransport.shutdown()
    }
}
