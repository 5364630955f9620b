import Foundation
import RelayLinks

/// A control message on a relay link (`RelayPacket.Kind.control`, kind 3): what the far node
/// needs to show the near node's participants and tracks as its own (docs/relay.md).
///
/// JSON, sealed like media. Each node sends, per link, a full-state snapshot every
/// `relaySnapshotInterval` — one `roster` (every participant it brings over this link) and
/// one `participant` per participant with its tracks — and the same at once after a change,
/// so a lost control datagram heals at the next snapshot. `mediaKey` carries an E2EE sealed
/// media key (opaque to nodes) to a participant on the far side.
enum RelayControlMessage: Equatable, Sendable {
    case roster([String])
    case participant(RelayParticipantState)
    case mediaKey(from: String, to: String, envelope: [UInt8])
    /// Receiver → sender: the layers of the sender's tracks the receiving node needs (the
    /// union of its subscribers' current and target layers and its other links' wishes); a
    /// track not listed is not needed. Sent within a tick of a change and with every snapshot.
    case layerWants([RelayLayerWant])
    /// Sender → receiver: what each simulcast track's layers measure at the sender (bits/s; 0 =
    /// not available over this link, e.g. dropped for congestion) and which of them the link
    /// carries now, so the receiver's layer choice sees layers it does not receive.
    case layerRates([RelayLayerRate])

    static let maximumNameLength = 128
    static let maximumRoster = 256
    static let maximumTracks = 32
    static let maximumEnvelope = 512
    /// Tracks in one `layerWants` / `layerRates` (a full roster of full participants).
    static let maximumLayerEntries = maximumRoster * maximumTracks
    static let maximumBitrate = 1_000_000_000

    private struct Wire: Codable {
        var type: String
        var names: [String]?
        var participant: RelayParticipantState?
        var from: String?
        var to: String?
        var envelope: String?
        var wants: [RelayLayerWant]?
        var rates: [RelayLayerRate]?
    }

