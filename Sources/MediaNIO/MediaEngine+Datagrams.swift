import MediaCore
import MediaCrypto
import MediaForwarding
import MediaPackets
import NIOCore
import SFrameEnforcement
import SFrame
import RelayLinks

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
                // The publisher's sender reports are not needed by the forwarding core yet.
                if peer.role == .subscriber {
                    meeting.router.receiveRTCP(from: session.id, packet: UnsafeRawBufferPointer(rebasing: raw[0..<length]), now: time, into: &batch)
                }
            } else {
                guard let length = try? srtp.inbound.unprotectRTP(raw, length: raw.count) else { return false }
                if peer.role == .publisher {
                    let packet = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                    if let id = peer.transportCCID { recordTransportSequence(packet, id: id, peer: peer, now: time) }
                    if meeting.endToEndEncryptionRequired, !carriesEndToEndEncryption(packet, meeting: meeting, publisher: session.id) {
                        statistics.e2eeViolations += 1
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

    /// In an E2EE-required meeting, whether a publisher's (SRTP-decrypted) RTP packet may be
    /// forwarded: the first packet of each frame must carry the SFrame layout for its codec
    /// (`E2EEPayloadValidator`: VP8's clear prefix then an SFrame header; Opus all SFrame).
    /// A codec without an E2EE layout (H.264 today) is refused, and a publisher caught once
    /// sending without the layout has all its media refused from then on. RTX and unknown
    /// payload types pass to the forwarding core, which drops publishers' RTX.
    func carriesEndToEndEncryption(_ packet: UnsafeRawBufferPointer, meeting: MeetingState, publisher: ParticipantID) -> Bool {
        guard !meeting.refusedPublishers.contains(publisher) else { return false }
        guard let header = try? RTPHeader.parse(packet) else { return false }
        guard let track = meeting.tracks.values.first(where: { $0.publisher == publisher && $0.codec.payloadType == header.payloadType }) else {
            return true
        }
        let codec: E2EECodec
        switch track.codec.encodingName.lowercased() {
        case "vp8": codec = .vp8
        case "opus": codec = .opus
        default:
            meeting.refusedPublishers.insert(publisher)
            return false
        }
        let payload = UnsafeRawBufferPointer(rebasing: packet[header.payloadRange])
        do {
            _ = try E2EEPayloadValidator.validate(rtpPayload: payload, codec: codec, senderSlot: nil)
            return true
        } catch {
            meeting.refusedPublishers.insert(publisher)
            logger.warning("publisher refused: media without end-to-end encryption in an E2EE-required meeting", metadata: ["violation": "\(error)"])
            return false
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
                guard let subscriber = meeting.byID[to]?.subscriber, subscriber.isConnected,
                      let srtp = subscriber.srtp, let target = subscriber.destination else { continue }
                let offset = arena!.writerIndex
                let written = arena!.writeWithUnsafeMutableBytes(minimumWritableBytes: range.count + srtp.profile.rtpTagLength) { raw in
                    batch.withPacket(range) { packet in raw.copyMemory(from: packet) }
                    return (try? srtp.outbound.protectRTP(raw, length: range.count)) ?? 0
                }
                guard written > 0 else { statistics.srtpFailures += 1; continue }
                outgoing.append(OutgoingPacket(target: target, offset: offset, length: written))
                statistics.rtpForwarded += 1
                if retransmission { statistics.rtpRetransmitted += 1 }
                statistics.datagramsSent += 1
            case .sendRTCP(let to, let packet):
                if let remote = meeting.remoteByID[to] {
                    // A keyframe request for a track of another node goes to its origin.
                    if let link = relayLinks[remote.link], let bytes = try? RTCPCompound.serialize([packet]) {
                        sendRelay(bytes, kind: .rtcp, over: link)
                    }
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
            case .activeSpeakerChanged(let id):
                meeting.broadcast(.activeSpeaker(id.flatMap { meeting.byID[$0]?.name }))
            case .layerSwitched:
                break
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
    }
}
