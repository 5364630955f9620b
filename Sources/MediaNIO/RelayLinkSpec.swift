public import SodiumWrapper

/// One relay link of a cascaded meeting (issue 7): an edge of placement's relay tree, as
/// the node layer agreed it over the signed node API. Both ends open it, each with its own
/// direction keys (`RelayKeySchedule.sending` / `.receiving`).
public struct RelayLinkSpec: Sendable {
    /// The link id both ends agreed; it names the link in every datagram's clear header.
    public var linkID: UInt64
    public var meeting: String
    /// The other node's id: the `node` label of the participants it brings.
    public var remoteNode: String
    /// The other node's media UDP address (an IP literal); datagrams from elsewhere are refused.
    public var remoteHost: String
    public var remotePort: Int
    public var sendingKey: XChaCha20Poly1305.Key
    public var receivingKey: XChaCha20Poly1305.Key

    public init(linkID: UInt64, meeting: String, remoteNode: String, remoteHost: String, remotePort: Int,
                sendingKey: XChaCha20Poly1305.Key, receivingKey: XChaCha20Poly1305.Key) {
        self.linkID = linkID
        self.meeting = meeting
        self.remoteNode = remoteNode
        self.remoteHost = remoteHost
        self.remotePort = remotePort
        self.sendingKey = sendingKey
        self.receivingKey = receivingKey
    }
}

/// What ``MediaServer/relayLinks()`` reports of one open link.
public struct RelayLinkStatus: Sendable, Equatable {
    public var linkID: UInt64
    public var meeting: String
    public var remoteNode: String
    /// Datagrams and bytes (on the wire, sealed) in each direction.
    public var packetsSent: Int
    public var bytesSent: Int
    public var packetsReceived: Int
    public var bytesReceived: Int
    /// Of the packets sent, RTP originals (not link retransmissions) and RTP received.
    public var rtpSent: Int
    public var rtpReceived: Int
    /// At least one datagram from the far side authenticated under the link's key.
    public var authenticated: Bool
    /// When the last authenticated datagram arrived.
    public var lastReceived: ContinuousClock.Instant?
    /// The participants the far side brings into the meeting now.
    public var remoteParticipants: [String]
    /// RTP originals sent by simulcast layer index (0 = lowest; audio and single-layer video
    /// count as 0), and those withheld: a layer the far side does not want, one above the
    /// congestion ceiling, or one waiting for its keyframe.
    public var rtpSentByLayer: [Int] = [0, 0, 0]
    public var rtpWithheld = 0
    /// The far side's layer wishes by this node's track id; nil until its first (all cross).
    public var farWants: [String: [Int]]?
    /// The highest layer the link carries for congestion (2: all of three), and the loss
    /// estimate (0–1) from the far side's link NACKs.
    public var layerCeiling = 2
    public var lossEstimate = 0.0
}
