import Testing
import OpenSSLWrapper
import MediaPackets
@testable import MediaCrypto

@Suite("DTLS-SRTP handshake")
struct DTLSSRTPTests {
    struct Endpoint {
        let certificate: ECDSACertificate
        let connection: DTLSConnection
    }

    static func endpoint(_ role: DTLSConnection.Role, profiles: [String] = DTLSSRTP.offeredProfiles) throws -> Endpoint {
        let certificate = try ECDSACertificate(commonName: role == .client ? "client" : "server")
        let context = try DTLSContext(certificate: certificate, srtpProfiles: profiles)
        return Endpoint(certificate: certificate, connection: try DTLSConnection(context: context, role: role, mtu: 1200))
    }

    /// Moves datagrams between the two until neither has anything to say. Returns the number of flights.
    @discardableResult
    static func pump(_ client: DTLSConnection, _ server: DTLSConnection) throws -> Int {
        var flights = 0
        for _ in 0..<20 {
            let toServer = client.takeOutgoingDatagrams()
            let toClient = server.takeOutgoingDatagrams()
            if toServer.isEmpty && toClient.isEmpty { break }
            flights += 1
            for datagram in toServer {
                #expect(datagram.count <= server.mtu)
                _ = try server.receive(datagram)
            }
            for datagram in toClient {
                #expect(datagram.count <= client.mtu)
                _ = try client.receive(datagram)
            }
        }
        return flights
    }

    @Test func handshakeNegotiatesSRTPAndBothSidesDeriveMatchingKeys() throws {
        let client = try Self.endpoint(.client)
        let server = try Self.endpoint(.server)
        try client.connection.start()
        #expect(client.connection.retransmissionTimeout != nil)  // the ClientHello timer runs
        try Self.pump(client.connection, server.connection)
        #expect(client.connection.isHandshakeComplete && server.connection.isHandshakeComplete)
        #expect(client.connection.selectedSRTPProfile == server.connection.selectedSRTPProfile)

        let clientSession = try DTLSSRTP.establish(client.connection, peerFingerprint: SDPFingerprint(algorithm: "sha-256", value: try server.certificate.fingerprint()))
        let serverSession = try DTLSSRTP.establish(server.connection, peerFingerprint: SDPFingerprint(algorithm: "sha-256", value: try client.certificate.fingerprint()))
        #expect(clientSession.profile == .aeadAES128GCM)

        let plain = try RTPPacketBuilder(payloadType: 111, sequenceNumber: 1, timestamp: 960, ssrc: 42, payload: Array(repeating: 1, count: 60)).build()
        var packet = plain
        try clientSession.outbound.protectRTP(&packet)
        try serverSession.inbound.unprotectRTP(&packet)
        #expect(packet == plain)
        var reply = try RTCPCompound.serialize([.pictureLossIndication(PictureLossIndication(senderSSRC: 7, mediaSSRC: 42))])
        let rtcp = reply
        try serverSession.outbound.protectRTCP(&reply)
        try clientSession.inbound.unprotectRTCP(&reply)
        #expect(reply == rtcp)
        // Our own inbound context cannot read what we sent: the directions have distinct keys.
        var own = plain
        try clientSession.outbound.protectRTP(&own)
        #expect(throws: SRTPError.authenticationFailed) { try clientSession.inbound.unprotectRTP(&own) }
    }

    @Test func applicationDataFlowsAfterTheHandshake() throws {
        let client = try Self.endpoint(.client)
        let server = try Self.endpoint(.server)
        try client.connection.start()
        try Self.pump(client.connection, server.connection)
        try client.connection.send(Array("hello sctp".utf8))
        var received: [[UInt8]] = []
        for datagram in client.connection.takeOutgoingDatagrams() { received += try server.connection.receive(datagram) }
        #expect(received == [Array("hello sctp".utf8)])
        client.connection.close()
        for datagram in client.connection.takeOutgoingDatagrams() { _ = try server.connection.receive(datagram) }
        #expect(server.connection.state == .closed)
    }

    @Test func aClientOfferingOnlyAESCMGetsAESCM() throws {
        let client = try Self.endpoint(.client, profiles: [SRTPProtectionProfile.aes128CMHMACSHA1_80.openSSLName])
        let server = try Self.endpoint(.server)
        try client.connection.start()
        try Self.pump(client.connection, server.connection)
        let session = try DTLSSRTP.establish(server.connection, peerFingerprint: SDPFingerprint(algorithm: "sha-256", value: try client.certificate.fingerprint()))
        #expect(session.profile == .aes128CMHMACSHA1_80)
    }

    @Test func aCertificateThatDoesNotMatchTheSDPFingerprintIsRefused() throws {
        let client = try Self.endpoint(.client)
        let server = try Self.endpoint(.server)
        try client.connection.start()
        try Self.pump(client.connection, server.connection)
        let impostor = try ECDSACertificate(commonName: "impostor")
        #expect(throws: DTLSSRTPError.self) {
            try DTLSSRTP.establish(client.connection, peerFingerprint: SDPFingerprint(algorithm: "sha-256", value: try impostor.fingerprint()))
        }
        #expect(throws: DTLSSRTPError.self) {
            try DTLSSRTP.establish(client.connection, peerFingerprint: SDPFingerprint(algorithm: "md5", value: "00"))
        }
    }

    @Test func garbageDatagramsNeverCompleteOrTrapTheHandshake() throws {
        var state: UInt64 = 3
        for round in 0..<60 {
            let server = try Self.endpoint(.server)
            state = state &* 6364136223846793005 &+ 1
            let body = (0..<Int(state >> 56)).map { i in UInt8(truncatingIfNeeded: state >> UInt64(i % 56)) }
            // Half look like DTLS handshake records (content type 22, version DTLS 1.2).
            let datagram = round % 2 == 0 ? [22, 0xFE, 0xFD] + body : body
            do { _ = try server.connection.receive(datagram) } catch { #expect(server.connection.state == .closed) }
            #expect(!server.connection.isHandshakeComplete)
            _ = server.connection.takeOutgoingDatagrams()
        }
    }
}