    func encoded() throws(RelayControlError) -> [UInt8] {
        try validate()
        let wire: Wire
        switch self {
        case .roster(let names): wire = Wire(type: "roster", names: names)
        case .participant(let state): wire = Wire(type: "participant", participant: state)
        case .mediaKey(let from, let to, let envelope):
            wire = Wire(type: "mediaKey", from: from, to: to, envelope: Data(envelope).base64EncodedString())
        case .layerWants(let wants): wire = Wire(type: "layerWants", wants: wants)
        case .layerRates(let rates): wire = Wire(type: "layerRates", rates: rates)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(wire) else { throw .malformed("unencodable") }
        return Array(data)
    }

    static func decode(_ bytes: [UInt8]) throws(RelayControlError) -> RelayControlMessage {
        let wire: Wire
        do { wire = try JSONDecoder().decode(Wire.self, from: Data(bytes)) } catch {
            throw .malformed("not a relay control object")
        }
        let message: RelayControlMessage
        switch wire.type {
        case "roster":
            guard let names = wire.names else { throw .missing("names") }
            message = .roster(names)
        case "participant":
            guard let state = wire.participant else { throw .missing("participant") }
            message = .participant(state)
        case "mediaKey":
            guard let from = wire.from else { throw .missing("from") }
            guard let to = wire.to else { throw .missing("to") }
            guard let text = wire.envelope, let data = Data(base64Encoded: text) else { throw .invalid(field: "envelope", "not base64") }
            message = .mediaKey(from: from, to: to, envelope: Array(data))
        case "layerWants":
            guard let wants = wire.wants else { throw .missing("wants") }
            message = .layerWants(wants)
        case "layerRates":
            guard let rates = wire.rates else { throw .missing("rates") }
            message = .layerRates(rates)
        default:
            throw .invalid(field: "type", "unknown message type")
        }
        try message.validate()
        return message
    }

    func validate() throws(RelayControlError) {
        func name(_ value: String, _ field: String) throws(RelayControlError) {
            guard !value.isEmpty, value.utf8.count <= Self.maximumNameLength else { throw .invalid(field: field, "empty or longer than \(Self.maximumNameLength) bytes") }
        }
        switch self {
        case .roster(let names):
            guard names.count <= Self.maximumRoster else { throw .invalid(field: "names", "more than \(Self.maximumRoster)") }
            for n in names { try name(n, "names") }
        case .mediaKey(let from, let to, let envelope):
            try name(from, "from")
            try name(to, "to")
            guard !envelope.isEmpty, envelope.count <= Self.maximumEnvelope else { throw .invalid(field: "envelope", "empty or over \(Self.maximumEnvelope) bytes") }
        case .layerWants(let wants):
            guard wants.count <= Self.maximumLayerEntries else { throw .invalid(field: "wants", "more than \(Self.maximumLayerEntries) tracks") }
            for want in wants {
                try name(want.id, "wants.id")
                guard want.layers.count <= 3, want.layers.allSatisfy({ (0..<3).contains($0) }) else {
                    throw .invalid(field: "wants.layers", "not layer indices 0-2")
                }
            }
        case .layerRates(let rates):
            guard rates.count <= Self.maximumLayerEntries else { throw .invalid(field: "rates", "more than \(Self.maximumLayerEntries) tracks") }
            for rate in rates {
                try name(rate.id, "rates.id")
                guard (1...3).contains(rate.bitrates.count), rate.carried.count == rate.bitrates.count else {
                    throw .invalid(field: "rates.bitrates", "not 1-3 layers, one carried flag each")
                }
                guard rate.bitrates.allSatisfy({ (0...Self.maximumBitrate).contains($0) }) else {
                    throw .invalid(field: "rates.bitrates", "outside 0-\(Self.maximumBitrate) bits/s")
                }
            }
        case .participant(let state):
            try name(state.name, "participant.name")
            if let node = state.node { try name(node, "participant.node") }
            if let key = state.identityKey { try name(key, "participant.identityKey") }
            for id in [state.extensions.mid, state.extensions.rid, state.extensions.repairedRID, state.extensions.audioLevel].compactMap({ $0 }) {
                guard (1...14).contains(id) else { throw .invalid(field: "participant.extensions", "header extension id \(id) outside 1-14") }
            }
            guard state.tracks.count <= Self.maximumTracks else { throw .invalid(field: "participant.tracks", "more than \(Self.maximumTracks)") }
            var ids: Set<String> = []
            for track in state.tracks {
                try name(track.id, "track.id")
                try name(track.mid, "track.mid")
                guard ids.insert(track.id).inserted else { throw .invalid(field: "track.id", "repeated") }
                guard track.kind == "audio" || track.kind == "video" else { throw .invalid(field: "track.kind", "not audio or video") }
                guard track.codec.payloadType < 128, (track.codec.rtxPayloadType ?? 0) < 128 else { throw .invalid(field: "track.codec", "payload type above 127") }
                try name(track.codec.encodingName, "track.codec.encodingName")
                guard (1...1_000_000).contains(track.codec.clockRate) else { throw .invalid(field: "track.codec.clockRate", "out of range") }
                guard (1...3).contains(track.layers.count) else { throw .invalid(field: "track.layers", "not 1-3 layers") }
                for layer in track.layers { if let rid = layer.rid { try name(rid, "track.layers.rid") } }
            }
        }
    }
}

/// One participant the sending node brings over a link, with its tracks, as of now.
struct RelayParticipantState: Codable, Equatable, Sendable {
    var name: String
    /// The node it is connected to (not necessarily the sender: a chain forwards).
    var node: String?
    var identityKey: String?
    var slot: UInt32?
    /// The header-extension ids of its RTP (the packets cross the link unrewritten).
    var extensions: RelayExtensionIDs
    var tracks: [RelayTrackState]
}

struct RelayExtensionIDs: Codable, Equatable, Sendable {
    var mid: UInt8?
    var rid: UInt8?
    var repairedRID: UInt8?
    var audioLevel: UInt8?
}

struct RelayTrackState: Codable, Equatable, Sendable {
    /// The sender's track id (its own numbering; the receiver numbers the track anew).
    var id: String
    var kind: String
    /// The publisher's mid: with the rid extension it binds simulcast SSRCs.
    var mid: String
    var streamID: String?
    var trackID: String?
    var muted: Bool
    var codec: RelayCodec
    /// Lowest to highest; SSRCs as the sender knows them (signaled or learned).
    var layers: [RelayLayer]
}

struct RelayCodec: Codable, Equatable, Sendable {
    var payloadType: UInt8
    var encodingName: String
    var clockRate: Int
    var channels: Int?
    var formatParameters: String?
    var feedback: [String]
    var rtxPayloadType: UInt8?
}

struct RelayLayer: Codable, Equatable, Sendable {
    var rid: String?
    var ssrc: UInt32?
}

/// The layers (indices, lowest 0) of one of the sender's tracks (its own track id) the
/// receiving node needs.
struct RelayLayerWant: Codable, Equatable, Sendable {
    var id: String
    var layers: [Int]
}

/// One simulcast track's layers as the sender measures them, and whether the link carries each.
struct RelayLayerRate: Codable, Equatable, Sendable {
    var id: String
    var bitrates: [Int]
    var carried: [Bool]
}

/// Why a relay control message was refused (counted in `relayRefused`, never applied).
enum RelayControlError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case missing(String)
    case invalid(field: String, String)
    case tooLarge(Int)

    var description: String {
        switch self {
        case .malformed(let why): "relay control message malformed: \(why)"
        case .missing(let field): "relay control message lacks \(field)"
        case .invalid(let field, let why): "relay control field \(field) invalid: \(why)"
        case .tooLarge(let n): "relay control message of \(n) bytes exceeds the \(RelayControlFragment.maximumMessage)-byte limit of a fragmented message"
        }
    }
}
