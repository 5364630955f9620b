import CControlPlane
import CProtobufC

/// `demarc.v1.GossipPacketKind`.
public enum GossipPacketKind: UInt32, Sendable, CaseIterable {
    case ping = 1, pingRequest = 2, ack = 3, nack = 4, gossip = 5, pushPullRequest = 6, pushPullResponse = 7
}

/// `demarc.v1.MemberUpdateKind`.
public enum MemberUpdateKind: UInt32, Sendable, CaseIterable {
    case alive = 1, suspect = 2, dead = 3, left = 4
}

/// `demarc.v1.MemberUpdate`: one disseminated membership fact.
public struct MemberUpdateMessage: Equatable, Sendable {
    public var kind: MemberUpdateKind
    public var nodeID: String
    public var incarnation: UInt64
    /// Who raised a suspicion or declared a death; empty for alive and left.
    public var fromNodeID: String
    /// The node's full state; present on `.alive` only.
    public var state: NodeStateMessage?

    public init(kind: MemberUpdateKind, nodeID: String, incarnation: UInt64, fromNodeID: String = "", state: NodeStateMessage? = nil) {
        self.kind = kind
        self.nodeID = nodeID
        self.incarnation = incarnation
        self.fromNodeID = fromNodeID
        self.state = state
    }

    static let name = "MemberUpdate"

    func validateEncodable() throws(WireError) {
        for (field, value) in [("node_id", nodeID), ("from_node_id", fromNodeID)] where value.hasInteriorNUL {
            throw .invalidValue(message: Self.name, field: field, reason: "contains a NUL character")
        }
        try state?.validateEncodable()
    }

    func withC<R>(_ arena: CArena, _ body: (inout Demarc__V1__MemberUpdate) -> R) -> R {
        var m = Demarc__V1__MemberUpdate()
        demarc__v1__member_update__init(&m)
        m.kind = Demarc__V1__MemberUpdateKind(rawValue: kind.rawValue)
        m.node_id = arena.cString(nodeID)
        m.incarnation = incarnation
        m.from_node_id = arena.cString(fromNodeID)
        if let state { m.state = state.withC(arena) { arena.box($0) } }
        return body(&m)
    }

    init(c m: Demarc__V1__MemberUpdate) throws(WireError) {
        guard let kind = MemberUpdateKind(rawValue: m.kind.rawValue) else {
            throw .invalidValue(message: Self.name, field: "kind", reason: "unknown value \(m.kind.rawValue)")
        }
        self.kind = kind
        nodeID = try CRead.string(m.node_id, message: Self.name, field: "node_id")
        guard !nodeID.isEmpty else { throw .missingField(message: Self.name, field: "node_id") }
        incarnation = m.incarnation
        fromNodeID = try CRead.string(m.from_node_id, message: Self.name, field: "from_node_id")
        state = try m.state.map { p throws(WireError) in try NodeStateMessage(c: p.pointee) }
        if kind == .alive {
            guard let state else { throw .missingField(message: Self.name, field: "state") }
            guard state.nodeID == nodeID else {
                throw .invalidValue(message: Self.name, field: "state.node_id", reason: "differs from node_id")
            }
        }
    }

    /// The exact number of bytes this update adds to a `GossipPacket` it is
    /// appended to (field tag, length prefix and body). Used by dissemination
    /// to fill a datagram without ever exceeding its budget.
    public func encodedSizeInPacket() throws(WireError) -> Int {
        try validateEncodable()
        let arena = CArena()
        let n = withC(arena) { m in withUnsafePointer(to: &m) { demarc__v1__member_update__get_packed_size($0) } }
        return 1 + Varint.length(UInt64(n)) + n
    }
}

/// `demarc.v1.MemberDigest`: what a push-pull requester knows about one member,
/// so the responder sends full entries only for what differs.
public struct MemberDigestMessage: Equatable, Sendable {
    public var nodeID: String
    public var incarnation: UInt64
    /// The member's status as the requester sees it (`.draining` is an alive member that drains).
    public var status: NodeStatusMessage
    public var hasCertificate: Bool
    public var hasCoordinate: Bool

