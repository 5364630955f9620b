import Prometheus
import Gossip
import GossipNIO

/// The node's Prometheus metrics (`GET /metrics`). Counters are bumped where things
/// happen; gossip figures are read from the gossip node at scrape time. Labels carry
/// codes and node-level facts only — never a tenant, meeting or participant.
final class NodeMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let logAppends: Counter
    let peerRequestsRefused: Counter
    let meetingsHeld: Gauge
    private let membersAlive: Gauge
    private let membersSuspect: Gauge
    private let membersDead: Gauge
    private let packetsOpened: Gauge
    private let packetsDroppedAuth: Gauge
    private let packetsDroppedMalformed: Gauge
    private let packetsDroppedReplay: Gauge
    private let packetsDroppedStale: Gauge

    init() {
        logAppends = registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "transparency_appends", unitName: "total", helpText: "Entries this node appended to its transparency log"))
        peerRequestsRefused = registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "peer_requests_refused", unitName: "total", helpText: "Node-to-node requests refused (unknown node, bad signature, stale, replayed)"))
        meetingsHeld = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "meetings_active", unitName: "", helpText: "Active meetings this node serves or holds in its directory"))
        membersAlive = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_members", unitName: "", helpText: "Gossip members by status"), labels: [("status", "alive")])
        membersSuspect = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_members", unitName: "", helpText: "Gossip members by status"), labels: [("status", "suspect")])
        membersDead = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_members", unitName: "", helpText: "Gossip members by status"), labels: [("status", "dead")])
        packetsOpened = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_opened", unitName: "", helpText: "Gossip packets authenticated and decoded since start"))
        packetsDroppedAuth = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_dropped", unitName: "", helpText: "Gossip packets dropped since start"), labels: [("reason", "authentication")])
        packetsDroppedMalformed = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_dropped", unitName: "", helpText: "Gossip packets dropped since start"), labels: [("reason", "malformed")])
        packetsDroppedReplay = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_dropped", unitName: "", helpText: "Gossip packets dropped since start"), labels: [("reason", "replayed")])
        packetsDroppedStale = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_dropped", unitName: "", helpText: "Gossip packets dropped since start"), labels: [("reason", "stale")])
    }

    func placements(result: String) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "placements", unitName: "total", helpText: "Placement decisions by result (placed, or the error code)"), labels: [("result", result)])
    }

    func refusals(reason: String) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "refusals", unitName: "total", helpText: "Meetings this node refused to serve, by reason"), labels: [("reason", reason)])
    }

    func failovers(result: String) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "failovers", unitName: "total", helpText: "Re-placements after nodes failed or drained"), labels: [("result", result)])
    }

    /// Refreshes the gossip gauges and renders the text exposition format.
    func scrape(gossip: GossipNode) async -> String {
        let instance = await gossip.instance
        let counters = await gossip.security.counters
        var alive = 0, suspect = 0, dead = 0
        for m in instance.members.values {
            switch m.status {
            case .alive: alive += 1
            case .suspect: suspect += 1
            case .dead, .left: dead += 1
            }
        }
        membersAlive.set(Int64(alive))
        membersSuspect.set(Int64(suspect))
        membersDead.set(Int64(dead))
        packetsOpened.set(Int64(counters.opened))
        packetsDroppedAuth.set(Int64(counters.droppedAuthentication))
        packetsDroppedMalformed.set(Int64(counters.droppedMalformed))
        packetsDroppedReplay.set(Int64(counters.droppedReplay))
        packetsDroppedStale.set(Int64(counters.droppedStale))
        return registry.emitToString()
    }
}
