import CControlPlane
import CProtobufC

/// `demarc.v1.NodeCertificateBody`: the operator-signed facts about a node.
public struct NodeCertificateBodyMessage: Equatable, Sendable {
    public var formatVersion: UInt32
    public var nodeID: String
    public var nodePublicKey: [UInt8]
    public var region: String
    public var jurisdiction: String
    public var notBeforeUnix: Int64
    public var notAfterUnix: Int64
    public var operatorPublicKey: [UInt8]
    public var serial: UInt64

    public init(formatVersion: UInt32 = 1, nodeID: String, nodePublicKey: [UInt8], region: String, jurisdiction: String,
                notBeforeUnix: Int64, notAfterUnix: Int64, operatorPublicKey: [UInt8], serial: UInt64) {
        self.formatVersion = formatVersion
        self.nodeID = nodeID
        self.nodePublicKey = nodePublicKey
        self.region = region
        self.jurisdiction = jurisdiction
        self.notBeforeUnix = notBeforeUnix
        self.notAfterUnix = notAfterUnix
        self.operatorPublicKey = operatorPublicKey
        self.serial = serial
    }

    static let name = "NodeCertificateBody"

    func withC<R>(_ arena: CArena, _ body: (inout Demarc__V1__NodeCertificateBody) -> R) -> R {
        var m = Demarc__V1__NodeCertificateBody()
        demarc__v1__node_certificate_body__init(&m)
        m.format_version = formatVersion
        m.node_id = arena.cString(nodeID)
        m.node_public_key = arena.binary(nodePublicKey)
        m.region = arena.cString(region)
        m.jurisdiction = arena.cString(jurisdiction)
        m.not_before_unix = notBeforeUnix
        m.not_after_unix = notAfterUnix
        m.operator_public_key = arena.binary(operatorPublicKey)
        m.serial = serial
        return body(&m)
    }

    init(c m: Demarc__V1__NodeCertificateBody) throws(WireError) {
        formatVersion = m.format_version
        nodeID = try CRead.string(m.node_id, message: Self.name, field: "node_id")
        nodePublicKey = CRead.bytes(m.node_public_key)
        region = try CRead.string(m.region, message: Self.name, field: "region")
        jurisdiction = try CRead.string(m.jurisdiction, message: Self.name, field: "jurisdiction")
        notBeforeUnix = m.not_before_unix
        notAfterUnix = m.not_after_unix
        operatorPublicKey = CRead.bytes(m.operator_public_key)
        serial = m.serial
    }

    public func serialized() throws(WireError) -> [UInt8] {
        for (field, value) in [("node_id", nodeID), ("region", region), ("jurisdiction", jurisdiction)] where value.hasInteriorNUL {
            throw .invalidValue(message: Self.name, field: field, reason: "contains a NUL character")
        }
        let arena = CArena()
        return withC(arena) { m in
            packMessage(&m, size: { demarc__v1__node_certificate_body__get_packed_size($0) },
                        pack: { demarc__v1__node_certificate_body__pack($0, $1) })
        }
    }

    public init(serialized bytes: [UInt8]) throws(WireError) {
        let parsed = withInput(bytes) { p, n in demarc__v1__node_certificate_body__unpack(nil, n, p) }
        guard let parsed else { throw .malformed(message: Self.name, byteCount: bytes.count) }
        defer { demarc__v1__node_certificate_body__free_unpacked(parsed, nil) }
        try self.init(c: parsed.pointee)
    }
}

/// `demarc.v1.NodeCertificate`: body bytes exactly as signed, and the signature.
public struct NodeCertificateMessage: Equatable, Sendable {
    public var body: [UInt8]
    public var signature: [UInt8]

    public init(body: [UInt8], signature: [UInt8]) {
        self.body = body
        self.signature = signature
    }

    static let name = "NodeCertificate"

    func withC<R>(_ arena: CArena, _ bodyFn: (inout Demarc__V1__NodeCertificate) -> R) -> R {
        var m = Demarc__V1__NodeCertificate()
        demarc__v1__node_certificate__init(&m)
        m.body = arena.binary(body)
        m.signature = arena.binary(signature)
        return bodyFn(&m)
    }

    init(c m: Demarc__V1__NodeCertificate) {
        body = CRead.bytes(m.body)
        signature = CRead.bytes(m.signature)
    }

    public func serialized() -> [UInt8] {
        let arena = CArena()
        return withC(arena) { m in
            packMessage(&m, size: { demarc__v1__node_certificate__get_packed_size($0) },
                        pack: { demarc__v1__node_certificate__pack($0, $1) })
        }
    }

    public init(serialized bytes: [UInt8]) throws(WireError) {
        let parsed = withInput(bytes) { p, n in demarc__v1__node_certificate__unpack(nil, n, p) }
        guard let parsed else { throw .malformed(message: Self.name, byteCount: bytes.count) }
        defer { demarc__v1__node_certificate__free_unpacked(parsed, nil) }
        self.init(c: parsed.pointee)
    }
}