    public init(nodeID: String, incarnation: UInt64, status: NodeStatusMessage, hasCertificate: Bool, hasCoordinate: Bool) {
        self.nodeID = nodeID
        self.incarnation = incarnation
        self.status = status
        self.hasCertificate = hasCertificate
        self.hasCoordinate = hasCoordinate
    }

    static let name = "MemberDigest"

    func boxed(_ arena: CArena) -> UnsafeMutablePointer<Demarc__V1__MemberDigest> {
        var m = Demarc__V1__MemberDigest()
        demarc__v1__member_digest__init(&m)
        m.node_id = arena.cString(nodeID)
        m.incarnation = incarnation
        m.status = Demarc__V1__NodeStatus(rawValue: status.rawValue)
        m.has_certificate = hasCertificate ? 1 : 0
        m.has_coordinate = hasCoordinate ? 1 : 0
        return arena.box(m)
    }

    init(c m: Demarc__V1__MemberDigest) throws(WireError) {
        nodeID = try CRead.string(m.node_id, message: Self.name, field: "node_id")
        guard !nodeID.isEmpty else { throw .missingField(message: Self.name, field: "node_id") }
        incarnation = m.incarnation
        guard let status = NodeStatusMessage(rawValue: m.status.rawValue) else {
            throw .invalidValue(message: Self.name, field: "status", reason: "unknown value \(m.status.rawValue)")
        }
        self.status = status
        hasCertificate = m.has_certificate != 0
        hasCoordinate = m.has_coordinate != 0
    }
}

/// `demarc.v1.MemberCoordinate`: another member's cached Vivaldi coordinate.
public struct MemberCoordinateMessage: Equatable, Sendable {
    public var nodeID: String
    public var coordinate: VivaldiCoordinateMessage

    public init(nodeID: String, coordinate: VivaldiCoordinateMessage) {
        self.nodeID = nodeID
        self.coordinate = coordinate
    }

    static let name = "MemberCoordinate"

    func boxed(_ arena: CArena) -> UnsafeMutablePointer<Demarc__V1__MemberCoordinate> {
        var m = Demarc__V1__MemberCoordinate()
        demarc__v1__member_coordinate__init(&m)
        m.node_id = arena.cString(nodeID)
        m.coordinate = coordinate.boxed(arena)
        return arena.box(m)
    }

    init(c m: Demarc__V1__MemberCoordinate) throws(WireError) {
        nodeID = try CRead.string(m.node_id, message: Self.name, field: "node_id")
        guard !nodeID.isEmpty else { throw .missingField(message: Self.name, field: "node_id") }
        guard let c = m.coordinate?.pointee else { throw .missingField(message: Self.name, field: "coordinate") }
        coordinate = try VivaldiCoordinateMessage(c: c, message: Self.name)
    }
}

/// `demarc.v1.GossipPacket`: everything one gossip datagram or push-pull frame carries.
public struct GossipPacketMessage: Equatable, Sendable {
    public static let protocolVersion: UInt32 = 1

    public var protocolVersion: UInt32
    public var kind: GossipPacketKind
    public var senderNodeID: String
    public var senderEpoch: UInt64
    public var packetSequence: UInt64
    public var sentAtUnixMilliseconds: Int64
    public var probeSequence: UInt32
    public var targetNodeID: String
    public var targetAddress: String
    public var targetPort: UInt32
    public var coordinate: VivaldiCoordinateMessage?
    public var updates: [MemberUpdateMessage]
    public var states: [NodeStateMessage]
    public var join: Bool
    /// PUSH_PULL_REQUEST: every other member the sender knows, in digest form.
    public var digests: [MemberDigestMessage]
    /// PUSH_PULL_RESPONSE: cached coordinates the requester's digest said it lacks.
    public var coordinates: [MemberCoordinateMessage]
    /// PUSH_PULL_REQUEST sent because the peer's digest showed newer entries; answered, never pulled back.
    public var pullBack: Bool

