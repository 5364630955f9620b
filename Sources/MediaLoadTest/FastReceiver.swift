import MediaCrypto
import MediaPackets
import NIOCore

/// How the load generator's subscribers take in what the SFU sends them.
public enum LoadReceiveMode: Sendable, Equatable {
    /// Every datagram goes through an `AsyncStream` to a Swift task that SRTP-decrypts it
    /// and timestamps it: exact, but one core of it tops out at ~40,000–50,000 packets/s, below
    /// what the SFU sends at issue 6's load.
    case decryptEvery
    /// ``FastReceiver``: each subscriber's socket is read in batches (`recvmmsg`) by a channel
    /// handler on the event loop that counts every RTP datagram and SRTP-decrypts (so
    /// authenticates) and timestamps only every `sampleEvery`-th one. The report says which
    /// fraction was decrypted.
    case sampled(every: Int)
}

/// What one subscriber's ``FastReceiver`` saw.
struct FastReceiverTally: Sendable {
    /// RTP datagrams (``PacketClassifier``: RFC 7983 / RFC 5761 first-byte and payload-type ranges), every one.
    var rtpPackets = 0
    var rtpBytes = 0
    /// Sampled packets (and each stream's first) that authenticated and decrypted, and those that did not.
    var decrypted = 0
    var decryptFailures = 0
    /// Why the failed samples failed (an `SRTPError` case, or "short payload"), by count.
    var failureReasons: [String: Int] = [:]
    /// Publisher send → this receiver's handler, of the decrypted samples, in milliseconds.
    var latencies: [Double] = []
}

/// The load generator's fast receive path (issue 6: show ≥ 150,000 packets/s out of the SFU in
/// wall-clock time). Put first in a ``SyntheticPeer``'s pipeline once it is connected: RTP
/// stops here, everything else (STUN, DTLS, RTCP) goes on to the peer's own collector.
///
/// Counting is honest but not a decryption of everything: every RTP datagram is counted, and
/// each `sampleEvery`-th is copied, SRTP-unprotected with the subscriber's own context (a
/// failure is counted, never hidden) and timestamped from the send time in its payload;
/// so is each packet of a stream until one of it authenticates. SRTP's index estimate
/// copes with the gaps after that (RFC 3711 §3.3.1: up to 2^15 packets).
final class FastReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias InboundOut = AddressedEnvelope<ByteBuffer>

    private let inbound: SRTPContext
    private let sampleEvery: Int
    private let origin: ContinuousClock.Instant
    private(set) var tally = FastReceiverTally()
    private var untilSample: Int
    /// SSRCs of which a packet has authenticated.
    private var established: Set<UInt32> = []

    init(inbound: SRTPContext, sampleEvery: Int, origin: ContinuousClock.Instant) {
        self.inbound = inbound
        self.sampleEvery = max(1, sampleEvery)
        self.origin = origin
        untilSample = self.sampleEvery
        tally.latencies.reserveCapacity(4_096)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let buffer = envelope.data
        // RTP, not RTCP, STUN or DTLS (RFC 7983 §7, RFC 5761 §4), by its first two bytes.
        guard buffer.withUnsafeReadableBytes({ PacketClassifier.classify($0) }) == .rtp else {
            context.fireChannelRead(data)
            return
        }
        tally.rtpPackets += 1
        tally.rtpBytes += buffer.readableBytes
        untilSample -= 1
        // A stream's packets are decrypted until one authenticates: the SRTP context learns
        // its rollover counter from there (RFC 3711 §3.3.1). A first sample taken after the
        // sender's sequence number wrapped would otherwise be guessed at ROC 0 and never
        // authenticate.
        let ssrc = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt32.self) ?? 0
        let unseen = !established.contains(ssrc)
        guard untilSample == 0 || unseen else { return }
        if untilSample == 0 { untilSample = sampleEvery }
        var packet = Array(buffer.readableBytesView)
        do {
            try inbound.unprotectRTP(&packet)
        } catch {
            tally.decryptFailures += 1
            tally.failureReasons["\(error)", default: 0] += 1
            return
        }
        established.insert(ssrc)
        guard let header = try? RTPHeader.parse(packet), header.payloadLength >= 12 else {
            tally.decryptFailures += 1
            tally.failureReasons["short payload", default: 0] += 1
            return
        }
        tally.decrypted += 1
        let stamp = packet[header.payloadOffset + 4..<header.payloadOffset + 12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let now = origin.duration(to: .now)
        let nanos = UInt64(now.components.seconds) * 1_000_000_000 + UInt64(now.components.attoseconds / 1_000_000_000)
        tally.latencies.append(Double(nanos &- stamp) / 1e6)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension FastReceiver: Sendable {}

/// The ``FastReceiver``s of a load test's subscribers, each confined to its channel's loop.
struct FastReceivers: Sendable {
    private var installed: [(channel: any Channel, handler: NIOLoopBound<FastReceiver>)] = []

    /// Vector reads of this many datagrams per `recvmmsg` (docs/media.md: with vector reads the
    /// receive buffer is split evenly, so it is sized for full-MTU datagrams).
    static let vectorReadCount = 32

    /// Installs a receiver first in each connected subscriber's pipeline and switches its
    /// socket to batched reads.
    static func attach(to peers: [SyntheticPeer], sampleEvery: Int, origin: ContinuousClock.Instant) async throws -> FastReceivers {
        var receivers = FastReceivers()
        for peer in peers {
            guard peer.srtp != nil else { throw SyntheticPeerError("a connected subscriber for the fast receiver") }
            let channel = peer.channel
            try await channel.setOption(.datagramVectorReadMessageCount, value: vectorReadCount).get()
            try await channel.setOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vectorReadCount * 2_048)).get()
            try await channel.setOption(.maxMessagesPerRead, value: 8).get()
            let handler = try await channel.eventLoop.submit {
                // The peer's contexts are used on its channel's loop from here on only.
                guard let inbound = peer.srtp?.inbound else { throw SyntheticPeerError("a connected subscriber for the fast receiver") }
                let receiver = FastReceiver(inbound: inbound, sampleEvery: sampleEvery, origin: origin)
                try channel.pipeline.syncOperations.addHandler(receiver, position: .first)
                return NIOLoopBound(receiver, eventLoop: channel.eventLoop)
            }.get()
            receivers.installed.append((channel, handler))
        }
        return receivers
    }

    /// Every receiver's tally, summed (latencies concatenated, unsorted).
    func collect() async throws -> FastReceiverTally {
        var total = FastReceiverTally()
        for (channel, handler) in installed {
            let tally = try await channel.eventLoop.submit { handler.value.tally }.get()
            total.rtpPackets += tally.rtpPackets
            total.rtpBytes += tally.rtpBytes
            total.decrypted += tally.decrypted
            total.decryptFailures += tally.decryptFailures
            total.failureReasons.merge(tally.failureReasons, uniquingKeysWith: +)
            total.latencies += tally.latencies
        }
        return total
    }
}
