public import MediaNegotiation
public import MediaForwarding

/// Settings of the node's media service (issue 6): one UDP port for every peer connection.
public struct MediaServerConfiguration: Sendable {
    /// The address the UDP socket binds (`0.0.0.0` or `::` for all interfaces).
    public var bindHost = "127.0.0.1"
    /// 0 picks a free port (tests); a node uses a fixed, firewall-opened one.
    public var port = 0
    /// IP literals written as host candidates (RFC 8839 §5.1); empty means the bind host.
    /// A node behind 1:1 NAT lists its public address here.
    public var announcedAddresses: [String] = []
    /// What the SFU accepts and offers in SDP. transport-cc is accepted from publishers:
    /// the shell sends them transport-cc feedback every 100 ms.
    public var negotiation: NegotiationPolicy = {
        var policy = NegotiationPolicy()
        policy.acceptTransportCC()
        return policy
    }()
    /// The forwarding core's tunables, per meeting.
    public var forwarding = ForwardingConfiguration()
    /// Datagrams read per `recvmmsg` (PLATFORM-NOTES: vector reads).
    public var vectorReadCount = 32
    /// SO_RCVBUF / SO_SNDBUF in bytes. The kernel default (208 KiB) drops bursts; 4 MiB is this
    /// kernel's maximum (PLATFORM-NOTES).
    public var socketBufferBytes = 4 << 20
    /// How often ICE consent, DTLS retransmission and the forwarding core's timers run.
    public var tickInterval: Duration = .milliseconds(50)
    /// The DTLS MTU: records are packed into datagrams of at most this size.
    public var dtlsMTU = 1200
    /// A peer connection with no DTLS association this long after it was created is closed.
    public var connectTimeout: Duration = .seconds(30)

    /// This node's id: the `node` label of the participants connected here, as relay links
    /// announce them to the meeting's other nodes. Nil on a standalone SFU.
    public var nodeName: String?
    /// A relay link with no authenticated datagram for this long loses the participants and
    /// tracks it brought (they come back with its next snapshot).
    public var relayLinkTimeout: Duration = .seconds(5)
    /// How often each relay link carries a full-state snapshot (roster and tracks), so a lost
    /// control datagram heals; changes are also sent at once.
    public var relaySnapshotInterval: Duration = .seconds(1)

    public init() {}

    var candidateAddresses: [String] { announcedAddresses.isEmpty ? [bindHost] : announcedAddresses }
}