    public init(kind: GossipPacketKind, senderNodeID: String, protocolVersion: UInt32 = GossipPacketMessage.protocolVersion,
                senderEpoch: UInt64 = 0, packetSequence: UInt64 = 0, sentAtUnixMilliseconds: Int64 = 0,
                probeSequence: UInt32 = 0, targetNodeID: String = "", targetAddress: String = "", targetPort: UInt32 = 0,
                coordinate: VivaldiCoordinateMessage? = nil, updates: [MemberUpdateMessage] = [],
                states: [NodeStateMessage] = [], join: Bool = false, digests: [MemberDigestMessage] = [],
                coordinates: [MemberCoordinateMessage] = [], pullBack: Bool = false) {
        self.protocolVersion = protocolVersion
        self.kind = kind
        self.senderNodeID = senderNodeID
        self.senderEpoch = senderEpoch
        self.packetSequence = packetSequence
        self.sentAtUnixMilliseconds = sentAtUnixMilliseconds
        self.probeSequence = probeSequence
        self.targetNodeID = targetNodeID
        self.targetAddress = targetAddress
        self.targetPort = targetPort
        self.coordinate = coordinate
        self.updates = updates
        self.states = states
        self.join = join
        self.digests = digests
        self.coordinates = coordinates
        self.pullBack = pullBack
    }

    static let name = "GossipPacket"
    /// More updates or states than this in one message is rejected as garbage.
    public static let maximumStates = 100_000

    func validateEncodable() throws(WireError) {
        for (field, value) in [("sender_node_id", senderNodeID), ("target_node_id", targetNodeID),
                               ("target_address", targetAddress)] where value.hasInteriorNUL {
            throw .invalidValue(message: Self.name, field: field, reason: "contains a NUL character")
        }
        for u in updates { try u.validateEncodable() }
        for s in states { try s.validateEncodable() }
        for d in digests where d.nodeID.hasInteriorNUL {
            throw .invalidValue(message: MemberDigestMessage.name, field: "node_id", reason: "contains a NUL character")
        }
        for c in coordinates where c.nodeID.hasInteriorNUL {
            throw .invalidValue(message: MemberCoordinateMessage.name, field: "node_id", reason: "contains a NUL character")
        }
    }

    public func serialized() throws(WireError) -> [UInt8] {
        try validateEncodable()
        let arena = CArena()
        var m = Demarc__V1__GossipPacket()
        demarc__v1__gossip_packet__init(&m)
        m.protocol_version = protocolVersion
        m.kind = Demarc__V1__GossipPacketKind(rawValue: kind.rawValue)
        m.sender_node_id = arena.cString(senderNodeID)
        m.sender_epoch = senderEpoch
        m.packet_sequence = packetSequence
        m.sent_at_unix_ms = sentAtUnixMilliseconds
        m.probe_sequence = probeSequence
        m.target_node_id = arena.cString(targetNodeID)
        m.target_address = arena.cString(targetAddress)
        m.target_port = targetPort
        if let coordinate { m.coordinate = coordinate.boxed(arena) }
        m.n_updates = updates.count
        m.updates = arena.array(updates.map { u in u.withC(arena) { arena.box($0) } }.map { Optional($0) })
        m.n_states = states.count
        m.states = arena.array(states.map { s in s.withC(arena) { arena.box($0) } }.map { Optional($0) })
        m.join = join ? 1 : 0
        m.n_digests = digests.count
        m.digests = arena.array(digests.map { Optional($0.boxed(arena)) })
        m.n_coordinates = coordinates.count
        m.coordinates = arena.array(coordinates.map { Optional($0.boxed(arena)) })
        m.pull_back = pullBack ? 1 : 0
        return packMessage(&m, size: { demarc__v1__gossip_packet__get_packed_size($0) },
                           pack: { demarc__v1__gossip_packet__pack($0, $1) })
    }

