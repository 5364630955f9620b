import Logging
import MediaCore
import MediaForwarding
import MediaNegotiation
import MediaPackets
import NIOCore
import RelayLinks

/// Relay links (issue 7, media side; docs/relay.md): each link carries every track this node
/// knows in the meeting once — all simulcast layers, whatever the number of subscribers
/// behind it — and the far side's tracks become local publications of remote participants,
/// served to local subscribers by the normal forwarding path.
extension MediaEngine {
    // MARK: Opening and closing

    func openRelayLink(_ spec: RelayLinkSpec) throws(MediaSessionError) {
        loop.preconditionInEventLoop()
        guard channel != nil else { throw .notRunning }
        guard relayLinks[spec.linkID] == nil else { throw .relayLink("link \(spec.linkID) is already open") }
        guard !spec.meeting.isEmpty else { throw .relayLink("the link names no meeting") }
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: spec.remoteHost, port: spec.remotePort) } catch {
            throw .relayLink("the remote media address \(spec.remoteHost):\(spec.remotePort) is not an IP address and port")
        }
        let meeting = meetingState(spec.meeting)
        meetings[spec.meeting] = meeting
        let link = RelayLink(spec: spec, address: address)
        relayLinks[spec.linkID] = link
        meeting.links.append(spec.linkID)
        sendSnapshot(meeting, over: link, now: now())
        logger.info("relay link opened", metadata: ["link": "\(spec.linkID)", "remoteNode": "\(spec.remoteNode)"])
    }

    func closeRelayLink(_ id: UInt64) {
        loop.preconditionInEventLoop()
        guard let link = relayLinks.removeValue(forKey: id) else { return }
        guard let meeting = meetings[link.spec.meeting] else { return }
        meeting.links.removeAll { $0 == id }
        removeRemotes(of: link, in: meeting)
        if meeting.isEmpty { forget(meeting) }
        logger.info("relay link closed", metadata: ["link": "\(id)"])
    }

    func relayLinkStatuses() -> [RelayLinkStatus] {
        relayLinks.keys.sorted().compactMap { id in
            guard let link = relayLinks[id] else { return nil }
            let remotes = meetings[link.spec.meeting]?.remotes.values.filter { $0.link == id }.map(\.info.name).sorted() ?? []
            return RelayLinkStatus(linkID: id, meeting: link.spec.meeting, remoteNode: link.spec.remoteNode,
                                   packetsSent: link.packetsSent, bytesSent: link.bytesSent,
                                   packetsReceived: link.packetsReceived, bytesReceived: link.bytesReceived,
                                   rtpSent: link.rtpSent, rtpReceived: link.rtpReceived,
                                   authenticated: link.authenticated, lastReceived: link.lastReceived,
                                   remoteParticipants: remotes,
                                   rtpSentByLayer: link.rtpSentByLayer, rtpWithheld: link.rtpWithheld,
                                   farWants: link.wanted.map { $0.mapValues { $0.sorted() } },
                                   layerCeiling: link.congestion.ceiling, lossEstimate: link.congestion.loss)
        }
    }

    // MARK: Sending

    func sendRelay(_ packet: [UInt8], kind: RelayPacket.Kind, over link: RelayLink) {
        guard let channel else { return }
        let datagram: [UInt8]
        do { datagram = try link.sealer.seal(packet, kind: kind) } catch {
            logger.debug("relay packet not sealed", metadata: ["link": "\(link.spec.linkID)", "error": "\(error)"])
            return
        }
        link.packetsSent += 1
        link.bytesSent += datagram.count
        statistics.relayDatagramsSent += 1
        statistics.datagramsSent += 1
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: link.address, data: channel.allocator.buffer(bytes: datagram)), promise: nil)
    }

    /// A publisher's (decrypted, unrewritten) RTP goes once over every link of the meeting
    /// but `except` — split horizon: never back over the link it came from. Each link keeps
    /// a copy per SSRC to answer the far side's NACKs.
    ///
    /// Only the layers the far side wants cross (all until it first says; a newly wanted
    /// layer from its next keyframe), and none above the link's congestion ceiling.
    func relayOut(_ packet: UnsafeRawBufferPointer, meeting: MeetingState, except: UInt64?, now: MediaInstant) {
        guard let header = try? RTPHeader.parse(packet) else { return }
        if except == nil, !meeting.announcedSSRCs.contains(header.ssrc) { meeting.snapshotDue = true }
        let key = relayLayer(of: header.ssrc, in: meeting)
        if let key, key.layerCount > 1 {
            if meeting.relay.meters[header.ssrc] == nil, meeting.relay.meters.count < RelayLink.maximumStreams {
                meeting.relay.meters[header.ssrc] = LayerBitrateMeter(window: configuration.forwarding.bitrateWindow)
            }
            meeting.relay.meters[header.ssrc]?.record(bytes: packet.count, now: now)
        }
        var bytes: [UInt8]?
        for id in meeting.links where id != except {
            guard let link = relayLinks[id] else { continue }
            if let key {
                guard link.carries(track: key.track, layer: key.layer, layerCount: key.layerCount) else {
                    link.rtpWithheld += 1
                    continue
                }
                if let since = link.awaitingKeyframe[header.ssrc] {
                    if since.duration(to: now) < RelayLink.keyframeWait, !startsKeyframe(packet, header: header, key: key, meeting: meeting) {
                        link.rtpWithheld += 1
                        continue
                    }
                    link.awaitingKeyframe[header.ssrc] = nil
                }
                link.rtpSentByLayer[min(key.layer, 2)] += 1
            } else if link.wanted != nil {
                // Not a known layer (publisher RTX, a layer not learned yet): the far side
                // has said what it wants, and this is none of it.
                link.rtpWithheld += 1
                continue
            }
            // Past the cache bound a stream still crosses, without link repairs.
            if link.outgoingCache[header.ssrc] == nil, link.outgoingCache.count < RelayLink.maximumCachedStreams {
                link.outgoingCache[header.ssrc] = RetransmissionCache(capacity: RelayLink.cacheCapacity, maxPacketSize: RelayPacket.maximumPayload)
            }
            _ = link.outgoingCache[header.ssrc]?.store(packet, sequenceNumber: header.sequenceNumber)
            link.rtpSent += 1
            link.congestion.packetsSent()
            if bytes == nil { bytes = Array(packet) }
            sendRelay(bytes!, kind: .rtp, over: link)
        }
    }

    /// Which layer of which track `ssrc` is (this node's SSRCs), cached until the next snapshot.
    func relayLayer(of ssrc: UInt32, in meeting: MeetingState) -> MeetingRelayState.LayerKey? {
        if let key = meeting.relay.layerOf[ssrc] { return key }
        if meeting.relay.unknown.contains(ssrc) { return nil }
        for id in meeting.trackOrder {
            guard let track = meeting.tracks[id] else { continue }
            let count = max(1, track.layers.count)
            for layer in 0..<count where relaySSRC(of: track, layer: layer, in: meeting) == ssrc {
                let key = MeetingRelayState.LayerKey(track: id, layer: layer, layerCount: count, isVideo: track.info.kind == "video")
                meeting.relay.layerOf[ssrc] = key
                return key
            }
        }
        if meeting.relay.unknown.count < MeetingRelayState.maximumUnknown { meeting.relay.unknown.insert(ssrc) }
        return nil
    }

    /// The SSRC of a layer of one of this node's tracks, if known yet.
    func relaySSRC(of track: PublishedTrack, layer: Int, in meeting: MeetingState) -> UInt32? {
        meeting.router.ssrc(of: track.trackID, layer: layer) ?? (track.layers.indices.contains(layer) ? track.layers[layer].ssrc : nil)
    }

    /// Whether a packet may start a layer's stream over a link: the first packet of a
    /// keyframe for VP8 and H.264; always for audio, other codecs and end-to-end encrypted
    /// meetings (whose payloads cannot be inspected).
    func startsKeyframe(_ packet: UnsafeRawBufferPointer, header: RTPHeader, key: MeetingRelayState.LayerKey, meeting: MeetingState) -> Bool {
        guard key.isVideo, !meeting.endToEndEncryptionRequired, let track = meeting.tracks[key.track] else { return true }
        let payload = UnsafeRawBufferPointer(rebasing: packet[header.payloadRange])
        switch ForwardedCodec(encodingName: track.codec.encodingName) {
        case .vp8: return (try? KeyframeDetector.isVP8Keyframe(payload)) ?? false
        case .h264: return (try? KeyframeDetector.isH264Keyframe(payload)) ?? false
        default: return true
        }
    }

    /// One datagram when the message fits; otherwise fragments (`RelayControlFragment`), each
    /// sealed on its own, put back together by the far side's reassembler.
    func sendControl(_ message: RelayControlMessage, over link: RelayLink) {
        do {
            let bytes = try message.encoded()
            if bytes.count <= RelayPacket.maximumPayload {
                sendRelay(bytes, kind: .control, over: link)
                return
            }
            guard bytes.count <= RelayControlFragment.maximumMessage else { throw RelayControlError.tooLarge(bytes.count) }
            link.nextFragmentedMessage &+= 1
            for fragment in try RelayControlFragment.split(bytes, id: link.nextFragmentedMessage) {
                sendRelay(fragment, kind: .controlFragment, over: link)
            }
            statistics.relayControlFragmented += 1
        } catch {
            logger.warning("relay control message not sent", metadata: ["link": "\(link.spec.linkID)", "error": "\(error)"])
        }
    }

    /// The full state this node brings over `link`: its own participants and those of its
    /// other links (a chain forwards them), never the ones that came over `link` itself.
    func snapshot(_ meeting: MeetingState, for link: UInt64) -> [RelayParticipantState] {
        var states: [RelayParticipantState] = []
        for name in meeting.participants.keys.sorted() {
            guard let session = meeting.participants[name] else { continue }
            let map = session.extensionMap
            states.append(RelayParticipantState(
                name: name, node: session.info.node ?? configuration.nodeName, identityKey: session.info.identityKey, slot: session.info.slot,
                extensions: RelayExtensionIDs(mid: map.mid, rid: map.rtpStreamID, repairedRID: map.repairedRTPStreamID, audioLevel: map.audioLevel),
                tracks: trackStates(of: session.id, in: meeting)))
        }
        for name in meeting.remotes.keys.sorted() {
            guard let remote = meeting.remotes[name], remote.link != link else { continue }
            states.append(RelayParticipantState(name: name, node: remote.info.node, identityKey: remote.info.identityKey, slot: remote.info.slot,
                                                extensions: remote.extensions, tracks: trackStates(of: remote.id, in: meeting)))
        }
        return states
    }

    func trackStates(of publisher: ParticipantID, in meeting: MeetingState) -> [RelayTrackState] {
        meeting.trackOrder.compactMap { id -> RelayTrackState? in
            guard let track = meeting.tracks[id], track.publisher == publisher else { return nil }
            let layers = (track.layers.isEmpty ? [SimulcastLayerDescription()] : track.layers).enumerated().map { index, layer in
                RelayLayer(rid: layer.rid, ssrc: meeting.router.ssrc(of: track.trackID, layer: index) ?? layer.ssrc)
            }
            let codec = track.codec
            return RelayTrackState(id: id, kind: track.info.kind, mid: track.publisherMid, streamID: track.info.streamID,
                                   trackID: track.info.trackID, muted: track.info.muted,
                                   codec: RelayCodec(payloadType: codec.payloadType, encodingName: codec.encodingName, clockRate: codec.clockRate,
                                                     channels: codec.channels, formatParameters: codec.formatParameters,
                                                     feedback: codec.feedback, rtxPayloadType: codec.rtxPayloadType),
                                   layers: layers)
        }
    }

    func sendSnapshot(_ meeting: MeetingState, over link: RelayLink, now: MediaInstant) {
        let states = snapshot(meeting, for: link.spec.linkID)
        sendControl(.roster(states.map(\.name)), over: link)
        for state in states {
            for layer in state.tracks.flatMap(\.layers) { if let ssrc = layer.ssrc { meeting.announcedSSRCs.insert(ssrc) } }
            sendControl(.participant(state), over: link)
        }
        link.lastSnapshot = now
        meeting.relay.invalidateLayers()
    }

    // MARK: Receiving

    /// A 0xD1 datagram: dropped and counted unless it names an open link and authenticates
    /// under the link's key (replays refused by the opener's window). The source address is
    /// not checked: the key is the link's identity, and between nodes a datagram may come
    /// through a NAT, a load balancer or a delaying relay (`demarc cluster up --netns`) whose
    /// address is not the far node's. Answers always go to the far node's advertised address.
    func receiveRelay(_ datagram: [UInt8], from source: SocketAddress) {
        guard datagram.count >= RelayPacket.headerLength,
              let link = relayLinks[datagram[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }] else {
            statistics.relayRefused += 1
            return
        }
        let opened: (kind: RelayPacket.Kind, packet: [UInt8])
        do { opened = try link.opener.open(datagram) } catch {
            statistics.relayRefused += 1
            return
        }
        let time = now()
        statistics.relayDatagramsReceived += 1
        link.packetsReceived += 1
        link.bytesReceived += datagram.count
        link.authenticated = true
        link.lastReceived = time
        if link.stale {
            link.stale = false
            link.lastSnapshot = nil   // the far side may have dropped ours too: resend now
        }
        guard let meeting = meetings[link.spec.meeting] else { return }
        switch opened.kind {
        case .rtp: receiveRelayRTP(opened.packet, over: link, meeting: meeting, now: time)
        case .rtcp: receiveRelayRTCP(opened.packet, over: link, meeting: meeting, now: time)
        case .control:
            do { apply(try RelayControlMessage.decode(opened.packet), from: link, in: meeting, now: time) } catch {
                statistics.relayRefused += 1
                logger.debug("relay control message refused", metadata: ["link": "\(link.spec.linkID)", "error": "\(error)"])
            }
        case .controlFragment:
            do {
                guard let whole = try link.reassembler.receive(opened.packet, now: time) else { return }
                apply(try RelayControlMessage.decode(whole), from: link, in: meeting, now: time)
            } catch {
                statistics.relayRefused += 1
                logger.debug("relay control fragment refused", metadata: ["link": "\(link.spec.linkID)", "error": "\(error)"])
            }
        }
    }

    /// RTP from the far side: loss noted for link NACKs (by the far SSRC), the SSRC replaced
    /// by the one the stream has here (`localSSRC(for:)`), then forwarded like a local
    /// publisher's and passed on over the meeting's other links.
    func receiveRelayRTP(_ datagram: [UInt8], over link: RelayLink, meeting: MeetingState, now time: MediaInstant) {
        link.rtpReceived += 1
        batch.reset()
        var packet = datagram
        guard let header = packet.withUnsafeBytes({ try? RTPHeader.parse($0) }) else { return }
        if link.nackGenerators[header.ssrc] == nil, link.nackGenerators.count < RelayLink.maximumStreams {
            link.nackGenerators[header.ssrc] = NACKGenerator()
        }
        link.nackGenerators[header.ssrc]?.packetReceived(sequenceNumber: header.sequenceNumber, now: time)
        guard let owner = link.ssrcOwner[header.ssrc] ?? packet.withUnsafeBytes({ learnedOwner(header, $0, link: link, meeting: meeting) }),
              let local = localSSRC(for: header.ssrc, link: link, meeting: meeting) else { return }
        packet[8] = UInt8(truncatingIfNeeded: local >> 24)
        packet[9] = UInt8(truncatingIfNeeded: local >> 16)
        packet[10] = UInt8(truncatingIfNeeded: local >> 8)
        packet[11] = UInt8(truncatingIfNeeded: local)
        packet.withUnsafeBytes { raw in
            // Defence in depth: a remote publisher's frames are checked like a local one's.
            guard admitsEndToEndEncryption(raw, meeting: meeting, publisher: owner, slot: meeting.remoteByID[owner]?.info.slot) else { return }
            meeting.router.receiveRTP(from: owner, packet: raw, now: time, into: &batch)
            statistics.relayRTPForwarded += 1
            if meeting.links.count > 1 { relayOut(raw, meeting: meeting, except: link.spec.linkID, now: time) }
        }
        perform(meeting)
    }

    /// The SSRC the far node's stream `far` has in this node's meeting: a fresh random one,
    /// unique among the meeting's SSRCs here, kept for the stream's life. Two nodes'
    /// publishers may choose the same SSRC (RFC 3550 §8.2 resolves collisions only within
    /// one RTP session); remapping per link keeps them apart. Nil past the link's bound.
    func localSSRC(for far: UInt32, link: RelayLink, meeting: MeetingState) -> UInt32? {
        if let known = link.localSSRC[far] { return known }
        guard link.localSSRC.count < RelayLink.maximumStreams else { return nil }
        var ssrc: UInt32
        repeat {
            ssrc = UInt32.random(in: 1...UInt32.max)
        } while meeting.relay.remapped.contains(ssrc) || meeting.subscriberSSRCs.contains(ssrc) || ssrc == meeting.router.feedbackSSRC
            || meeting.tracks.values.contains(where: { track in (0..<max(1, track.layers.count)).contains { relaySSRC(of: track, layer: $0, in: meeting) == ssrc } })
        link.localSSRC[far] = ssrc
        link.farSSRC[ssrc] = far
        meeting.relay.remapped.insert(ssrc)
        return ssrc
    }

    /// Forgets the remapping of the far SSRCs `owner` published over `link`.
    func forgetSSRCs(of owner: ParticipantID?, link: RelayLink, meeting: MeetingState) {
        for (far, id) in link.ssrcOwner where owner == nil || id == owner {
            guard let local = link.localSSRC.removeValue(forKey: far) else { continue }
            link.farSSRC[local] = nil
            meeting.relay.remapped.remove(local)
        }
        if owner == nil {
            for local in link.localSSRC.values { link.farSSRC[local] = nil; meeting.relay.remapped.remove(local) }
            link.localSSRC = [:]
            link.farSSRC = [:]
        }
    }

    /// Feedback of the forwarding core for a track a link brings (a keyframe request, a
    /// NACK of the publisher's stream), sent over that link with the far node's SSRCs.
    func relayFeedback(_ packet: RTCPPacket, to remote: RemoteParticipant) {
        guard let link = relayLinks[remote.link] else { return }
        let translated: RTCPPacket
        switch packet {
        case .pictureLossIndication(var pli):
            guard let far = link.farSSRC[pli.mediaSSRC] else { return }
            pli.mediaSSRC = far
            translated = .pictureLossIndication(pli)
        case .fullIntraRequest(var fir):
            fir.entries = fir.entries.compactMap { entry in link.farSSRC[entry.ssrc].map { FullIntraRequest.Entry(ssrc: $0, sequenceNumber: entry.sequenceNumber) } }
            guard !fir.entries.isEmpty else { return }
            translated = .fullIntraRequest(fir)
        case .nack(var nack):
            guard let far = link.farSSRC[nack.mediaSSRC] else { return }
            nack.mediaSSRC = far
            translated = .nack(nack)
        default:
            return   // REMB and transport-cc stay local to each node
        }
        guard let bytes = try? RTCPCompound.serialize([translated]) else { return }
        sendRelay(bytes, kind: .rtcp, over: link)
    }

    /// An SSRC the snapshot did not name yet (simulcast learned from rid): the remote
    /// publisher of the link whose track has the packet's mid.
    func learnedOwner(_ header: RTPHeader, _ packet: UnsafeRawBufferPointer, link: RelayLink, meeting: MeetingState) -> ParticipantID? {
        for remote in meeting.remotes.values where remote.link == link.spec.linkID {
            guard let mid = header.mid(remote.extensionMap, in: packet),
                  remote.tracks.values.contains(where: { meeting.tracks[$0]?.publisherMid == mid }) else { continue }
            link.ssrcOwner[header.ssrc] = remote.id
            return remote.id
        }
        return nil
    }

    /// Feedback from the far side: NACKs for what we sent over the link are answered from
    /// the link's cache; PLI/FIR go to the track's publisher, here or over another link.
    func receiveRelayRTCP(_ packet: [UInt8], over link: RelayLink, meeting: MeetingState, now time: MediaInstant) {
        guard let packets = try? RTCPCompound.parse(packet) else { return }
        for rtcp in packets {
            switch rtcp {
            case .nack(let nack):
                guard let cache = link.outgoingCache[nack.mediaSSRC] else { continue }
                // Only what was sent counts as lost: a gap the sender made on purpose (a layer
                // not wanted, or waiting for its keyframe) is not the link's loss.
                var lost = 0
                defer { link.congestion.packetsNACKed(lost) }
                for sequence in nack.pairs.flatMap(Self.sequenceNumbers) {
                    guard let bytes = cache.withPacket(sequenceNumber: sequence, { Array($0) }) else { continue }
                    lost += 1
                    statistics.relayRTPRetransmitted += 1
                    sendRelay(bytes, kind: .rtp, over: link)
                }
            case .pictureLossIndication(let pli):
                keyframeRequested(pli.mediaSSRC, over: link, meeting: meeting, now: time)
            case .fullIntraRequest(let fir):
                for entry in fir.entries { keyframeRequested(entry.ssrc, over: link, meeting: meeting, now: time) }
            default:
                break   // REMB and transport-cc stay local to each node (docs/relay.md)
            }
        }
    }

    static func sequenceNumbers(_ pair: GenericNACK.Pair) -> [UInt16] {
        var result = [pair.packetID]
        for bit in 0..<16 where pair.bitmask & (1 << bit) != 0 { result.append(pair.packetID &+ UInt16(bit + 1)) }
        return result
    }

    func keyframeRequested(_ ssrc: UInt32, over link: RelayLink, meeting: MeetingState, now time: MediaInstant) {
        // The far side asks for a keyframe of a layer it is switching to: it wants the layer
        // now (its next `layerWants` confirms), from that keyframe on.
        if link.wanted != nil, let key = relayLayer(of: ssrc, in: meeting), link.wanted![key.track]?.contains(key.layer) != true {
            link.wanted![key.track, default: []].insert(key.layer)
            link.awaitingKeyframe[ssrc] = time
        }
        // The far side's forwarding core already throttles (and defers) per layer; this
        // guards the publisher against a misbehaving link, at half that interval so a
        // deferred request is never the one dropped.
        if let last = link.keyframeSentAt[ssrc], last.duration(to: time) < configuration.forwarding.keyframeRequestInterval / 2 { return }
        link.keyframeSentAt[ssrc] = time
        let pli = RTCPPacket.pictureLossIndication(PictureLossIndication(senderSSRC: meeting.router.feedbackSSRC, mediaSSRC: ssrc))
        for track in meeting.tracks.values {
            guard let session = meeting.byID[track.publisher] else { continue }
            let count = max(1, track.layers.count)
            guard (0..<count).contains(where: { meeting.router.ssrc(of: track.trackID, layer: $0) == ssrc }) else { continue }
            guard let publisher = session.publisher, publisher.isConnected, let srtp = publisher.srtp, let target = publisher.destination,
                  var bytes = try? RTCPCompound.serialize([pli]), (try? srtp.outbound.protectRTCP(&bytes)) != nil else { return }
            statistics.rtcpSent += 1
            send(bytes, to: target)
            return
        }
        for id in meeting.links where id != link.spec.linkID {
            guard let other = relayLinks[id], let far = other.farSSRC[ssrc],
                  let bytes = try? RTCPCompound.serialize([.pictureLossIndication(PictureLossIndication(senderSSRC: meeting.router.feedbackSSRC, mediaSSRC: far))])
            else { continue }
            sendRelay(bytes, kind: .rtcp, over: other)
            return
        }
    }

    // MARK: Control

    func apply(_ message: RelayControlMessage, from link: RelayLink, in meeting: MeetingState, now time: MediaInstant) {
        switch message {
        case .roster(let names):
            let listed = Set(names)
            for remote in meeting.remotes.values where remote.link == link.spec.linkID && !listed.contains(remote.info.name) {
                removeRemote(remote, in: meeting)
            }
        case .participant(let state):
            applyParticipant(state, from: link, in: meeting)
        case .mediaKey(let from, let to, let envelope):
            forwardMediaKey(meeting: meeting, from: from, to: to, envelope: envelope, arrivedOver: link.spec.linkID)
        case .layerWants(let wants):
            applyLayerWants(wants, from: link, in: meeting, now: time)
        case .layerRates(let rates):
            applyLayerRates(rates, from: link, in: meeting, now: time)
        }
    }

    func applyParticipant(_ state: RelayParticipantState, from link: RelayLink, in meeting: MeetingState) {
        guard meeting.participants[state.name] == nil else { return }   // a local participant has the name
        let remote: RemoteParticipant
        if let known = meeting.remotes[state.name] {
            guard known.link == link.spec.linkID else { return }          // another link brings it
            remote = known
            if remote.extensions != state.extensions {
                remote.extensions = state.extensions
                try? meeting.router.updateExtensionMap(remote.id, remote.extensionMap)
            }
        } else {
            let id = ParticipantID(meeting.nextParticipant)
            let info = MediaParticipantInfo(name: state.name, node: state.node ?? link.spec.remoteNode,
                                            identityKey: state.identityKey, slot: state.slot)
            remote = RemoteParticipant(id: id, link: link.spec.linkID, info: info, extensions: state.extensions)
            do { try meeting.router.join(id, extensionMap: remote.extensionMap) } catch { return }
            meeting.nextParticipant += 1
            meeting.remotes[state.name] = remote
            meeting.remoteByID[id] = remote
            meeting.broadcast(.participantJoined(info))
            meeting.snapshotDue = true
        }
        for track in state.tracks {
            for layer in track.layers {
                guard let ssrc = layer.ssrc else { continue }
                link.ssrcOwner[ssrc] = remote.id
                _ = localSSRC(for: ssrc, link: link, meeting: meeting)
            }
        }
        let listed = Set(state.tracks.map(\.id))
        for (remoteID, localID) in remote.tracks where !listed.contains(remoteID) {
            remote.tracks[remoteID] = nil
            unpublish(localID, in: meeting)
        }
        var touched: Set<String> = []
        for track in state.tracks {
            if let localID = remote.tracks[track.id] {
                if let known = meeting.tracks[localID], known.info.muted != track.muted {
                    meeting.tracks[localID]!.info.muted = track.muted
                    meeting.broadcast(.trackMuted(id: localID, muted: track.muted))
                    meeting.snapshotDue = true
                }
                continue
            }
            guard let published = publishRemote(track, of: remote, over: link, in: meeting) else { continue }
            remote.tracks[track.id] = published.info.id
            for other in meeting.participants.values where other.autoSubscribe {
                addSection(for: published, to: other, in: meeting)
                touched.insert(other.name)
            }
        }
        for name in touched.sorted() {
            if let other = meeting.participants[name] { renegotiate(other, in: meeting) }
        }
    }

    func publishRemote(_ track: RelayTrackState, of remote: RemoteParticipant, over link: RelayLink, in meeting: MeetingState) -> PublishedTrack? {
        let number = meeting.nextTrack
        let id = "T\(number)"
        let layers = track.layers.map { SimulcastLayerDescription(rid: $0.rid, ssrc: $0.ssrc.flatMap { link.localSSRC[$0] }) }
        let codec = NegotiatedCodec(payloadType: track.codec.payloadType, encodingName: track.codec.encodingName, clockRate: track.codec.clockRate,
                                    channels: track.codec.channels, formatParameters: track.codec.formatParameters,
                                    feedback: track.codec.feedback, rtxPayloadType: track.codec.rtxPayloadType)
        let description = PublishedTrackDescription(
            id: TrackID(number), mid: track.mid, kind: track.kind == "audio" ? .audio : .video, clockRate: codec.clockRate,
            payloadTypes: [PayloadTypeDescription(payloadType: codec.payloadType, codec: ForwardedCodec(encodingName: codec.encodingName),
                                                  rtxPayloadType: codec.rtxPayloadType)],
            layers: layers)
        do { try meeting.router.publish(description, by: remote.id) } catch {
            logger.warning("remote track refused", metadata: ["error": "\(error)"])
            return nil
        }
        meeting.nextTrack += 1
        let info = MediaTrackInfo(id: id, participant: remote.info.name, kind: track.kind, streamID: track.streamID, trackID: track.trackID,
                                  simulcastLayers: layers.count, muted: track.muted)
        let published = PublishedTrack(info: info, trackID: TrackID(number), publisher: remote.id, publisherMid: track.mid,
                                       codec: codec, layers: layers)
        meeting.tracks[id] = published
        meeting.trackOrder.append(id)
        meeting.broadcast(.trackPublished(info))
        meeting.snapshotDue = true   // a chain passes it on at once
        return published
    }

    func removeRemotes(of link: RelayLink, in meeting: MeetingState) {
        for name in meeting.remotes.keys.sorted() {
            if let remote = meeting.remotes[name], remote.link == link.spec.linkID { removeRemote(remote, in: meeting) }
        }
        forgetSSRCs(of: nil, link: link, meeting: meeting)
        link.ssrcOwner = [:]
        link.nackGenerators = [:]
        link.wanted = nil
        link.awaitingKeyframe = [:]
        link.wantsSent = nil
        link.ratesAvailable = [:]
    }

    /// The remote participant's tracks end and it leaves, as a local one would.
    func removeRemote(_ remote: RemoteParticipant, in meeting: MeetingState) {
        for localID in remote.tracks.values.sorted() {
            unpublish(localID, in: meeting)
            meeting.relay.originRates[localID] = nil
        }
        remote.tracks = [:]
        batch.reset()
        meeting.router.leave(remote.id, into: &batch)
        perform(meeting)
        meeting.remotes[remote.info.name] = nil
        meeting.remoteByID[remote.id] = nil
        meeting.refusedPublishers.remove(remote.id)
        if let link = relayLinks[remote.link] {
            forgetSSRCs(of: remote.id, link: link, meeting: meeting)
            link.ssrcOwner = link.ssrcOwner.filter { $0.value != remote.id }
        }
        meeting.broadcast(.participantLeft(remote.info.name))
        meeting.snapshotDue = true
    }

    /// An E2EE sealed media key for `to`, a participant on another node: sent over the link
    /// that brings it. Returns false when no link does. A key arriving for a participant on
    /// this node is handed to the hook below.
    @discardableResult
    func forwardMediaKey(meeting: MeetingState, from: String, to: String, envelope: [UInt8], arrivedOver: UInt64?) -> Bool {
        if let remote = meeting.remotes[to], remote.link != arrivedOver, let link = relayLinks[remote.link] {
            sendControl(.mediaKey(from: from, to: to, envelope: envelope), over: link)
            return true
        }
        if arrivedOver != nil, let recipient = meeting.participants[to] {
            recipient.events.yield(.mediaKey(from: from, envelope: envelope))
            return true
        }
        return false
    }

    // MARK: Timer

    /// Per link: the far side's silence (removes what it brought), snapshots, and NACKs for
    /// what was lost on the link.
    func tickRelayLinks(now time: MediaInstant) {
        for id in relayLinks.keys.sorted() {
            guard let link = relayLinks[id], let meeting = meetings[link.spec.meeting] else { continue }
            if link.authenticated, !link.stale, let last = link.lastReceived, last.duration(to: time) >= configuration.relayLinkTimeout {
                link.stale = true
                logger.warning("relay link silent: its participants leave", metadata: ["link": "\(id)"])
                removeRemotes(of: link, in: meeting)
            }
            for ssrc in link.nackGenerators.keys {
                let output = link.nackGenerators[ssrc]!.tick(now: time)
                guard !output.nack.isEmpty else { continue }
                let nack = GenericNACK(senderSSRC: meeting.router.feedbackSSRC, mediaSSRC: ssrc, pairs: ForwardingRouter<MediaInstant>.nackPairs(output.nack))
                if let bytes = try? RTCPCompound.serialize([.nack(nack)]) { sendRelay(bytes, kind: .rtcp, over: link) }
            }
        }
        for meeting in meetings.values where !meeting.links.isEmpty { tickRelayLayers(meeting, now: time) }
        for meeting in meetings.values where !meeting.links.isEmpty {
            let due = meeting.snapshotDue
            meeting.snapshotDue = false
            for id in meeting.links {
                guard let link = relayLinks[id] else { continue }
                if due || link.lastSnapshot.map({ $0.duration(to: time) >= configuration.relaySnapshotInterval }) ?? true {
                    sendSnapshot(meeting, over: link, now: time)
                }
            }
        }
    }
}
