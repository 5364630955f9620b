import Prometheus
import Gossip
import GossipNIO
import MediaNIO

/// The node's Prometheus metrics (`GET /metrics`). Counters are bumped where things
/// happen; gossip figures are read from the gossip node at scrape time. Labels carry
/// codes and node-level facts only — never a tenant, meeting or participant.
final class NodeMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let logAppends: Counter
    let peerRequestsRefused: Counter
    let meetingsHeld: Gauge
    let relayLinksOpen: Gauge
    let sessionsMoved: Counter
    private let membersAlive: Gauge
    private let membersSuspect: Gauge
    private let membersDead: Gauge
    private let packetsOpened: Gauge
    private let packetsDroppedAuth: Gauge
    private let packetsDroppedMalformed: Gauge
    private let packetsDroppedReplay: Gauge
    private let packetsDroppedStale: Gauge
    /// The SFU's counters (gauges: totals since the media service started).
    private let mediaGauges: [(@Sendable (MediaServerStatistics) -> Int, Gauge)]

    init() {
        logAppends = registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "transparency_appends", unitName: "total", helpText: "Entries this node appended to its transparency log"))
        peerRequestsRefused = registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "peer_requests_refused", unitName: "total", helpText: "Node-to-node requests refused (unknown node, bad signature, stale, replayed)"))
        sessionsMoved = registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "signaling_sessions_moved", unitName: "total", helpText: "Signaling sessions told to reconnect at another edge (drain, re-placement)"))
        relayLinksOpen = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "relay_links_open", unitName: "", helpText: "Relay links this node has open to other nodes of its meetings"))
        meetingsHeld = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "meetings_active", unitName: "", helpText: "Active meetings this node serves or holds in its directory"))
        membersAlive = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_members", unitName: "", helpText: "Gossip members by status"), labels: [("status", "alive")])
        membersSuspect = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_members", unitName: "", helpText: "Gossip members by status"), labels: [("status", "suspect")])
        membersDead = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_members", unitName: "", helpText: "Gossip members by status"), labels: [("status", "dead")])
        packetsOpened = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_opened", unitName: "", helpText: "Gossip packets authenticated and decoded since start"))
        packetsDroppedAuth = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_dropped", unitName: "", helpText: "Gossip packets dropped since start"), labels: [("reason", "authentication")])
        packetsDroppedMalformed = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_dropped", unitName: "", helpText: "Gossip packets dropped since start"), labels: [("reason", "malformed")])
        packetsDroppedReplay = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_dropped", unitName: "", helpText: "Gossip packets dropped since start"), labels: [("reason", "replayed")])
        packetsDroppedStale = registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: "gossip_packets_dropped", unitName: "", helpText: "Gossip packets dropped since start"), labels: [("reason", "stale")])
        let media: [(@Sendable (MediaServerStatistics) -> Int, String, String)] = [
            ({ $0.datagramsReceived }, "media_datagrams_received", "UDP datagrams received on the media port"),
            ({ $0.datagramsSent }, "media_datagrams_sent", "UDP datagrams sent from the media port"),
            ({ $0.unroutable }, "media_datagrams_unroutable", "Datagrams from unknown addresses or naming no local ICE ufrag (dropped)"),
            ({ $0.srtpFailures }, "media_srtp_failures", "SRTP/SRTCP packets that failed authentication or replay checks (dropped)"),
            ({ $0.rtpForwarded }, "media_rtp_forwarded", "RTP packets forwarded to subscribers"),
            ({ $0.rtpRetransmitted }, "media_rtp_retransmitted", "RTP packets resent in answer to NACKs"),
            ({ $0.dtlsFailures }, "media_dtls_failures", "DTLS handshakes that failed (fingerprint mismatch, timeout)"),
            ({ $0.peerConnections }, "media_peer_connections", "Open peer connections"),
            ({ $0.relayDatagramsReceived }, "media_relay_datagrams_received", "Relay-link datagrams that authenticated on an open link"),
            ({ $0.relayDatagramsSent }, "media_relay_datagrams_sent", "Relay-link datagrams sent to other nodes of this node's meetings"),
            ({ $0.relayRefused }, "media_relay_datagrams_refused", "Relay-link datagrams dropped: unknown link, wrong source, failed authentication or replay"),
            ({ $0.relayRTPForwarded }, "media_relay_rtp_received", "RTP packets that arrived over relay links and were forwarded"),
            ({ $0.relayRTPRetransmitted }, "media_relay_rtp_retransmitted", "RTP packets resent over relay links in answer to link NACKs"),
            ({ $0.relayControlFragmented }, "media_relay_control_fragmented", "Relay control messages too large for one datagram, sent as fragments"),
            ({ $0.relayLayerCeilingChanges }, "media_relay_layer_ceiling_changes", "Times a relay link's congestion ceiling dropped or restored a simulcast layer"),
            ({ $0.e2eeViolations }, "media_e2ee_violations", "Publisher packets refused in E2EE-required meetings for lacking the SFrame layout"),
        ]
        var gauges: [(@Sendable (MediaServerStatistics) -> Int, Gauge)] = []
        for (read, name, help) in media {
            gauges.append((read, registry.makeGauge(descriptor: .init(namespace: "demarc", metricName: name, unitName: "", helpText: help))))
        }
        mediaGauges = gauges
    }

    func placements(result: String) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "placements", unitName: "total", helpText: "Placement decisions by result (placed, or the error code)"), labels: [("result", result)])
    }

    func refusals(reason: String) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "refusals", unitName: "total", helpText: "Meetings this node refused to serve, by reason"), labels: [("reason", reason)])
    }

    func relayRefusals(reason: String) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "relay_refusals", unitName: "total", helpText: "Relay links this node refused to open or accept, by reason"), labels: [("reason", reason)])
    }

    func failovers(result: String) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "demarc", metricName: "failovers", unitName: "total", helpText: "Re-placements after nodes failed or drained"), labels: [("result", result)])
    }

    /// Refreshes the gossip gauges and renders the text exposition format.
    func scrape(gossip: GossipNode, media: MediaServer?) async -> String {
        if let media {
            let statistics = await media.statistics()
            for (read, gauge) in mediaGauges { gauge.set(Int64(read(statistics))) }
        }
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
