import MediaCore
import MediaCrypto
import MediaPackets
import NIOCore
import OpenSSLWrapper

typealias MediaInstant = ContinuousClock.Instant

/// The transport of one peer connection: ICE-lite agent → DTLS server → SRTP contexts
/// (RFC 8445 §2.5, RFC 5764). Owned by ``MediaEngine`` and used only on its event loop.
final class PeerTransport {
    let role: PeerConnectionRole
    let meeting: String
    let participant: String
    let credentials: ICECredentials
    var ice: ICELiteAgent<MediaInstant>
    let dtls: DTLSConnection
    /// From the peer's SDP; DTLS keys are taken only once it is known and matches.
    var remoteFingerprint: SDPFingerprint?
    var srtp: SRTPSession?
    /// Where media goes: the nominated pair (RFC 8445 §8.2), else the last address that
    /// passed a connectivity check.
    var selected: SocketAddress?
    var lastChecked: SocketAddress?
    /// Addresses that passed an authenticated check (for routing non-STUN datagrams).
    var addresses: Set<SocketAddress> = []
    let createdAt: MediaInstant
    var failed = false
    var reportedConnected = false
    /// The publisher's transport-wide sequence number extension id, when negotiated; its
    /// arrivals are reported back as transport-cc feedback (draft-holmer §3).
    var transportCCID: UInt8?
    var transportFeedback: TransportFeedbackRecorder<MediaInstant>?

    init(role: PeerConnectionRole, meeting: String, participant: String, context: DTLSContext, mtu: Int, now: MediaInstant) throws(OpenSSLError) {
        self.role = role
        self.meeting = meeting
        self.participant = participant
        credentials = ICECredentials.random()
        ice = ICELiteAgent(local: credentials)
        dtls = try DTLSConnection(context: context, role: .server, mtu: mtu)
        createdAt = now
    }

    /// Where to send media and DTLS now, if anywhere.
    var destination: SocketAddress? { selected ?? lastChecked }

    var isConnected: Bool { srtp != nil && destination != nil && !failed }
}

extension SocketAddress {
    /// The STUN view of this address (XOR-MAPPED-ADDRESS, ICE pairs).
    var transportAddress: TransportAddress? {
        guard let port = self.port else { return nil }
        switch self {
        case .v4(let address):
            let bytes = withUnsafeBytes(of: address.address.sin_addr) { Array($0) }
            return TransportAddress(address: bytes, port: UInt16(port))
        case .v6(let address):
            let bytes = withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
            return TransportAddress(address: bytes, port: UInt16(port))
        default:
            return nil
        }
    }
}
