public import Logging
import MediaCrypto
public import NIOCore
import NIOPosix
public import OpenSSLWrapper
public import ServiceLifecycle

/// The node's media service (issue 6): one UDP port, every peer connection of every meeting
/// on this node. Run it in the node's `ServiceGroup`; the signaling layer calls its API.
///
/// All state lives on one event loop (``MediaEngine``); each API call hops onto it. Events for
/// a participant arrive on the `AsyncStream` that ``join(meeting:participant:autoSubscribe:)``
/// returns, which ends when the participant leaves or the service stops.
public final class MediaServer: Service, Sendable {
    let engine: MediaEngine
    let loop: any EventLoop
    let configuration: MediaServerConfiguration
    let logger: Logger
    private let bound: EventLoopPromise<Int>

    /// - Parameters:
    ///   - certificate: the DTLS certificate whose fingerprint goes into SDP; a fresh one
    ///     by default (RFC 8827 §6.5 lets it be ephemeral).
    ///   - now: the clock the cores read (injected for tests).
    ///   - eventLoop: the loop that owns all media state; one of NIO's shared loops by
    ///     default. `demarc loadtest` passes a dedicated one so it can pin it to a core and
    ///     read its thread's CPU time.
    public init(configuration: MediaServerConfiguration = MediaServerConfiguration(), certificate: ECDSACertificate? = nil,
                logger: Logger = Logger(label: "demarc.media"),
                now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now },
                eventLoop: (any EventLoop)? = nil) throws(OpenSSLError) {
        self.configuration = configuration
        self.logger = logger
        loop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        let chosen: ECDSACertificate
        if let certificate { chosen = certificate } else { chosen = try ECDSACertificate(commonName: "demarc-media") }
        engine = try MediaEngine(configuration: configuration, certificate: chosen, loop: loop, logger: logger, now: now)
        bound = loop.makePromise(of: Int.self)
    }

    deinit {
        // A server that never ran must not leak its promise (NIO checks in debug builds);
        // completing an already completed promise is ignored.
        bound.fail(MediaSessionError.notRunning)
    }

    /// Binds the UDP port and serves until cancelled or gracefully shut down.
    public func run() async throws {
        let vector = max(1, configuration.vectorReadCount)
        let engine = self.engine
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(configuration.socketBufferBytes))
                .channelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(configuration.socketBufferBytes))
                .channelOption(.datagramVectorReadMessageCount, value: vector)
                // With vector reads the buffer is split across messages (PLATFORM-NOTES).
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vector * 2_048))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(MediaDatagramHandler(engine: engine))
                    }
                }
                .bind(host: configuration.bindHost, port: configuration.port).get()
        } catch {
            bound.fail(error)
            throw error
        }
        try await loop.submit {
            engine.attach(channel)
            self.bound.succeed(engine.port ?? 0)
        }.get()
        logger.info("media UDP bound", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
        try await loop.submit { engine.detach() }.get()
    }

    /// Runs `body` on the media event loop's thread (e.g. to read that thread's CPU time).
    public func onMediaThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await loop.submit(body).get()
    }

    /// Starts (or restarts) recording how long forwarding each publisher packet takes inside
    /// the SFU, for load tests; ``takeForwardingDelays()`` returns the samples.
    public func recordForwardingDelays() async throws {
        let engine = self.engine
        try await loop.submit { engine.forwardingDelayNanoseconds = [] }.get()
    }

    /// The forwarding delays recorded since ``recordForwardingDelays()``, in nanoseconds, and
    /// stops recording.
    public func takeForwardingDelays() async throws -> [UInt32] {
        let engine = self.engine
        return try await loop.submit { () -> [UInt32] in
            defer { engine.forwardingDelayNanoseconds = nil }
            return engine.forwardingDelayNanoseconds ?? []
        }.get()
    }

    /// The bound UDP port, once ``run()`` has bound it.
    public func boundPort() async throws -> Int { try await bound.futureResult.get() }

    // MARK: The signaling API

    /// `participant` joins `meeting` on this node. Returns its event stream: the participants
    /// and tracks already there, then changes, subscriber offers and connection states. With
    /// `autoSubscribe` it receives every track of the others (LiveKit's default).
    ///
    /// Every participant gets a sender slot (``senderSlot(meeting:participant:)``). With
    /// `identityKey` (base64 of its 32-byte X25519 public key, validated by the caller) it
    /// declares end-to-end encryption: the others' `participantJoined` carry the key and slot,
    /// and it may publish in an E2EE-required meeting. `node` is the id of the node it is
    /// connected to, shown to the others.
    public func join(meeting: String, participant: String, autoSubscribe: Bool = true, identityKey: String? = nil,
                     node: String? = nil) async throws(MediaSessionError) -> AsyncStream<MediaEvent> {
        try await onLoop { engine throws(MediaSessionError) in
            try engine.join(meeting: meeting, participant: participant, autoSubscribe: autoSubscribe, identityKey: identityKey, node: node)
        }
    }

    /// The SFrame sender slot assigned to `participant` at join (nil: not joined): a random
    /// value in 1..<2^31, unique among the meeting's participants on this node. Its frames'
    /// KIDs must carry it (KID = slot << 16 | generation, docs/e2ee.md).
    public func senderSlot(meeting: String, participant: String) async -> UInt32? {
        try? await onLoop { engine throws(MediaSessionError) in try engine.session(meeting, participant).1.slot }
    }

    /// Whether `meeting`'s policy requires end-to-end encryption here
    /// (``requireEndToEndEncryption(meeting:)``).
    public func endToEndEncryptionRequired(meeting: String) async -> Bool {
        (try? await onLoop { engine throws(MediaSessionError) in engine.encryptedMeetings.contains(meeting) }) ?? false
    }

    /// The largest sealed media key relayed (a Demarc envelope is 73 bytes; docs/e2ee.md).
    public static let maximumMediaKeyEnvelope = 512

    /// Relays a sealed media key from `from` to `to` as ``MediaEvent/mediaKey(from:envelope:)``.
    /// The envelope is opaque: the SFU cannot open it. Throws `unknownParticipant` when `to`
    /// is not in the meeting on this node.
    public func relayMediaKey(meeting: String, from: String, to: String, envelope: [UInt8]) async throws(MediaSessionError) {
        try await onLoop { engine throws(MediaSessionError) in try engine.relayMediaKey(meeting: meeting, from: from, to: to, envelope: envelope) }
    }

    /// Whether every publisher frame this node accepted for forwarding in `meeting` carried
    /// the SFrame layout with its publisher's slot (issue 8 §4; checked on each frame's first
    /// packet, in every meeting whatever its policy): nil if no media frame was forwarded,
    /// false if any lacked it. Frames refused in an E2EE-required meeting are not forwarded and
    /// do not count. Kept after the meeting empties, until
    /// ``forgetEndToEndEncryptionObservation(meeting:)``.
    public func endToEndEncryptionObserved(meeting: String) async -> Bool? {
        (try? await onLoop { engine throws(MediaSessionError) in
            (engine.meetings[meeting]?.observation ?? engine.observations[meeting])?.allEncrypted
        }) ?? nil
    }

    /// Drops the record behind ``endToEndEncryptionObserved(meeting:)`` of a meeting that has
    /// ended (the node calls it once it has logged the result).
    public func forgetEndToEndEncryptionObservation(meeting: String) async {
        try? await onLoop { engine throws(MediaSessionError) in
            engine.observations[meeting] = nil
            engine.meetings[meeting]?.observation = EndToEndEncryptionObservation()
        }
    }

    /// The client's offer for its publisher peer connection; returns the SFU's answer.
    public func publish(meeting: String, participant: String, offer: String) async throws(MediaSessionError) -> String {
        try await onLoop { engine throws(MediaSessionError) in try engine.publish(meeting: meeting, participant: participant, offer: offer) }
    }

    /// The client's answer to the last ``MediaEvent/subscriberOffer(sdp:)``.
    public func answerSubscriber(meeting: String, participant: String, answer: String) async throws(MediaSessionError) {
        try await onLoop { engine throws(MediaSessionError) in try engine.answerSubscriber(meeting: meeting, participant: participant, answer: answer) }
    }

    /// Starts (`subscribe: true`) or stops receiving the given tracks (ids from ``MediaTrackInfo``).
    public func subscribe(meeting: String, participant: String, tracks: [String], subscribe: Bool = true) async throws(MediaSessionError) {
        try await onLoop { engine throws(MediaSessionError) in
            try engine.subscribe(meeting: meeting, participant: participant, tracks: tracks, subscribe: subscribe)
        }
    }

    /// The publisher (un)muted its track; the others are told.
    public func setMuted(meeting: String, participant: String, track: String, muted: Bool) async throws(MediaSessionError) {
        try await onLoop { engine throws(MediaSessionError) in try engine.setMuted(meeting: meeting, participant: participant, track: track, muted: muted) }
    }

    /// The participant leaves: its tracks end, its peer connections close, its stream finishes.
    public func leave(meeting: String, participant: String) async {
        try? await onLoop { engine throws(MediaSessionError) in engine.leave(meeting: meeting, participant: participant) }
    }

    /// Marks `meeting` as requiring end-to-end encryption (its policy says `e2ee: required`):
    /// from now on a publisher frame without the SFrame layout is dropped and that publisher's
    /// media refused. The SFU never holds a media key; it checks the layout only.
    public func requireEndToEndEncryption(meeting: String) async {
        try? await onLoop { engine throws(MediaSessionError) in engine.encryptedMeetings.insert(meeting); engine.meetings[meeting]?.endToEndEncryptionRequired = true }
    }

    public func statistics() async -> MediaServerStatistics {
        (try? await onLoop { engine throws(MediaSessionError) in
            var statistics = engine.statistics
            // Uplink recovery is counted by each meeting's forwarding core (current meetings).
            for meeting in engine.meetings.values {
                statistics.nacksSentToPublishers += meeting.router.counters.nacksSentToPublishers
                statistics.publisherRetransmissionsReceived += meeting.router.counters.publisherRetransmissionsReceived
                statistics.addCongestionCounters(meeting.router.counters)
            }
            return statistics
        }) ?? MediaServerStatistics()
    }

    /// The tracks currently published in `meeting` on this node.
    public func tracks(meeting: String) async -> [MediaTrackInfo] {
        (try? await onLoop { engine throws(MediaSessionError) in
            engine.meetings[meeting].map { state in state.trackOrder.compactMap { state.tracks[$0]?.info } } ?? []
        }) ?? []
    }

    // MARK: Relay links (issue 7; docs/relay.md)

    /// Opens a relay link of a cascaded meeting; both ends call it, each with its own
    /// direction keys. From now on this node sends the meeting's tracks over it once each
    /// and shows the far side's participants and tracks as its own.
    public func openRelayLink(_ spec: RelayLinkSpec) async throws(MediaSessionError) {
        try await onLoop { engine throws(MediaSessionError) in try engine.openRelayLink(spec) }
    }

    /// Closes the link: the remote participants and tracks it brought leave the meeting here.
    public func closeRelayLink(_ linkID: UInt64) async {
        try? await onLoop { engine throws(MediaSessionError) in engine.closeRelayLink(linkID) }
    }

    /// The open relay links and their counters.
    public func relayLinks() async -> [RelayLinkStatus] {
        (try? await onLoop { engine throws(MediaSessionError) in engine.relayLinkStatuses() }) ?? []
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (MediaEngine) throws(MediaSessionError) -> T) async throws(MediaSessionError) -> T {
        let engine = self.engine
        let result: Result<T, MediaSessionError>
        do {
            result = try await loop.submit { () -> Result<T, MediaSessionError> in
                do throws(MediaSessionError) { return .success(try body(engine)) } catch { return .failure(error) }
            }.get()
        } catch {
            throw .notRunning
        }
        return try result.get()
    }
}

/// Hands every datagram of the media socket to the engine (already on its loop).
final class MediaDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let engine: MediaEngine

    init(engine: MediaEngine) { self.engine = engine }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        engine.receive(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port-unreachable surfaces as an error on UDP sockets; keep serving.
        engine.logger.debug("media socket error", metadata: ["error": "\(error)"])
    }
}

@available(*, unavailable)
extension MediaDatagramHandler: Sendable {}
