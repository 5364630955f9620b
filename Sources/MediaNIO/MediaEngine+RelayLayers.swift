import Logging
import MediaForwarding
import RelayLinks

/// Layer wishes, layer rates and per-link congestion (docs/relay.md, "Layers"): a link
/// carries only the simulcast layers the far side's subscribers need, the far side learns
/// what the layers it does not receive measure at the origin, and a lossy link sheds its
/// highest layers first.
extension MediaEngine {
    /// Every `layerRatesTicks` ticks (200 ms at the default tick), each link's layer rates.
    static var layerRatesTicks: Int { 4 }

    /// On the engine's timer, per meeting with links.
    func tickRelayLayers(_ meeting: MeetingState, now time: MediaInstant) {
        meeting.relay.ticks &+= 1
        let local = locallyWantedLayers(in: meeting)
        for id in meeting.links {
            guard let link = relayLinks[id] else { continue }
            let before = link.congestion.ceiling
            if let ceiling = link.congestion.evaluate(now: time, highestCarried: highestWantedLayer(of: link)) { ceilingChanged(ceiling, raised: ceiling > before, on: link, in: meeting, now: time) }
            let wants = layerWants(over: link, local: local, in: meeting)
            let heal = link.wantsSentAt.map { $0.duration(to: time) >= configuration.relaySnapshotInterval } ?? true
            if wants != link.wantsSent || heal {
                sendControl(.layerWants(wants), over: link)
                link.wantsSent = wants
                link.wantsSentAt = time
            }
            if meeting.relay.ticks % Self.layerRatesTicks == 0 {
                let rates = layerRates(over: link, in: meeting, now: time)
                if !rates.isEmpty { sendControl(.layerRates(rates), over: link) }
            }
        }
    }

    /// The highest layer the far side wants of any track (all of them until it says).
    func highestWantedLayer(of link: RelayLink) -> Int {
        guard let wanted = link.wanted else { return RelayLinkCongestion<MediaInstant>.uncapped }
        return wanted.values.compactMap { $0.max() }.max() ?? 0
    }

    // MARK: Receiving side: what this node needs

    /// Per local track id, the layers local subscribers carry or wait for (current and target).
    func locallyWantedLayers(in meeting: MeetingState) -> [String: Set<Int>] {
        var ids: [TrackID: String] = [:]
        for (id, track) in meeting.tracks { ids[track.trackID] = id }
        var wanted: [String: Set<Int>] = [:]
        for session in meeting.participants.values {
            for subscription in meeting.router.subscriptions(of: session.id) {
                guard let id = ids[subscription.track] else { continue }
                wanted[id, default: []].insert(subscription.targetLayer)
                if let current = subscription.currentLayer { wanted[id, default: []].insert(current) }
            }
        }
        return wanted
    }

    /// What to ask of `link`'s far side: for each track it brings, the union of local wishes
    /// and of the wishes of the meeting's other links (a chain passes them on; a link that
    /// has not said yet wants every layer).
    func layerWants(over link: RelayLink, local: [String: Set<Int>], in meeting: MeetingState) -> [RelayLayerWant] {
        var wants: [RelayLayerWant] = []
        for name in meeting.remotes.keys.sorted() {
            guard let remote = meeting.remotes[name], remote.link == link.spec.linkID else { continue }
            for (farID, localID) in remote.tracks.sorted(by: { $0.key < $1.key }) {
                var layers = local[localID] ?? []
                let count = max(1, meeting.tracks[localID]?.layers.count ?? 1)
                for id in meeting.links where id != link.spec.linkID {
                    guard let other = relayLinks[id] else { continue }
                    if let wanted = other.wanted { layers.formUnion(wanted[localID] ?? []) } else { layers.formUnion(0..<count) }
                }
                if !layers.isEmpty { wants.append(RelayLayerWant(id: farID, layers: layers.sorted())) }
                // A layer not asked for stops crossing on purpose: its loss detection starts
                // afresh when it is wanted again, rather than NACKing the gap.
                if let track = meeting.tracks[localID] {
                    for layer in 0..<count where !layers.contains(layer) { forgetLossDetection(of: track, layer: layer, link: link, meeting: meeting) }
                }
            }
        }
        return wants
    }

