import Drivers
import Logging

extension BMCAddress {
    /// The driver's address of a node's typed BMC endpoint (no text round trip).
    public init(_ endpoint: BMCEndpoint) {
        self.init(scheme: endpoint.scheme.rawValue, host: endpoint.host, port: endpoint.port, path: endpoint.path)
    }
}

extension BMCConfiguration {
    /// What a driver needs to reach a node's BMC: its address and user, the password read now from its reference,
    /// and the time per BMC request and the retries from the site's timeouts; IPMI sessions use `cipherSuites`
    /// (the site's `ipmi.cipherSuites`; numbers the driver does not know are dropped).
    public init(node: Node, timeouts: StepTimeouts, cipherSuites: [Int] = [17, 3]) throws(PowerError) {
        let address = BMCAddress(node.bmc.endpoint.value)
        guard let username = node.bmc.username, let secret = node.bmc.password else {
            throw PowerError(.authenticationFailed, bmc: "\(address)", "no BMC user name or password reference for "
                             + "node '\(node.name)' (node or rack)")
        }
        let password: String
        do {
            password = try secret.resolve()
        } catch {
            throw PowerError(.authenticationFailed, bmc: "\(address)", error.description)
        }
        self.init(address: address, username: username, password: password,
                  insecureSkipVerify: node.bmc.insecureSkipVerify, timeout: timeouts.bmcRequest,
                  retries: timeouts.bmcRetries, cipherSuites: cipherSuites.compactMap(IPMICipherSuite.init(rawValue:)))
    }
}

extension PowerDriverRegistry {
    /// The power-driver factory of a pass: each node's driver from its BMC, with the site's timeouts and IPMI
    /// cipher suites.
    public func factory(timeouts: StepTimeouts, cipherSuites: [Int] = [17, 3], resources: PowerDriverResources,
                        logger: Logger) -> DriverActionPerformer.PowerFactory
    {
        { node in
            try driver(for: BMCConfiguration(node: node, timeouts: timeouts, cipherSuites: cipherSuites),
                       resources: resources, logger: logger)
        }
    }
}
