import MediaCore
import MediaCrypto
import MediaForwarding
import MediaPackets
import NIOCore
import SFrameEnforcement
import SFrame
import RelayLinks

/// ``MediaEngine/endToEndEncryptionVerdict(_:meeting:session:)``.
enum EndToEndEncryptionVerdict {
    /// A frame start with the SFrame layout and the publisher's slot.
    case encrypted
    /// A frame start without it (nil: the codec has no E2EE layout).
    case plaintext(E2EEViolation?)
    /// A later packet of a frame, an empty payload, RTX or an unknown payload type.
    case notAFrameStart
    /// From a publisher refused earlier in an E2EE-required meeting.
    case refused
    /// Not an RTP packet the forwarding core could use anyway.
    case unparsable
}

extension MediaEngine {
    // MARK: Inbound datagrams (RFC 7983 demultiplexing)

    /// One datagram from the socket. STUN is routed by the ufrag in its USERNAME; DTLS,
    /// SRTP and SRTCP by the source address, which must have passed an ICE check first.
    func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        statistics.datagramsReceived += 1
        var buffer = envelope.data
        let source = envelope.remoteAddress
        // 0xD1: a relay link's datagram (RFC 7983's unassigned 192-255 range; docs/relay.md).
        if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), RelayPacket.isRelay(first) {
            receiveRelay(Array(buffer.readableBytesView), from: source)
            return
        }
        let kind = buffer.withUnsafeReadableBytes { PacketClassifier.classify($0) }
        switch kind {
        case .stun:
            receiveSTUN(Array(buffer.readableBytesView), from: source)
        case .dtls:
            guard let peer = byAddress[source] else { statistics.unroutable += 1; return }
            receiveDTLS(Array(buffer.readableBytesView), from: source, peer: peer)
        case .rtp, .rtcp:
            guard let peer = byAddress[source], let srtp = peer.srtp, !peer.failed,
                  let meeting = meetings[peer.meeting], let session = meeting.participants[peer.participant] else {
                statistics.unroutable += 1
                return
            }
            receiveSRTP(&buffer, isRTCP: kind == .rtcp, peer: peer, srtp: srtp, meeting: meeting, session: session)
        case .unknown:
            statistics.unroutable += 1
        }
    }

    func receiveSTUN(_ bytes: [UInt8], from source: SocketAddress) {
        statistics.stunRequests += 1
        guard let message = try? STUNMessage.parse(bytes), let username = message.username,
              let ufrag = username.split(separator: ":", maxSplits: 1).first,
              let peer = byUfrag[String(ufrag)], let address = source.transportAddress else {
            statistics.unroutable += 1
            return
        }
        let time = now()
        perform(peer.ice.receive(bytes, from: address, now: time), for: peer, source: source)
        if peer.ice.hasConsent(address, now: time) {
            peer.addresses.insert(source)
            peer.lastChecked = source
            byAddress[source] = peer
        }
    }

    func perform(_ directives: [ICEDirective], for peer: PeerTransport, source: SocketAddress?) {
        for directive in directives {
            switch directive {
            case .send(let bytes, to: let address):
                if let target = socketAddress(address, of: peer, fallback: source) { send(bytes, to: target) }
            case .selectedPairChanged(let address):
                peer.selected = socketAddress(address, of: peer, fallback: source)
                reportConnectedIfReady(peer)
            case .pairExpired(let address):
                if let gone = socketAddress(address, of: peer, fallback: nil) {
                    peer.addresses.remove(gone)
                    if byAddress[gone] === peer { byAddress[gone] = nil }
                    if peer.lastChecked == gone { peer.lastChecked = nil }
                    if peer.selected == gone { peer.selected = nil }
                }
            case .disconnected:
                peer.selected = nil
                peer.lastChecked = nil
                report(peer, .disconnected)
            case .discarded:
                break
            }
        }
    }

    func socketAddress(_ address: TransportAddress, of peer: PeerTransport, fallback: SocketAddress?) -> SocketAddress? {
        if let source = fallback, source.transportAddress == address { return source }
        return peer.addresses.first { $0.transportAddress == address }
    }

    func receiveDTLS(_ bytes: [UInt8], from source: SocketAddress, peer: PeerTransport) {
        do {
            _ = try peer.dtls.receive(bytes)  // application data (SCTP) is not served
        } catch {
            statistics.dtlsFailures += 1
            logger.debug("DTLS failed", metadata: ["role": "\(peer.role)", "error": "\(error)"])
        }
        flushDTLS(peer, to: source)
        if peer.dtls.state == .closed, !peer.failed {
            peer.failed = true
            report(peer, peer.srtp == nil ? .failed : .disconnected)
            return
        }
        establishIfReady(peer)
    }

    func flushDTLS(_ peer: PeerTransport, to address: SocketAddress? = nil) {
        guard let target = address ?? peer.destination else {
            _ = peer.dtls.takeOutgoingDatagrams()
            return
        }
        for datagram in peer.dtls.takeOutgoingDatagrams() { send(datagram, to: target) }
    }

    /// Takes the SRTP keys once the handshake is done and the peer's SDP fingerprint is known
    /// (either may come first: the DTLS ClientHello can race the answer).
    func establishIfReady(_ peer: PeerTransport) {
        guard peer.srtp == nil, !peer.failed, peer.dtls.isHandshakeComplete, let expected = peer.remoteFingerprint else { return }
        do {
            peer.srtp = try DTLSSRTP.establish(peer.dtls, peerFingerprint: expected)
            statistics.dtlsConnected += 1
        } catch {
            statistics.dtlsFailures += 1
            peer.failed = true
            logger.warning("DTLS-SRTP refused", metadata: ["role": "\(peer.role)", "error": "\(error)"])
            peer.dtls.close()
            flushDTLS(peer)
            report(peer, .failed)
            return
        }
        reportConnectedIfReady(peer)
        if peer.role == .subscriber, let meeting = meetings[peer.meeting], let session = meeting.participants[peer.participant] {
            applySubscriptions(session, in: meeting)
        }
    }

    func reportConnectedIfReady(_ peer: PeerTransport) {
        guard peer.isConnected, !peer.reportedConnected else { return }
        peer.reportedConnected = true
        report(peer, .connected)
    }

    func report(_ peer: PeerTransport, _ state: MediaConnectionState) {
        if state != .connected { peer.reportedConnected = false }
        meetings[peer.meeting]?.participants[peer.participant]?.events.yield(.connectionState(peer.role, state))
    }

    /// SRTP from a publisher goes to the forwarding core; SRTCP from a subscriber carries its
    /// feedback (NACK, PLI, FIR, REMB). Both are unprotected in place in the receive buffer.
    func receiveSRTP(_ buffer: inout ByteBuffer, isRTCP: Bool, peer: PeerTransport, srtp: SRTPSession,
                     meeting: MeetingState, session: ParticipantSession) {
        let time = now()
        batch.reset()
        let accepted: Bool = buffer.withUnsafeMutableReadableBytes { raw in
            if isRTCP {
                guard let length = try? srtp.inbound.unprotectRTCP(raw, length: raw.count) else { return false }
                if peer.role == .subscriber {
                    meeting.router.receiveRTCP(from: session.id, packet: UnsafeRawBufferPointer(rebasing: raw[0..<length]), now: time, into: &batch)
                } else {
                    // Publishers' sender reports feed the SFU's receiver and sender reports.
                    meeting.router.receivePublisherRTCP(from: session.id, packet: UnsafeRawBufferPointer(rebasing: raw[0..<length]), now: time)
                }
            } else {
                guard let length = try? srtp.inbound.unprotectRTP(raw, length: raw.count) else { return false }
                if peer.role == .publisher {
                    let packet = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                    if let id = peer.transportCCID { recordTransportSequence(packet, id: id, peer: peer, now: time) }
                    guard admitsEndToEndEncryption(packet, meeting: meeting, publisher: session.id, slot: session.slot) else {
                        return true   // authenticated, but refused: never forwarded
                    }
                    // Tapped before per-subscriber rewriting: each link gets it once (docs/relay.md).
                    if !meeting.links.isEmpty { relayOut(packet, meeting: meeting, except: nil, now: time) }
                    meeting.router.receiveRTP(from: session.id, packet: packet, now: time, into: &batch)
                }
            }
            return true
        }
        guard accepted else {
            statistics.srtpFailures += 1
            return
        }
        let forwards = forwardingDelayNanoseconds != nil && !isRTCP && !batch.directives.isEmpty
        let started = forwards ? ContinuousClock.now : nil
        perform(meeting)
        if let started, forwardingDelayNanoseconds!.count < forwardingDelayLimit {
            let elapsed = started.duration(to: .now)
            forwardingDelayNanoseconds!.append(UInt32(clamping: elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000))
        }
    }

    /// Whether a publisher's packet may be forwarded, by its end-to-end encryption verdict: in
    /// a meeting that requires E2EE a packet that is not, or whose publisher was caught once,
    /// is refused and counted; in every meeting the verdict is recorded (docs/e2ee.md). Used
    /// for local publishers and for those whose media arrives over a relay link (their slot
    /// comes with the link's roster).
    func admitsEndToEndEncryption(_ packet: UnsafeRawBufferPointer, meeting: MeetingState, publisher: ParticipantID, slot: UInt32?) -> Bool {
        let verdict = endToEndEncryptionVerdict(packet, meeting: meeting, publisher: publisher, slot: slot)
        if meeting.endToEndEncryptionRequired {
            switch verdict {
            case .refused, .unparsable:
                statistics.e2eeViolations += 1
                return false
            case .plaintext(let violation):
                meeting.refusedPublishers.insert(publisher)
                logger.warning("publisher refused: media without end-to-end encryption in an E2EE-required meeting",
                               metadata: ["violation": "\(violation.map { "\($0)" } ?? "no E2EE layout for the codec")"])
                statistics.e2eeViolations += 1
                return false
            case .encrypted, .notAFrameStart:
                break
            }
        }
        switch verdict {
        case .encrypted: meeting.observation.encryptedFrames += 1
        case .plaintext, .refused: meeting.observation.plaintextFrames += 1
        case .notAFrameStart, .unparsable: break
        }
        return true
    }

    /// What a publisher's (SRTP-decrypted) RTP packet says about end-to-end encryption
    /// (docs/e2ee.md, "Enforcement"): the first packet of each frame must carry the SFrame
    /// layout of its codec (`E2EEPayloadValidator`: VP8's clear prefix then an SFrame header;
    /// Opus all SFrame) with a KID whose sender slot is the publisher's own. A codec without an
    /// E2EE layout (H.264 today) never qualifies. RTX and unknown payload types are not frame
    /// starts (the forwarding core drops publishers' RTX). Checked in every meeting: required
    /// meetings refuse on it, the others only record it (``EndToEndEncryptionObservation``).
    func endToEndEncryptionVerdict(_ packet: UnsafeRawBufferPointer, meeting: MeetingState, publisher: ParticipantID, slot: UInt32?) -> EndToEndEncryptionVerdict {
        if meeting.endToEndEncryptionRequired, meeting.refusedPublishers.contains(publisher) { return .refused }
        guard let header = try? RTPHeader.parse(packet) else { return .unparsable }
        guard let track = meeting.tracks.values.first(where: { $0.publisher == publisher && $0.codec.payloadType == header.payloadType }) else {
            return .notAFrameStart
        }
        let codec: E2EECodec
        switch track.codec.encodingName.lowercased() {
        case "vp8": codec = .vp8
        case "opus": codec = .opus
        default: return .plaintext(nil)
        }
        let payload = UnsafeRawBufferPointer(rebasing: packet[header.payloadRange])
        do {
            switch try E2EEPayloadValidator.validate(rtpPayload: payload, codec: codec, senderSlot: slot) {
            case .frameStart: return .encrypted
            case .continuation: return .notAFrameStart
            }
        } catch {
            return .plaintext(error)
        }
    }

    /// Notes the arrival of a publisher packet's transport-wide sequence number.
    func recordTransportSequence(_ packet: UnsafeRawBufferPointer, id: UInt8, peer: PeerTransport, now: MediaInstant) {
        guard let header = try? RTPHeader.parse(packet), let sequence = header.transportSequenceNumber(id: id, in: packet) else { return }
        if peer.transportFeedback == nil, let meeting = meetings[peer.meeting] {
            peer.transportFeedback = TransportFeedbackRecorder(senderSSRC: meeting.router.feedbackSSRC, mediaSSRC: header.ssrc, epoch: now)
        }
        peer.transportFeedback?.packetReceived(transportSequenceNumber: sequence, arrival: now)
    }

    /// Sends each publisher the transport-cc feedback recorded since the last call.
    func sendTransportFeedback() {
        guard let channel else { return }
        var wrote = false
        for peer in byUfrag.values where peer.transportFeedback != nil {
            guard let srtp = peer.srtp, let target = peer.destination, !peer.failed else { continue }
            for feedback in peer.transportFeedback!.makeFeedback() {
                guard var bytes = try? RTCPCompound.serialize([.transportFeedback(feedback)]),
                      (try? srtp.outbound.protectRTCP(&bytes)) != nil else { statistics.srtpFailures += 1; continue }
                channel.write(AddressedEnvelope(remoteAddress: target, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
                statistics.transportFeedbackSent += 1
                statistics.datagramsSent += 1
                wrote = true
            }
        }
        if wrote { channel.flush() }
    }

    // MARK: Directives of the forwarding core

    /// Performs the batch's directives: SRTP-protects and sends packets, pushes events.
    ///
    /// Every RTP packet of the batch is copied and protected in place in one buffer sized for
    /// the whole batch, then written as slices of it: one allocation per batch rather than
    /// one per subscriber. Slices are taken only after the last packet is written (a slice
    /// shares the storage, so writing after it would copy the buffer). NIO turns the writes
    /// into `sendmmsg` calls on the single flush.
    func perform(_ meeting: MeetingState) {
        guard let channel else { return }
        var wrote = false
        let longestTag = 16  // AEAD_AES_128_GCM's; AES-CM's is 10
        var arenaBytes = 0
        for directive in batch.directives {
            if case .sendRTP(_, let range, _) = directive { arenaBytes += range.count + longestTag }
        }
        // Batches of only RTCP or events (timer ticks, feedback) allocate nothing.
        var arena = arenaBytes > 0 ? channel.allocator.buffer(capacity: arenaBytes) : nil
        outgoing.removeAll(keepingCapacity: true)
        for directive in batch.directives {
            switch directive {
            case .sendRTP(let to, let range, let retransmission):
                // Each of the subscriber's fields is read once (this is `isConnected`): the
                // computed property and a whole `SRTPSession` would copy, and retain, both SRTP
                // contexts and the address again for every packet of every subscriber.
                guard let subscriber = meeting.byID[to]?.subscriber, !subscriber.failed,
                      let outbound = subscriber.srtp?.outbound, let target = subscriber.destination else { continue }
                let offset = arena!.writerIndex
                let written = arena!.writeWithUnsafeMutableBytes(minimumWritableBytes: range.count + outbound.profile.rtpTagLength) { raw in
                    batch.withPacket(range) { packet in raw.copyMemory(from: packet) }
                    return (try? outbound.protectRTP(raw, length: range.count)) ?? 0
                }
                guard written > 0 else { statistics.srtpFailures += 1; continue }
                outgoing.append(OutgoingPacket(target: target, offset: offset, length: written))
                statistics.rtpForwarded += 1
                if retransmission { statistics.rtpRetransmitted += 1 }
                statistics.datagramsSent += 1
            case .sendRTCP(let to, let packet):
                if let remote = meeting.remoteByID[to] {
                    // Feedback for a track of another node goes to its origin (its SSRCs).
                    relayFeedback(packet, to: remote)
                    continue
                }
                guard let publisher = meeting.byID[to]?.publisher, publisher.isConnected,
                      let srtp = publisher.srtp, let target = publisher.destination,
                      var bytes = try? RTCPCompound.serialize([packet]) else { continue }
                guard (try? srtp.outbound.protectRTCP(&bytes)) != nil else { statistics.srtpFailures += 1; continue }
                channel.write(AddressedEnvelope(remoteAddress: target, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
                statistics.rtcpSent += 1
                statistics.datagramsSent += 1
                wrote = true
            case .sendSubscriberRTCP(let to, let packet):
                guard let subscriber = meeting.byID[to]?.subscriber, subscriber.isConnected,
                      let srtp = subscriber.srtp, let target = subscriber.destination,
                      var bytes = try? RTCPCompound.serialize([packet]) else { continue }
                guard (try? srtp.outbound.protectRTCP(&bytes)) != nil else { statistics.srtpFailures += 1; continue }
                channel.write(AddressedEnvelope(remoteAddress: target, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
                statistics.rtcpSent += 1
                statistics.senderReportsSent += 1
                statistics.datagramsSent += 1
                wrote = true
            case .activeSpeakerChanged(let id):
                meeting.broadcast(.activeSpeaker(id.flatMap { meeting.byID[$0]?.name }))
            case .layerSwitched:
                statistics.layerSwitches += 1
            }
        }
        for packet in outgoing {
            channel.write(AddressedEnvelope(remoteAddress: packet.target, data: arena!.getSlice(at: packet.offset, length: packet.length)!), promise: nil)
            wrote = true
        }
        outgoing.removeAll(keepingCapacity: true)
        if wrote { channel.flush() }
    }

    func send(_ bytes: [UInt8], to address: SocketAddress) {
        guard let channel else { return }
        statistics.datagramsSent += 1
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    // MARK: Timers

    /// ICE consent expiry, DTLS retransmission, and the forwarding cores' timers.
    func tick() {
        let time = now()
        for peer in byUfrag.values {
            if peer.dtls.state == .handshaking, let timeout = peer.dtls.retransmissionTimeout, timeout <= .zero {
                try? peer.dtls.handleTimeout()
                flushDTLS(peer)
            }
            if let deadline = peer.ice.nextDeadline, deadline <= time {
                perform(peer.ice.tick(now: time), for: peer, source: nil)
            }
        }
        for meeting in meetings.values {
            batch.reset()
            meeting.router.tick(now: time, into: &batch)
            perform(meeting)
        }
        if !relayLinks.isEmpty { tickRelayLinks(now: time) }
        // transport-cc feedback every other tick (100 ms at the default interval).
        ticks &+= 1
        if ticks % 2 == 0 { sendTransportFeedback() }
        // The SFU's own sender and receiver reports every 20 ticks (1 s at the default).
        if ticks % 20 == 0 { sendReports(now: time) }
    }
}