    /// The far side's rates for tracks it brings: layers the link does not carry feed the
    /// router's meters (so subscribers here can switch to them); a layer gone unavailable
    /// ends at once (its subscribers move down at the router's next tick).
    func applyLayerRates(_ rates: [RelayLayerRate], from link: RelayLink, in meeting: MeetingState, now time: MediaInstant) {
        let elapsed = min(link.ratesReceivedAt.map { $0.duration(to: time) } ?? .milliseconds(200), .seconds(1))
        link.ratesReceivedAt = time
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var localIDs: [String: String] = [:]
        for remote in meeting.remotes.values where remote.link == link.spec.linkID {
            for (farID, localID) in remote.tracks { localIDs[farID] = localID }
        }
        for rate in rates {
            guard let localID = localIDs[rate.id], let track = meeting.tracks[localID] else { continue }
            meeting.relay.originRates[localID] = rate.bitrates
            let previous = link.ratesAvailable[localID]
            for (layer, bitrate) in rate.bitrates.enumerated() where layer < max(1, track.layers.count) {
                if !rate.carried[layer] { forgetLossDetection(of: track, layer: layer, link: link, meeting: meeting) }
                if bitrate > 0, !rate.carried[layer] {
                    meeting.router.recordRelayedLayer(track.trackID, layer: layer, bytes: Int(Double(bitrate) * seconds / 8), now: time)
                } else if bitrate == 0, previous?[layer] ?? true {
                    meeting.router.relayedLayerEnded(track.trackID, layer: layer)
                }
            }
            link.ratesAvailable[localID] = rate.bitrates.map { $0 > 0 }
        }
    }

    /// Drops the link's NACK generator of a layer the far side does not send now.
    func forgetLossDetection(of track: PublishedTrack, layer: Int, link: RelayLink, meeting: MeetingState) {
        guard let local = relaySSRC(of: track, layer: layer, in: meeting), let far = link.farSSRC[local] else { return }
        link.nackGenerators[far] = nil
    }

    // MARK: Sending side: what the far side needs

    /// The far side's wishes replace the previous ones. A layer newly wanted crosses from its
    /// next keyframe, which is asked of the publisher now.
    func applyLayerWants(_ wants: [RelayLayerWant], from link: RelayLink, in meeting: MeetingState, now time: MediaInstant) {
        var next: [String: Set<Int>] = [:]
        for want in wants { next[want.id, default: []].formUnion(want.layers) }
        let before = link.wanted
        link.wanted = next
        guard let before else { return }   // every layer was crossing: none is new
        for (id, layers) in next.sorted(by: { $0.key < $1.key }) {
            guard let track = meeting.tracks[id] else { continue }
            for layer in layers.subtracting(before[id] ?? []).sorted() {
                guard let ssrc = relaySSRC(of: track, layer: layer, in: meeting) else { continue }
                if link.awaitingKeyframe[ssrc] == nil { link.awaitingKeyframe[ssrc] = time }
                keyframeRequested(ssrc, over: link, meeting: meeting, now: time)
            }
        }
    }

    /// The rates of the simulcast tracks this node brings over `link`: measured here as they
    /// pass (for a track this node receives over another link, the origin's figure for a
    /// layer not received here); 0 for a layer above the link's congestion ceiling.
    func layerRates(over link: RelayLink, in meeting: MeetingState, now time: MediaInstant) -> [RelayLayerRate] {
        var rates: [RelayLayerRate] = []
        for id in meeting.trackOrder {
            guard let track = meeting.tracks[id], track.layers.count > 1 else { continue }
            if let remote = meeting.remoteByID[track.publisher], remote.link == link.spec.linkID { continue }   // split horizon
            let count = min(3, track.layers.count)
            var bitrates = [Int](repeating: 0, count: count)
            var carried = [Bool](repeating: false, count: count)
            for layer in 0..<count {
                var bitrate = 0
                if let ssrc = relaySSRC(of: track, layer: layer, in: meeting), meeting.relay.meters[ssrc] != nil {
                    bitrate = meeting.relay.meters[ssrc]!.bitsPerSecond(now: time)
                }
                if bitrate == 0, let origin = meeting.relay.originRates[id], origin.indices.contains(layer) { bitrate = origin[layer] }
                if layer > link.congestion.ceiling { bitrate = 0 }
                bitrates[layer] = min(bitrate, RelayControlMessage.maximumBitrate)
                carried[layer] = bitrate > 0 && link.carries(track: id, layer: layer, layerCount: count)
            }
            rates.append(RelayLayerRate(id: id, bitrates: bitrates, carried: carried))
        }
        return rates
    }

    /// The link's congestion ceiling moved: the far side hears at once (rates with the
    /// dropped layers at 0); a layer restored that the far side wants restarts at a keyframe.
    func ceilingChanged(_ ceiling: Int, raised: Bool, on link: RelayLink, in meeting: MeetingState, now time: MediaInstant) {
        statistics.relayLayerCeilingChanges += 1
        logger.info("relay link layer ceiling changed", metadata: [
            "link": "\(link.spec.linkID)", "ceiling": "\(ceiling)", "loss": "\(Int(link.congestion.loss * 100)) %",
        ])
        for id in meeting.trackOrder where raised {
            guard let track = meeting.tracks[id], track.layers.count > ceiling,
                  link.carries(track: id, layer: ceiling, layerCount: track.layers.count),
                  let ssrc = relaySSRC(of: track, layer: ceiling, in: meeting) else { continue }
            if link.awaitingKeyframe[ssrc] == nil { link.awaitingKeyframe[ssrc] = time }
            keyframeRequested(ssrc, over: link, meeting: meeting, now: time)
        }
        let rates = layerRates(over: link, in: meeting, now: time)
        if !rates.isEmpty { sendControl(.layerRates(rates), over: link) }
    }
}
