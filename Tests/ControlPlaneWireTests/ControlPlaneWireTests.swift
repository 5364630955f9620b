import Testing
import ControlPlaneWire
import DemarcTestSupport

@Suite struct ControlPlaneWireTests {
    static let state = NodeStateMessage(
        nodeID: "fra-1", address: "10.0.0.1", port: 7946, region: "eu-de-fra", jurisdiction: "DE",
        certificate: NodeCertificateMessage(body: [1, 2, 3], signature: [UInt8](repeating: 9, count: 64)),
        status: .draining, incarnation: 42, load: 17, capacity: 500, softwareVersion: "0.1.0",
        coordinate: VivaldiCoordinateMessage(vector: [1.5, -2, 0, 0, 0, 0, 0, 0.25], height: 0.01, error: 0.4, adjustment: -0.001))

    @Test func nodeStateRoundTrips() throws {
        let bytes = try Self.state.serialized()
        #expect(try NodeStateMessage(serialized: bytes) == Self.state)
        var minimal = Self.state
        minimal.certificate = nil
        minimal.coordinate = nil
        #expect(try NodeStateMessage(serialized: try minimal.serialized()) == minimal)
    }

    @Test func certificateBodyRoundTrips() throws {
        let body = NodeCertificateBodyMessage(nodeID: "n", nodePublicKey: [1], region: "r", jurisdiction: "DE",
                                              notBeforeUnix: -5, notAfterUnix: 1 << 40, operatorPublicKey: [2, 3], serial: .max)
        #expect(try NodeCertificateBodyMessage(serialized: try body.serialized()) == body)
    }

    @Test func interiorNULIsRefusedNotTruncated() {
        var s = Self.state
        s.nodeID = "fra\u{0}evil"
        #expect(throws: WireError.invalidValue(message: "NodeState", field: "node_id", reason: "contains a NUL character")) { _ = try s.serialized() }
    }

    @Test func decoderRejectsGarbageWithTypedErrors() throws {
        var rng = SeededGenerator(seed: 7)
        let valid = try Self.state.serialized()
        var accepted = 0, rejected = 0
        for i in 0..<5_000 {
            let input = i % 2 == 0 ? Mutations.randomBytes(&rng, maxLength: 200) : Mutations.mutate(valid, &rng)
            do {
                let m = try NodeStateMessage(serialized: input)
                #expect(!m.nodeID.isEmpty)
                accepted += 1
            } catch {
                rejected += 1
            }
            _ = try? NodeCertificateMessage(serialized: input)
            _ = try? NodeCertificateBodyMessage(serialized: input)
        }
        #expect(rejected > 1_000 && accepted > 0)
    }

    @Test func outOfRangeValuesAreRejected() throws {
        var s = Self.state
        s.port = 70_000
        #expect(throws: WireError.self) { _ = try NodeStateMessage(serialized: try s.serialized()) }
        var n = Self.state
        n.coordinate?.height = .nan
        #expect(throws: WireError.self) { _ = try NodeStateMessage(serialized: try n.serialized()) }
        var e = Self.state
        e.nodeID = ""
        #expect(throws: WireError.missingField(message: "NodeState", field: "node_id")) { _ = try NodeStateMessage(serialized: try e.serialized()) }
    }
}
