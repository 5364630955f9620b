/// Settings of ``ActiveSpeakerDetector``.
public struct ActiveSpeakerConfiguration: Sendable {
    /// How often the loudest participant is re-evaluated (the shell's tick).
    public var evaluationInterval: Duration = .milliseconds(300)
    /// Weight of the newest interval in the smoothed loudness (0…1].
    public var smoothing = 0.5
    /// Loudness (127 − dBov level, RFC 6464 §3) below which a participant counts as silent.
    public var silenceThreshold = 40.0
    /// A challenger must be this much louder than the current speaker…
    public var switchMargin = 6.0
    /// …for this long, before the speaker changes (hysteresis).
    public var holdDuration: Duration = .milliseconds(900)

    public init() {}
}

/// Picks the active speaker from RFC 6464 audio levels, with hysteresis so that brief
/// sounds and two similar voices do not make the speaker flap.
///
/// Each audio packet's level is accumulated; every evaluation interval the per-participant
/// average becomes an exponentially smoothed loudness. The loudest participant above the
/// silence threshold takes over only after it has been louder than the current speaker by
/// `switchMargin` for `holdDuration`. Packets without voice activity count as silence.
/// Value type, injected time: ``observe(_:level:now:)`` per audio packet, ``evaluate(now:)``
/// on a timer, which returns the new speaker when it changes.
public struct ActiveSpeakerDetector<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    struct Entry: Sendable {
        var participant: ParticipantID
        var sum = 0.0
        var count = 0
        var loudness = 0.0
    }

    public let configuration: ActiveSpeakerConfiguration
    private var entries: [Entry] = []
    public private(set) var currentSpeaker: ParticipantID?
    private var challenger: ParticipantID?
    private var challengerSince: Instant?
    private var lastEvaluation: Instant?

    public init(configuration: ActiveSpeakerConfiguration = ActiveSpeakerConfiguration()) {
        self.configuration = configuration
        entries.reserveCapacity(16)
    }

    /// One audio packet's level: `level` is the RFC 6464 value (0 dBov loudest … 127 silent).
    public mutating func observe(_ participant: ParticipantID, level: UInt8, voiceActivity: Bool = true) {
        let loudness = voiceActivity ? Double(127 - min(level, 127)) : 0
        if let i = entries.firstIndex(where: { $0.participant == participant }) {
            entries[i].sum += loudness
            entries[i].count += 1
        } else {
            entries.append(Entry(participant: participant, sum: loudness, count: 1))
        }
    }

    /// Forgets a participant that left; returns the change if it was the speaker.
    public mutating func remove(_ participant: ParticipantID) -> ParticipantID?? {
        entries.removeAll { $0.participant == participant }
        if challenger == participant { challenger = nil; challengerSince = nil }
        if currentSpeaker == participant {
            currentSpeaker = nil
            return .some(nil)
        }
        return nil
    }

    /// When ``evaluate(now:)`` next has work.
    public var nextDeadline: Instant? { lastEvaluation?.advanced(by: configuration.evaluationInterval) }

    /// Smooths the interval's levels and decides; returns `.some(new)` when the speaker changed.
    public mutating func evaluate(now: Instant) -> ParticipantID?? {
        if let lastEvaluation, lastEvaluation.duration(to: now) < configuration.evaluationInterval { return nil }
        lastEvaluation = now
        let a = configuration.smoothing
        var loudest: Int?
        for i in entries.indices {
            let average = entries[i].count > 0 ? entries[i].sum / Double(entries[i].count) : 0
            entries[i].loudness = a * average + (1 - a) * entries[i].loudness
            entries[i].sum = 0
            entries[i].count = 0
            if entries[i].loudness >= configuration.silenceThreshold,
               loudest.map({ entries[i].loudness > entries[$0].loudness }) ?? true {
                loudest = i
            }
        }
        guard let loudest else {
            challenger = nil; challengerSince = nil
            return nil
        }
        let candidate = entries[loudest].participant
        if candidate == currentSpeaker {
            challenger = nil; challengerSince = nil
            return nil
        }
        guard let current = currentSpeaker, let currentIndex = entries.firstIndex(where: { $0.participant == current }) else {
            currentSpeaker = candidate  // nobody speaking yet: the first voice takes it at once
            challenger = nil; challengerSince = nil
            return .some(candidate)
        }
        guard entries[loudest].loudness >= entries[currentIndex].loudness + configuration.switchMargin else {
            challenger = nil; challengerSince = nil
            return nil
        }
        if challenger != candidate {
            challenger = candidate
            challengerSince = now
            return nil
        }
        guard let since = challengerSince, since.duration(to: now) >= configuration.holdDuration else { return nil }
        currentSpeaker = candidate
        challenger = nil; challengerSince = nil
        return .some(candidate)
    }
}
