/// Hooks for tracks that arrive over a relay link (docs/relay.md, "Layer wishes"): a link
/// carries only the simulcast layers the receiving node needs, so the layers it does not
/// carry would look inactive here and no subscriber could ever switch up to them. The shell
/// feeds the origin's measurements of those layers into the same meters real packets feed.
extension ForwardingRouter {
    /// A layer of `track` measured at the origin node moved `bytes` in the interval ending
    /// `now`, though it did not cross the link: counts toward its bitrate and activity.
    public mutating func recordRelayedLayer(_ track: TrackID, layer: Int, bytes: Int, now: Instant) {
        guard let slot = trackSlots[track], tracks[slot] != nil, tracks[slot]!.layers.indices.contains(layer) else { return }
        tracks[slot]!.layers[layer].meter.record(bytes: max(0, bytes), now: now)
    }

    /// The origin says the layer is no longer available over the link (it stopped, or the
    /// link dropped it for congestion): it is inactive from now, so the next layer choice
    /// (`tick`) moves its subscribers to an available one at once rather than after
    /// `layerInactivityTimeout`.
    public mutating func relayedLayerEnded(_ track: TrackID, layer: Int) {
        guard let slot = trackSlots[track], tracks[slot] != nil, tracks[slot]!.layers.indices.contains(layer) else { return }
        tracks[slot]!.layers[layer].meter = LayerBitrateMeter(window: configuration.bitrateWindow)
    }
}
