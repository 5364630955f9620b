import MediaCore
import MediaForwarding
import MediaPackets
import NIOCore
import RelayLinks

/// The media shell's state of one open relay link (confined to the engine's loop).
final class RelayLink {
    let spec: RelayLinkSpec
    let address: SocketAddress
    var sealer: RelaySealer
    var opener: RelayOpener
    var packetsSent = 0
    var bytesSent = 0
    var packetsReceived = 0
    var bytesReceived = 0
    var rtpSent = 0
    var rtpReceived = 0
    var authenticated = false
    var lastReceived: MediaInstant?
    var lastSnapshot: MediaInstant?
    /// No authenticated datagram for `relayLinkTimeout`: its participants were removed.
    var stale = false
    /// SSRC → the router participant (a remote participant of this link) publishing it.
    var ssrcOwner: [UInt32: ParticipantID] = [:]
    /// Per SSRC sent over the link, the packets sent, to answer the far side's NACKs.
    var outgoingCache: [UInt32: RetransmissionCache] = [:]
    /// Per SSRC received over the link, loss detection (NACKs go back over the link).
    var nackGenerators: [UInt32: NACKGenerator<MediaInstant>] = [:]
    /// Per media SSRC, the last keyframe request passed on (throttle, RFC 4585 §6.3.1).
    var keyframeSentAt: [UInt32: MediaInstant] = [:]
    /// Control messages larger than one datagram, being put back together.
    var reassembler = RelayControlReassembler<MediaInstant>()
    var nextFragmentedMessage: UInt32 = 0
    /// SSRC remapping (docs/relay.md, "SSRCs are remapped per link"): the far node's SSRC of each stream this link
    /// brings → the SSRC it has in this node's meeting, and back (for feedback sent over the
    /// link). Two nodes' publishers may pick the same SSRC; here they never meet.
    var localSSRC: [UInt32: UInt32] = [:]
    var farSSRC: [UInt32: UInt32] = [:]
    /// The far side's layer wishes, by this node's track id (nil until its first
    /// `layerWants`: until then every layer crosses).
    var wanted: [String: Set<Int>]?
    /// SSRCs (ours) of layers newly wanted: they start crossing at a keyframe, or at the
    /// deadline when the codec cannot be inspected or the keyframe does not come.
    var awaitingKeyframe: [UInt32: MediaInstant] = [:]
    /// What this node last asked of the far side, and when.
    var wantsSent: [RelayLayerWant]?
    var wantsSentAt: MediaInstant?
    /// When the far side's last `layerRates` arrived (the interval its rates cover).
    var ratesReceivedAt: MediaInstant?
    /// Per local track id, the layers the far side's last `layerRates` said were available.
    var ratesAvailable: [String: [Bool]] = [:]
    /// The loss seen on the link (its NACKs) and the highest layer it carries because of it.
    var congestion = RelayLinkCongestion<MediaInstant>()
    /// RTP originals sent, by simulcast layer index (0 = lowest; audio and single-layer
    /// video count as 0), and those not sent because the far side does not want the layer,
    /// congestion dropped it, or it waits for a keyframe.
    var rtpSentByLayer = [0, 0, 0]
    var rtpWithheld = 0

    static let cacheCapacity = 512
    /// Streams a link maps and NACKs (a roster of 256 with 4 tracks, RTX aside).
    static let maximumStreams = 1_024
    /// Streams a link keeps a retransmission cache for (768 KB each, allocated up front); the
    /// streams past it cross without link repairs.
    static let maximumCachedStreams = 64
    /// A newly wanted layer whose keyframe does not come within this crosses anyway.
    static let keyframeWait: Duration = .seconds(1)

    /// Whether the link carries the layer now (the far side wants it, congestion allows it).
    func carries(track: String, layer: Int, layerCount: Int) -> Bool {
        if layerCount > 1, layer > congestion.ceiling { return false }
        guard let wanted else { return true }
        return wanted[track]?.contains(layer) == true
    }

    init(spec: RelayLinkSpec, address: SocketAddress) {
        self.spec = spec
        self.address = address
        sealer = RelaySealer(linkID: spec.linkID, key: spec.sendingKey)
        opener = RelayOpener(linkID: spec.linkID, key: spec.receivingKey)
    }
}

/// A participant of the meeting connected to another node, brought by a relay link. It is
/// a publisher in the local forwarding core (its own ``ParticipantID``), never a subscriber.
final class RemoteParticipant {
    let id: ParticipantID
    let link: UInt64
    var info: MediaParticipantInfo
    var extensions: RelayExtensionIDs
    /// The far side's track id → the local track id.
    var tracks: [String: String] = [:]

    init(id: ParticipantID, link: UInt64, info: MediaParticipantInfo, extensions: RelayExtensionIDs) {
        self.id = id
        self.link = link
        self.info = info
        self.extensions = extensions
    }

    var extensionMap: RTPExtensionMap {
        RTPExtensionMap(mid: extensions.mid, rtpStreamID: extensions.rid, repairedRTPStreamID: extensions.repairedRID,
                        audioLevel: extensions.audioLevel)
    }
}
