import CControlPlane
import CProtobufC

/// `demarc.v1.NodeStatus`.
public enum NodeStatusMessage: UInt32, Sendable, CaseIterable {
    case unspecified = 0, alive = 1, suspect = 2, dead = 3, left = 4, draining = 5
}

/// `demarc.v1.VivaldiCoordinate` (milliseconds, as Serf keeps them).
public struct VivaldiCoordinateMessage: Equatable, Sendable {
    public var vector: [Double]
    public var height: Double
    public var error: Double
    public var adjustment: Double

    public init(vector: [Double], height: Double, error: Double, adjustment: Double) {
        self.vector = vector
        self.height = height
        self.error = error
        self.adjustment = adjustment
    }

    /// Coordinates with more dimensions than this are rejected as garbage.
    public static let maximumDimensions = 16
}

/// `demarc.v1.NodeState`: what a node tells the cluster about itself.
/// Node-level facts only; nothing about meetings or people (DESIGN.md invariant 5).
public struct NodeStateMessage: Equatable, Sendable {
    public var nodeID: String
    public var address: String
    public var port: UInt32
    public var region: String
    public var jurisdiction: String
    public var certificate: NodeCertificateMessage?
    public var status: NodeStatusMessage
    public var incarnation: UInt64
    public var load: UInt32
    public var capacity: UInt32
    public var softwareVersion: String
    public var coordinate: VivaldiCoordinateMessage?
    /// The node's HTTP API port on `address` (tenant API, meetings, node-to-node calls); 0 when none.
    public var apiPort: UInt32
    /// The node's WebRTC media UDP port on `address`; 0 when none.
    public var mediaPort: UInt32

    public init(nodeID: String, address: String, port: UInt32, region: String, jurisdiction: String,
                certificate: NodeCertificateMessage?, status: NodeStatusMessage, incarnation: UInt64,
                load: UInt32, capacity: UInt32, softwareVersion: String, coordinate: VivaldiCoordinateMessage?,
                apiPort: UInt32 = 0, mediaPort: UInt32 = 0) {
        self.nodeID = nodeID
        self.address = address
        self.port = port
        self.region = region
        self.jurisdiction = jurisdiction
        self.certificate = certificate
        self.status = status
        self.incarnation = incarnation
        self.load = load
        self.capacity = capacity
        self.softwareVersion = softwareVersion
        self.coordinate = coordinate
        self.apiPort = apiPort
        self.mediaPort = mediaPort
    }

    static let name = "NodeState"

    /// Fills a C `NodeState` whose pointers stay valid while `arena` lives.
    /// Exposed to sibling message types (gossip messages embed NodeState).
    func withC<R>(_ arena: CArena, _ body: (inout Demarc__V1__NodeState) -> R) -> R {
        var m = Demarc__V1__NodeState()
        demarc__v1__node_state__init(&m)
        m.node_id = arena.cString(nodeID)
        m.address = arena.cString(address)
        m.port = port
        m.region = arena.cString(region)
        m.jurisdiction = arena.cString(jurisdiction)
        if let certificate {
            m.certificate = certificate.withC(arena) { arena.box($0) }
        }
        m.status = Demarc__V1__NodeStatus(rawValue: status.rawValue)
        m.incarnation = incarnation
        m.load = load
        m.capacity = capacity
        m.software_version = arena.cString(softwareVersion)
        if let coordinate { m.coordinate = coordinate.boxed(arena) }
        m.api_port = apiPort
        m.media_port = mediaPort
        return body(&m)
    }

    init(c m: Demarc__V1__NodeState) throws(WireError) {
        let name = Self.name
        nodeID = try CRead.string(m.node_id, message: name, field: "node_id")
        guard !nodeID.isEmpty else { throw .missingField(message: name, field: "node_id") }
        address = try CRead.string(m.address, message: name, field: "address")
        guard m.port <= UInt32(UInt16.max) else {
            throw .invalidValue(message: name, field: "port", reason: "\(m.port) is not a UDP port")
        }
        port = m.port
        region = try CRead.string(m.region, message: name, field: "region")
        jurisdiction = try CRead.string(m.jurisdiction, message: name, field: "jurisdiction")
        certificate = m.certificate.map { NodeCertificateMessage(c: $0.pointee) }
        guard let status = NodeStatusMessage(rawValue: m.status.rawValue) else {
            throw .invalidValue(message: name, field: "status", reason: "unknown value \(m.status.rawValue)")
        }
        self.status = status
        incarnation = m.incarnation
        load = m.load
        capacity = m.capacity
        softwareVersion = try CRead.string(m.software_version, message: name, field: "software_version")
        coordinate = try m.coordinate.map { p throws(WireError) in try VivaldiCoordinateMessage(c: p.pointee, message: name) }
        for (field, value) in [("api_port", m.api_port), ("media_port", m.media_port)] where value > UInt32(UInt16.max) {
            throw .invalidValue(message: name, field: field, reason: "\(value) is not a port")
        }
        apiPort = m.api_port
        mediaPort = m.media_port
    }

    func validateEncodable() throws(WireError) {
        for (field, value) in [("node_id", nodeID), ("address", address), ("region", region),
                               ("jurisdiction", jurisdiction), ("software_version", softwareVersion)] where value.hasInteriorNUL {
            throw .invalidValue(message: Self.name, field: field, reason: "contains a NUL character")
        }
    }

    public func serialized() throws(WireError) -> [UInt8] {
        try validateEncodable()
        let arena = CArena()
        return withC(arena) { m in
            packMessage(&m, size: { demarc__v1__node_state__get_packed_size($0) },
                        pack: { demarc__v1__node_state__pack($0, $1) })
        }
    }

    public init(serialized bytes: [UInt8]) throws(WireError) {
        let parsed = withInput(bytes) { p, n in demarc__v1__node_state__unpack(nil, n, p) }
        guard let parsed else { throw .malformed(message: Self.name, byteCount: bytes.count) }
        defer { demarc__v1__node_state__free_unpacked(parsed, nil) }
        try self.init(c: parsed.pointee)
    }
}
