import MediaForwarding

/// What a meeting's relay links share on this node (docs/relay.md): which layer of which
/// track each of this node's SSRCs is, the bitrate of each as it passes, the origin's
/// measurements of tracks brought by links, and the SSRCs given to streams links bring.
final class MeetingRelayState {
    struct LayerKey: Equatable {
        /// The local track id (`T<n>`).
        var track: String
        var layer: Int
        var layerCount: Int
        var isVideo: Bool
    }

    /// This node's SSRC → its track and layer; rebuilt lazily after each snapshot.
    var layerOf: [UInt32: LayerKey] = [:]
    /// SSRCs no track has (RTX, a layer not learned yet), until the next rebuild.
    var unknown: Set<UInt32> = []
    /// Per SSRC of a multi-layer track, its bitrate as relayed (what `layerRates` reports).
    var meters: [UInt32: LayerBitrateMeter<MediaInstant>] = [:]
    /// Per local track id brought by a link, the origin's last reported layer bitrates.
    var originRates: [String: [Int]] = [:]
    /// SSRCs given to streams brought by links (unique in the meeting here).
    var remapped: Set<UInt32> = []
    var ticks = 0

    static let maximumUnknown = 256

    func invalidateLayers() {
        layerOf.removeAll(keepingCapacity: true)
        unknown.removeAll(keepingCapacity: true)
    }
}