    public init(serialized bytes: [UInt8]) throws(WireError) {
        let parsed = withInput(bytes) { p, n in demarc__v1__gossip_packet__unpack(nil, n, p) }
        guard let parsed else { throw .malformed(message: Self.name, byteCount: bytes.count) }
        defer { demarc__v1__gossip_packet__free_unpacked(parsed, nil) }
        let m = parsed.pointee
        let name = Self.name
        protocolVersion = m.protocol_version
        guard let kind = GossipPacketKind(rawValue: m.kind.rawValue) else {
            throw .invalidValue(message: name, field: "kind", reason: "unknown value \(m.kind.rawValue)")
        }
        self.kind = kind
        senderNodeID = try CRead.string(m.sender_node_id, message: name, field: "sender_node_id")
        guard !senderNodeID.isEmpty else { throw .missingField(message: name, field: "sender_node_id") }
        senderEpoch = m.sender_epoch
        packetSequence = m.packet_sequence
        sentAtUnixMilliseconds = m.sent_at_unix_ms
        probeSequence = m.probe_sequence
        targetNodeID = try CRead.string(m.target_node_id, message: name, field: "target_node_id")
        targetAddress = try CRead.string(m.target_address, message: name, field: "target_address")
        guard m.target_port <= UInt32(UInt16.max) else {
            throw .invalidValue(message: name, field: "target_port", reason: "\(m.target_port) is not a port")
        }
        targetPort = m.target_port
        coordinate = try m.coordinate.map { p throws(WireError) in try VivaldiCoordinateMessage(c: p.pointee, message: name) }
        guard m.n_updates <= Self.maximumStates, m.n_states <= Self.maximumStates,
              m.n_digests <= Self.maximumStates, m.n_coordinates <= Self.maximumStates else {
            throw .invalidValue(message: name, field: "updates", reason: "too many entries")
        }
        updates = try CRead.messages(m.updates, count: m.n_updates, message: name, field: "updates") { c throws(WireError) in
            try MemberUpdateMessage(c: c)
        }
        states = try CRead.messages(m.states, count: m.n_states, message: name, field: "states") { c throws(WireError) in
            try NodeStateMessage(c: c)
        }
        join = m.join != 0
        digests = try CRead.messages(m.digests, count: m.n_digests, message: name, field: "digests") { c throws(WireError) in
            try MemberDigestMessage(c: c)
        }
        coordinates = try CRead.messages(m.coordinates, count: m.n_coordinates, message: name, field: "coordinates") { c throws(WireError) in
            try MemberCoordinateMessage(c: c)
        }
        pullBack = m.pull_back != 0
    }
}

extension VivaldiCoordinateMessage {
    func boxed(_ arena: CArena) -> UnsafeMutablePointer<Demarc__V1__VivaldiCoordinate> {
        var c = Demarc__V1__VivaldiCoordinate()
        demarc__v1__vivaldi_coordinate__init(&c)
        c.n_vector = vector.count
        c.vector = arena.array(vector)
        c.height = height
        c.error = error
        c.adjustment = adjustment
        return arena.box(c)
    }

    init(c: Demarc__V1__VivaldiCoordinate, message: String) throws(WireError) {
        guard c.n_vector <= Self.maximumDimensions else {
            throw .invalidValue(message: message, field: "coordinate.vector", reason: "\(c.n_vector) dimensions")
        }
        let vector = c.n_vector == 0 ? [] : Array(UnsafeBufferPointer(start: c.vector, count: c.n_vector))
        guard (vector + [c.height, c.error, c.adjustment]).allSatisfy(\.isFinite) else {
            throw .invalidValue(message: message, field: "coordinate", reason: "not a finite number")
        }
        self.init(vector: vector, height: c.height, error: c.error, adjustment: c.adjustment)
    }
}

/// Protobuf base-128 varint arithmetic.
public enum Varint {
    /// Bytes a varint encoding of `value` takes (1...10).
    public static func length(_ value: UInt64) -> Int {
        var v = value, n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }
}
