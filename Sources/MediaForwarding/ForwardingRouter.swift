public import MediaPackets
import MediaCore

/// The selective-forwarding core of one meeting on one node (issue 6 §5): publishers'
/// tracks in, a rewritten copy per subscriber out, with simulcast layer choice, NACK/RTX
/// answers, keyframe-request relay and active-speaker detection.
///
/// A value type that does no I/O (STYLE.md §1): the shell calls an event method with the
/// current instant and a reusable ``ForwardingBatch``, then performs the batch's directives
/// (SRTP-protect and send each packet, send RTCP, push signaling events). Packets arrive
/// SRTP-decrypted. Per stream the work is a fixed chain of small stages (STYLE.md §6): on
/// the published side a bitrate meter, a retransmission cache and a keyframe requester per
/// layer; on each subscription a simulcast gate, an ``RTPStreamRewriter``, an in-place
/// header rewrite and an outgoing-sequence map for NACKs.
///
/// Forwarding a packet allocates nothing: lookups are by SSRC in a dictionary, the packet
/// is copied once per subscriber into the batch's preallocated slots and rewritten there.
public struct ForwardingRouter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    struct SourceKey: Sendable {
        var track: Int
        var layer: Int
        var isRTX: Bool
    }

    struct ParticipantState: Sendable {
        var extensionMap: RTPExtensionMap
        /// The subscriber's latest bandwidth estimate (bits/s), nil before the first.
        var estimate: Int?
        /// The estimate from the loss in its receiver reports, used until it sends REMB.
        var lossEstimator: LossBasedBandwidthEstimator<Instant>
        var sendsREMB = false
        /// NACK repairs toward this subscriber: budget, pacing queue, round-trip time.
        var retransmission: RetransmissionBudget<Instant>
        /// NACKs as a congestion signal.
        var repairLoss: RepairLossMeter<Instant>
        /// The last loss report above the estimator's decrease threshold.
        var congestedAt: Instant?
        /// The SFU's recent sender reports to it (middle 32 bits of the NTP time, when sent),
        /// to read its round-trip time from LSR/DLSR (RFC 3550 §6.4.1).
        var senderReports: [(lsr: UInt32, sentAt: Instant)] = []
    }

    struct PublishedLayer: Sendable {
        var description: SimulcastLayerDescription
        var meter: LayerBitrateMeter<Instant>
        var cache: RetransmissionCache
        var keyframes: KeyframeRequester<Instant>?
        /// Loss on the publisher's uplink, NACKed to it (video layers, RFC 4585 §6.2.1).
        var nack: NACKGenerator<Instant>?
        /// Loss and jitter of the layer as received, for the SFU's receiver reports.
        var reception: RTPReceiveStatistics<Instant>
        /// The publisher's latest sender report for the layer (RFC 3550 §6.4.1).
        var senderReport: (ntp: UInt64, rtp: UInt32, arrival: Instant)?
        /// A keyframe was asked for before the layer's SSRC was known.
        var keyframeWanted = false
    }

    struct Subscription: Sendable {
        var subscriber: ParticipantID
        var description: SubscriptionDescription
        /// Publisher payload type → subscriber payload type (128 entries).
        var payloadTypes: [UInt8]
        /// Subscriber media payload type → RTX payload type, 0xFF when none.
        var rtxPayloadTypes: [UInt8]
        var rewriter: RTPStreamRewriter
        /// The layer being forwarded, nil until the first keyframe.
        var current: Int?
        /// The layer wanted; forwarding moves to it on its next keyframe.
        var target: Int
        var lastForwardedAt: Instant?
        var sequenceMap: OutgoingSequenceMap<Instant>
        var rtxSequence: UInt16
        /// For the SFU's sender reports (RFC 3550 §6.4.1): packets and payload octets sent,
        /// and the source timestamp of the newest packet forwarded.
        var packetsSent: UInt32 = 0
        var octetsSent: UInt32 = 0
        var lastSourceTimestamp: UInt32?
        /// A layer switch in progress (congested pause, keyframe watch).
        var layerSwitch = LayerSwitchState<Instant>()
    }

    struct Track: Sendable {
        var description: PublishedTrackDescription
        var publisher: ParticipantID
        var layers: [PublishedLayer]
        /// Payload type → codec; nil for a payload type the publisher did not announce.
        var codecs: [ForwardedCodec?]
        var subscriptions: [Subscription]
        /// Per layer, the indices in ``subscriptions`` (ascending) of those whose current
        /// layer it is: a packet touches only these (``reindexSubscriptions()`` keeps it).
        var receivers: [[Int]] = []
        /// Per layer, how many subscriptions wait to switch to it at its next keyframe.
        var switching: [Int] = []
    }

    public let configuration: ForwardingConfiguration
    /// The SSRC the SFU uses as the sender of its feedback packets (PLI, FIR).
    public let feedbackSSRC: UInt32
    var participants: [ParticipantID: ParticipantState] = [:]
    var tracks: [Track?] = []
    var trackSlots: [TrackID: Int] = [:]
    var sources: [UInt32: SourceKey] = [:]
    /// Outgoing (subscriber-side) SSRC → track slot.
    var subscriptionSSRCs: [UInt32: Int] = [:]
    var speakers: ActiveSpeakerDetector<Instant>
    public internal(set) var counters = ForwardingCounters()

    public init(configuration: ForwardingConfiguration = ForwardingConfiguration(), feedbackSSRC: UInt32 = 1) {
        self.configuration = configuration
        self.feedbackSSRC = feedbackSSRC
        speakers = ActiveSpeakerDetector(configuration: configuration.activeSpeaker)
    }

    public var activeSpeaker: ParticipantID? { speakers.currentSpeaker }

    // MARK: Participants and tracks

    /// A participant joined this node's part of the meeting. `extensionMap` holds the
    /// header-extension ids it negotiated (BUNDLE shares them across its media sections).
    public mutating func join(_ participant: ParticipantID, extensionMap: RTPExtensionMap = RTPExtensionMap()) throws(ForwardingError) {
        guard participants[participant] == nil else { throw .participantAlreadyJoined(participant) }
        participants[participant] = ParticipantState(extensionMap: extensionMap, estimate: nil,
                                                     lossEstimator: LossBasedBandwidthEstimator(configuration: configuration.lossEstimator),
                                                     retransmission: RetransmissionBudget(configuration: configuration.retransmission),
                                                     repairLoss: RepairLossMeter(configuration: configuration.repairLoss))
    }

    /// Updates the extension ids after a renegotiation.
    public mutating func updateExtensionMap(_ participant: ParticipantID, _ map: RTPExtensionMap) throws(ForwardingError) {
        guard participants[participant] != nil else { throw .unknownParticipant(participant) }
        participants[participant]?.extensionMap = map
    }

    /// `publisher` publishes `track`. Signaled SSRCs are bound now; the others are learned
    /// from the mid/rid header extensions of the first packets.
    public mutating func publish(_ track: PublishedTrackDescription, by publisher: ParticipantID) throws(ForwardingError) {
        guard participants[publisher] != nil else { throw .unknownParticipant(publisher) }
        guard trackSlots[track.id] == nil else { throw .trackAlreadyPublished(track.id) }
        guard (1...3).contains(track.layers.count) else { throw .invalidLayerCount(track.id, count: track.layers.count) }
        guard !tracks.contains(where: { $0?.publisher == publisher && $0?.description.mid == track.mid }) else {
            throw .midInUse(track.mid, publisher)
        }
        var signaled: [UInt32] = []
        for layer in track.layers {
            for ssrc in [layer.ssrc, layer.rtxSSRC].compactMap({ $0 }) {
                guard sources[ssrc] == nil, subscriptionSSRCs[ssrc] == nil, !signaled.contains(ssrc) else { throw .ssrcInUse(ssrc) }
                signaled.append(ssrc)
            }
        }
        var codecs = [ForwardedCodec?](repeating: nil, count: 128)
        for pt in track.payloadTypes where pt.payloadType < 128 { codecs[Int(pt.payloadType)] = pt.codec }
        let capacity = track.kind == .video ? configuration.videoCacheCapacity : configuration.audioCacheCapacity
        let layers = track.layers.map { layer in
            PublishedLayer(
                description: layer,
                meter: LayerBitrateMeter(window: configuration.bitrateWindow),
                cache: RetransmissionCache(capacity: capacity, maxPacketSize: configuration.maxPacketSize),
                keyframes: layer.ssrc.map { keyframeRequester(mediaSSRC: $0) },
                nack: track.kind == .video && configuration.publisherLossRecovery == .nack ? NACKGenerator() : nil,
                reception: RTPReceiveStatistics(clockRate: max(1, track.clockRate)))
        }
        var state = Track(description: track, publisher: publisher, layers: layers, codecs: codecs, subscriptions: [])
        state.reindexSubscriptions()
        let slot: Int
        if let free = tracks.firstIndex(where: { $0 == nil }) {
            slot = free
            tracks[free] = state
        } else {
            slot = tracks.count
            tracks.append(state)
        }
        trackSlots[track.id] = slot
        for (index, layer) in track.layers.enumerated() {
            if let ssrc = layer.ssrc { sources[ssrc] = SourceKey(track: slot, layer: index, isRTX: false) }
            if let rtx = layer.rtxSSRC { sources[rtx] = SourceKey(track: slot, layer: index, isRTX: true) }
        }
    }

    /// The publisher stopped publishing `track`: its subscriptions end with it.
    public mutating func unpublish(_ track: TrackID) throws(ForwardingError) {
        guard let slot = trackSlots.removeValue(forKey: track), let state = tracks[slot] else { throw .unknownTrack(track) }
        for subscription in state.subscriptions {
            subscriptionSSRCs[subscription.description.ssrc] = nil
            if let rtx = subscription.description.rtx { subscriptionSSRCs[rtx.ssrc] = nil }
        }
        for layer in state.layers {
            if let ssrc = layer.description.ssrc { sources[ssrc] = nil }
            if let rtx = layer.description.rtxSSRC { sources[rtx] = nil }
        }
        tracks[slot] = nil
    }

    /// `subscriber` starts receiving `track`. Video starts on the layer its bandwidth allows,
    /// at the next keyframe (one is requested); audio starts at once.
    public mutating func subscribe(_ subscriber: ParticipantID, to track: TrackID, _ description: SubscriptionDescription,
                                   now: Instant, into batch: inout ForwardingBatch) throws(ForwardingError) {
        guard participants[subscriber] != nil else { throw .unknownParticipant(subscriber) }
        guard let slot = trackSlots[track], let state = tracks[slot] else { throw .unknownTrack(track) }
        guard state.publisher != subscriber else { throw .ownTrack(track, subscriber) }
        guard !state.subscriptions.contains(where: { $0.subscriber == subscriber }) else { throw .alreadySubscribed(track, subscriber) }
        for ssrc in [description.ssrc, description.rtx?.ssrc].compactMap({ $0 }) {
            guard sources[ssrc] == nil, subscriptionSSRCs[ssrc] == nil else { throw .ssrcInUse(ssrc) }
        }
        var payloadTypes = (0..<128).map { UInt8($0) }
        for (from, to) in description.payloadTypeMap where from < 128 && to < 128 { payloadTypes[Int(from)] = to }
        var rtxPayloadTypes = [UInt8](repeating: 0xFF, count: 128)
        for (media, rtx) in description.rtx?.payloadTypes ?? [:] where media < 128 && rtx < 128 { rtxPayloadTypes[Int(media)] = rtx }
        let isAudio = state.description.kind == .audio
        let subscription = Subscription(
            subscriber: subscriber, description: description,
            payloadTypes: payloadTypes, rtxPayloadTypes: rtxPayloadTypes,
            rewriter: RTPStreamRewriter(initialSequenceOffset: description.initialSequenceOffset,
                                        initialTimestampOffset: description.initialTimestampOffset),
            current: isAudio ? 0 : nil, target: 0, lastForwardedAt: nil,
            sequenceMap: OutgoingSequenceMap(capacity: configuration.sequenceMapCapacity),
            rtxSequence: description.initialSequenceOffset &+ 0x8000)
        tracks[slot]!.subscriptions.append(subscription)
        subscriptionSSRCs[description.ssrc] = slot
        if let rtx = description.rtx { subscriptionSSRCs[rtx.ssrc] = slot }
        if !isAudio {
            let index = tracks[slot]!.subscriptions.count - 1
            let layer = chooseLayer(slot: slot, subscriber: subscriber, now: now)
            tracks[slot]!.subscriptions[index].target = layer
            requestKeyframe(slot: slot, layer: layer, now: now, into: &batch)
        }
        tracks[slot]!.reindexSubscriptions()
    }

    public mutating func unsubscribe(_ subscriber: ParticipantID, from track: TrackID) throws(ForwardingError) {
        guard let slot = trackSlots[track], tracks[slot] != nil else { throw .unknownTrack(track) }
        guard let index = tracks[slot]!.subscriptions.firstIndex(where: { $0.subscriber == subscriber }) else {
            throw .notSubscribed(track, subscriber)
        }
        let removed = tracks[slot]!.subscriptions.remove(at: index)
        tracks[slot]!.reindexSubscriptions()
        subscriptionSSRCs[removed.description.ssrc] = nil
        if let rtx = removed.description.rtx { subscriptionSSRCs[rtx.ssrc] = nil }
    }

    /// The participant left: its tracks are unpublished, its subscriptions end, and if it
    /// was the active speaker that changes.
    public mutating func leave(_ participant: ParticipantID, into batch: inout ForwardingBatch) {
        for slot in tracks.indices {
            guard let state = tracks[slot] else { continue }
            if state.publisher == participant {
                try? unpublish(state.description.id)
            } else if state.subscriptions.contains(where: { $0.subscriber == participant }) {
                try? unsubscribe(participant, from: state.description.id)
            }
        }
        participants[participant] = nil
        if let change = speakers.remove(participant) { batch.append(.activeSpeakerChanged(change)) }
    }

    /// The tracks a subscriber receives, and the layer each currently carries.
    public func subscriptions(of subscriber: ParticipantID) -> [(track: TrackID, currentLayer: Int?, targetLayer: Int)] {
        tracks.compactMap { $0 }.flatMap { track in
            track.subscriptions.filter { $0.subscriber == subscriber }.map { (track.description.id, $0.current, $0.target) }
        }
    }

    /// The SSRC a publisher's layer was bound to (signaled or learned), if any yet.
    public func ssrc(of track: TrackID, layer: Int) -> UInt32? {
        guard let slot = trackSlots[track], let state = tracks[slot], state.layers.indices.contains(layer) else { return nil }
        return state.layers[layer].description.ssrc
    }

    // MARK: Bandwidth and layers

    /// The subscriber's downlink estimate (from the shell's estimator, or REMB). Re-chooses
    /// the layer of each of its video subscriptions.
    public mutating func bandwidthEstimate(_ subscriber: ParticipantID, bitsPerSecond: Int, now: Instant, into batch: inout ForwardingBatch) {
        guard participants[subscriber] != nil else { return }
        participants[subscriber]?.estimate = max(0, bitsPerSecond)
        reselectLayers(for: subscriber, now: now, into: &batch)
    }

    /// The subscriber's current downlink estimate (bits/s), nil while none is known.
    public func estimate(of subscriber: ParticipantID) -> Int? { participants[subscriber]?.estimate }

    /// What is being sent to `subscriber` now: the measured bitrates of the layers its
    /// subscriptions currently carry (bits/s).
    mutating func sendingRate(to subscriber: ParticipantID, now: Instant) -> Int {
        var total = 0
        for slot in tracks.indices {
            guard let track = tracks[slot],
                  let subscription = track.subscriptions.first(where: { $0.subscriber == subscriber }),
                  let layer = subscription.current, track.layers.indices.contains(layer) else { continue }
            total += tracks[slot]!.layers[layer].meter.bitsPerSecond(now: now)
        }
        return total
    }

    /// The timer: deferred keyframe requests, layer re-selection as measured bitrates move,
    /// active-speaker evaluation. Call at least every `activeSpeaker.evaluationInterval`.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func tick(now: Instant, into batch: inout ForwardingBatch) {
        for slot in tracks.indices where tracks[slot] != nil {
            for layer in tracks[slot]!.layers.indices {
                if let packet = tracks[slot]!.layers[layer].keyframes?.tick(now: now) {
                    batch.append(.sendRTCP(to: tracks[slot]!.publisher, packet))
                }
            }
        }
        requestPublisherRetransmissions(now: now, into: &batch)
        sendQueuedRepairs(now: now, into: &batch)
        for participant in participants.keys.sorted() { reselectLayers(for: participant, now: now, into: &batch) }
        if let change = speakers.evaluate(now: now) { batch.append(.activeSpeakerChanged(change)) }
    }

    private mutating func reselectLayers(for subscriber: ParticipantID, now: Instant, into batch: inout ForwardingBatch) {
        for slot in tracks.indices where tracks[slot]?.description.kind == .video {
            guard let index = tracks[slot]!.subscriptions.firstIndex(where: { $0.subscriber == subscriber }) else { continue }
            let target = tracks[slot]!.subscriptions[index].target
            let current = tracks[slot]!.subscriptions[index].current
            var layer = chooseLayer(slot: slot, subscriber: subscriber, now: now)
            if layer > target {
                // Up only with headroom (hysteresis: measured layer bitrates are noisy), and
                // never while the subscriber is congested.
                let withHeadroom = chooseLayer(slot: slot, subscriber: subscriber, now: now,
                                               headroom: configuration.layerSwitch.upSwitchHeadroom)
                layer = isCongested(subscriber, now: now) ? target : max(target, withHeadroom)
            }
            if layer != target {
                tracks[slot]!.subscriptions[index].target = layer
                tracks[slot]!.reindexSubscriptions()
            }
            updateLayerSwitch(slot: slot, index: index, now: now)
            // Waiting for a keyframe: ask (again) — the requester throttles per layer — unless
            // a congested switch lets the bottleneck drain first (LayerSwitch.swift).
            if current != layer,
               !tracks[slot]!.subscriptions[index].layerSwitch.delaysKeyframeRequest(
                   now: now, roundTripTime: participants[subscriber]?.retransmission.roundTripTime, configuration: configuration.layerSwitch) {
                requestKeyframe(slot: slot, layer: layer, now: now, into: &batch)
            }
        }
    }

    /// The highest active layer whose measured bitrate fits the subscriber's share of its
    /// estimate; the lowest active layer when none fits; with no estimate yet, the highest.
    private mutating func chooseLayer(slot: Int, subscriber: ParticipantID, now: Instant, headroom: Double = 1) -> Int {
        let layerCount = tracks[slot]!.layers.count
        if layerCount == 1 { return 0 }
        var active: [(layer: Int, bps: Int)] = []
        for layer in 0..<layerCount {
            let meter = tracks[slot]!.layers[layer].meter
            if let last = meter.lastPacketAt, last.duration(to: now) < configuration.layerInactivityTimeout {
                active.append((layer, tracks[slot]!.layers[layer].meter.bitsPerSecond(now: now)))
            }
        }
        let estimate = participants[subscriber]?.estimate
        guard let estimate else { return active.last?.layer ?? layerCount - 1 }
        guard let lowest = active.first else { return 0 }
        var videoCount = 0
        var audioCount = 0
        for index in tracks.indices {
            guard let kind = tracks[index]?.description.kind,
                  tracks[index]!.subscriptions.contains(where: { $0.subscriber == subscriber }) else { continue }
            if kind == .video { videoCount += 1 } else { audioCount += 1 }
        }
        let share = (estimate - audioCount * configuration.audioReserveBitsPerSecond) / max(1, videoCount)
        return active.last(where: { Double($0.bps) * headroom <= Double(share) })?.layer ?? lowest.layer
    }

    mutating func requestKeyframe(slot: Int, layer: Int, now: Instant, into batch: inout ForwardingBatch) {
        guard tracks[slot]!.layers.indices.contains(layer) else { return }
        if tracks[slot]!.layers[layer].keyframes == nil {
            tracks[slot]!.layers[layer].keyframeWanted = true
            return
        }
        if let packet = tracks[slot]!.layers[layer].keyframes!.request(now: now) {
            batch.append(.sendRTCP(to: tracks[slot]!.publisher, packet))
        }
    }

    func keyframeRequester(mediaSSRC: UInt32) -> KeyframeRequester<Instant> {
        KeyframeRequester(senderSSRC: feedbackSSRC, mediaSSRC: mediaSSRC, method: .pli,
                          minimumInterval: configuration.keyframeRequestInterval)
    }
}
