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

    static let cacheCapacity = 512
    static let maximumStreams = 64

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
