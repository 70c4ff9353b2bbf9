import Drivers

extension ServiceDefinition {
    /// The agent's view of a service from the site model: what travels in the request's MESSAGE2.
    public init(_ service: Service) {
        self.init(
            name: service.name,
            software: service.software.map {
                SoftwareEntry(name: $0.name, rpm: $0.rpm, order: $0.order, script: $0.script, process: $0.process)
            },
            repositories: service.repositories.map { RepositoryEntry(name: $0.name, baseurl: $0.baseURL) })
    }
}
