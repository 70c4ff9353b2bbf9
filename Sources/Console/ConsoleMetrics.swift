import CBuildInfo
import CoreMetrics
import Prometheus
import Reconciler
import Synchronization
import ReconcilerMetrics

/// The Prometheus registry behind `/metrics`.
///
/// `shared` bootstraps swift-metrics with it the first time it is used, so `ReconcilerMetrics` counters and
/// timers land here; a process may bootstrap swift-metrics only once, so use `shared` and nothing else. Gauges of
/// nodes per phase are set from the state store at each scrape.
public final class ConsoleMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// The process-wide registry, bootstrapped into swift-metrics on first use.
    public static let shared: ConsoleMetrics = {
        let metrics = ConsoleMetrics(registry: PrometheusCollectorRegistry())
        var factory = PrometheusMetricsFactory(registry: metrics.registry)
        factory.nameAndLabelSanitizer = { name, labels in (ConsoleMetrics.prometheusName(name), labels) }
        factory.durationHistogramBuckets[ReconcilerMetrics.Name.passDuration] = [
            .seconds(1), .seconds(5), .seconds(15), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
            .seconds(600), .seconds(1800), .seconds(3600),
        ]
        MetricsSystem.bootstrap(factory)
        // Present from the first scrape, at zero.
        _ = Counter(label: ReconcilerMetrics.Name.seedBytes)
        _ = Counter(label: ReconcilerMetrics.Name.peerBytes)
        _ = Timer(label: ReconcilerMetrics.Name.passDuration)
        metrics.registry.makeGauge(descriptor: buildInfo, labels: [
            ("version", String(cString: rackswarm_build_version())),
            ("commit", String(cString: rackswarm_build_commit())),
        ]).set(to: 1)
        return metrics
    }()

    /// Hummingbird's request metrics (boot server, console, API) under Prometheus's conventions: the unit and
    /// `_total` in the name, under rackswarm's prefix. Any other dotted name gets underscores.
    static func prometheusName(_ name: String) -> String {
        switch name {
        case "hb.requests": "rackswarm_http_requests_total"
        case "hb.request.errors": "rackswarm_http_request_errors_total"
        case "http.server.request.duration": "rackswarm_http_request_duration_seconds"
        case "http.server.active_requests": "rackswarm_http_active_requests"
        default: String(name.map { $0 == "." ? "_" : $0 })
        }
    }

    static var nodes: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rackswarm", metricName: "nodes", unitName: "",
                             helpText: "Nodes of the site per phase")
    }

    /// `rackswarm_build_info{version,commit} 1`, the usual way to put a build's identity on a dashboard.
    static var buildInfo: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rackswarm", metricName: "build_info", unitName: "",
                             helpText: "The running build: version and git commit")
    }

    static var suspended: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rackswarm", subsystem: "suspended", metricName: "racks", unitName: "",
                             helpText: "Racks suspended by an operator")
    }

    /// `rackswarm_rack_lease{rack,holder,server} 1`: which reconciler holds each rack and the address it serves the
    /// rack's nodes at (both "" while nobody holds it).
    static var rackLease: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rackswarm", subsystem: "rack", metricName: "lease", unitName: "",
                             helpText: "Which reconciler holds each rack's lease (shared PostgreSQL store)")
    }

    /// One rack-lease series' labels but the rack: its holder and the holder's advertised address.
    struct LeaseLabels: Sendable, Hashable {
        var holder: String
        var server: String
    }

    /// The rack-lease series of the last scrape, so that a rack that changed hands loses its old series.
    private let leaseSeries = Mutex<[String: LeaseLabels]>([:])

    private init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Sets the per-phase node gauges, the suspended-rack gauge and, on a shared store, one rack-lease series per
    /// rack (`leases`: rack to holder and address), then renders the text exposition format.
    func scrape(phases: [NodeActivity.Phase: Int], suspendedRacks: Int, leases: [String: LeaseLabels]? = nil)
        -> String
    {
        if let leases {
            func gauge(_ rack: String, _ labels: LeaseLabels) -> Prometheus.Gauge {
                registry.makeGauge(descriptor: Self.rackLease,
                                   labels: [("rack", rack), ("holder", labels.holder), ("server", labels.server)])
            }
            leaseSeries.withLock { previous in
                for (rack, labels) in previous where leases[rack] != labels {
                    registry.unregisterGauge(gauge(rack, labels))
                }
                for (rack, labels) in leases { gauge(rack, labels).set(Double(1)) }
                previous = leases
            }
        }
        for phase in NodeActivity.Phase.allCases {
            registry.makeGauge(descriptor: Self.nodes, labels: [("phase", phase.rawValue)])
                .set(Double(phases[phase] ?? 0))
        }
        registry.makeGauge(descriptor: Self.suspended).set(Double(suspendedRacks))
        return registry.emitToString()
    }
}
