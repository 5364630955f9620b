/// Tunables of simulcast layer switches under congestion (issue 6).
public struct LayerSwitchConfiguration: Sendable, Equatable {
    /// What the layer being left does while a switch *down* under congestion waits for the
    /// target layer's keyframe.
    public var congestedDownSwitch: CongestedDownSwitch = .pauseAtFrameEnd
    /// The keyframe request for a congested switch down waits this long (or the subscriber's
    /// round-trip time, if longer, up to half of `maximumPause`) after the pause began, so the
    /// keyframe meets a bottleneck queue that has drained rather than the full one.
    public var congestedKeyframeDelay: Duration = .milliseconds(300)
    /// A paused layer flows again after this long without the target keyframe (the repeated
    /// PLIs go on), so a publisher that never answers cannot freeze the subscriber.
    public var maximumPause: Duration = .seconds(1)
    /// Repairs (NACK answers) of the layer being left while a switch is pending.
    public var leftLayerRepairs: LeftLayerRepairs = .sent
    /// After a switch, NACKs for the packets of the target keyframe are watched this long: a
    /// packet of it NACKed again (its repair was lost too) or not repairable asks the
    /// publisher for a new keyframe (RFC 4585 §6.3.1).
    public var keyframeWatch: Duration = .seconds(2)
    /// A subscriber counts as congested for this long after a loss report above the
    /// estimator's decrease threshold.
    public var congestionMemory: Duration = .seconds(3)
    /// A higher layer is chosen only when its measured bitrate times this fits the
    /// subscriber's share (hysteresis against flapping at a layer's edge); while the
    /// subscriber is congested, no higher layer is chosen at all.
    public var upSwitchHeadroom = 1.15
    public init() {}
}

/// The layer being left, while a switch down under congestion waits for the target keyframe.
public enum CongestedDownSwitch: Sendable, Equatable {
    /// Keep forwarding it until the keyframe (what an uncongested switch does).
    case keepForwarding
    /// Stop it at the end of the current frame (the RTP marker bit), so the bottleneck's
    /// queue drains and the target keyframe gets through it; the picture holds meanwhile.
    case pauseAtFrameEnd
}

/// Repairs of the layer being left while a switch is pending.
public enum LeftLayerRepairs: Sendable, Equatable {
    /// Not sent: the subscriber's decoder restarts at the target keyframe, and the repairs
    /// would only keep the bottleneck full.
    case dropped
    /// Sent as usual, within the subscriber's retransmission budget.
    case sent
}

/// One subscription's switch in progress: whether the current layer is paused for a
/// congested switch down, and, after a switch, which outgoing packets carried the target
/// keyframe. Value type, injected time; ``ForwardingRouter`` drives it.
struct LayerSwitchState<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// A switch down under congestion was decided at this instant (nil: none pending).
    private(set) var pendingSince: Instant?
    /// The current layer's frame ended after the decision: its packets are held.
    private(set) var paused = false
    /// The target keyframe's outgoing sequence numbers (`end` set at its marker bit), watched until `until`.
    private(set) var keyframe: (start: UInt16, end: UInt16?, until: Instant)?

    var isPending: Bool { pendingSince != nil }
    /// Whether the keyframe request of a pending congested switch should wait still.
    func delaysKeyframeRequest(now: Instant, roundTripTime: Duration?, configuration: LayerSwitchConfiguration) -> Bool {
        guard let pendingSince, configuration.congestedDownSwitch == .pauseAtFrameEnd else { return false }
        let delay = min(max(configuration.congestedKeyframeDelay, roundTripTime ?? .zero), configuration.maximumPause / 2)
        return pendingSince.duration(to: now) < delay
    }

    /// A switch happened and its keyframe's last packet has not been seen yet.
    var isWatchingKeyframeEnd: Bool { keyframe != nil && keyframe?.end == nil }

    /// A switch down was decided while the subscriber is congested.
    mutating func downSwitchDecided(now: Instant) {
        if pendingSince == nil { pendingSince = now }
    }

    /// The switch is no longer wanted (or the current layer is fine again).
    mutating func cancel() {
        pendingSince = nil
        paused = false
    }

    /// A packet of the current layer while a switch is pending: whether to forward it.
    /// The packet ending a frame (`marker`) is forwarded and pauses the layer after it.
    mutating func forwardsCurrent(marker: Bool, now: Instant, configuration: LayerSwitchConfiguration) -> Bool {
        guard let pendingSince, configuration.congestedDownSwitch == .pauseAtFrameEnd else { return true }
        if pendingSince.duration(to: now) >= configuration.maximumPause { return true }
        if paused { return false }
        if marker { paused = true }
        return true
    }

    /// Forwarding moved to the target layer at its keyframe, sent as `sequence`.
    mutating func switched(firstSequence sequence: UInt16, now: Instant, configuration: LayerSwitchConfiguration) {
        cancel()
        keyframe = (sequence, nil, now.advanced(by: configuration.keyframeWatch))
    }

    /// A packet of the new layer was sent as `sequence`; the keyframe ends at its marker bit.
    mutating func forwardedAfterSwitch(sequence: UInt16, marker: Bool) {
        guard let watched = keyframe, watched.end == nil, marker else { return }
        keyframe = (watched.start, sequence, watched.until)
    }

    /// Whether `sequence` carried the watched keyframe (until the watch expires).
    mutating func isKeyframePacket(_ sequence: UInt16, now: Instant) -> Bool {
        guard let watched = keyframe else { return false }
        if watched.until <= now {
            keyframe = nil
            return false
        }
        let offset = sequence &- watched.start
        guard offset < 0x8000 else { return false }
        guard let end = watched.end else { return true }  // the frame has not ended yet
        return offset <= end &- watched.start
    }
}
