import SodiumWrapper
import Foundation

/// Node-to-node HTTP requests are signed with the calling node's Ed25519 key, the key
/// its operator-signed certificate certifies. The receiver looks the caller up in its
/// gossip view, believes it only if that certificate verifies (DESIGN.md invariant 6),
/// and checks the signature over
///
///     "demarc peer request v1\n" ‖ METHOD ‖ "\n" ‖ path?query ‖ "\n" ‖ unix ms ‖ "\n" ‖ hex(SHA-256(body))
///
/// within ±60 s of its clock, each signature accepted once (`PeerReplayGuard`). So a
/// tenant or a participant can never call an internal route, and a node's region claim
/// on these calls is as strong as on gossip.
enum PeerRequestSignature {
    static let nodeHeader = "Demarc-Node"
    static let timeHeader = "Demarc-Time"
    static let signatureHeader = "Demarc-Signature"
    static let skewMilliseconds: Int64 = 60_000

    static func message(method: String, path: String, unixMilliseconds: Int64, body: [UInt8]) -> [UInt8] {
        Array("demarc peer request v1\n\(method)\n\(path)\n\(unixMilliseconds)\n\(Hex.encode(SHA256.hash(body)))".utf8)
    }

    static func sign(method: String, path: String, unixMilliseconds: Int64, body: [UInt8], key: Ed25519.PrivateKey) -> String {
        Data(key.signature(for: message(method: method, path: path, unixMilliseconds: unixMilliseconds, body: body))).base64EncodedString()
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case missingHeaders
        case unknownNode(String)
        case stale(skewMilliseconds: Int64)
        case badSignature
        case replayed

        var description: String {
            switch self {
            case .missingHeaders: "a peer request needs the \(nodeHeader), \(timeHeader) and \(signatureHeader) headers"
            case let .unknownNode(id): "node '\(id)' is not a member with a verified certificate"
            case let .stale(skew): "the request is \(skew / 1000) s away from this node's clock (limit 60 s); check NTP"
            case .badSignature: "the request signature does not verify with the node's certified key"
            case .replayed: "this signed request was already accepted once"
            }
        }
    }

    static func verify(method: String, path: String, headers: (node: String?, time: String?, signature: String?), body: [UInt8],
                       nowUnixMilliseconds: Int64, key: (String) -> Ed25519.PublicKey?) throws(Failure) -> String {
        guard let node = headers.node, let timeText = headers.time, let t = Int64(timeText),
              let sigText = headers.signature, let sig = Data(base64Encoded: sigText) else { throw .missingHeaders }
        guard let publicKey = key(node) else { throw .unknownNode(String(node.prefix(64))) }
        let skew = nowUnixMilliseconds - t
        guard abs(skew) <= skewMilliseconds else { throw .stale(skewMilliseconds: skew) }
        guard publicKey.isValidSignature(Array(sig), for: message(method: method, path: path, unixMilliseconds: t, body: body)) else {
            throw .badSignature
        }
        return node
    }
}

/// Remembers accepted peer signatures for the skew window so each is accepted once.
/// Amortised O(1): entries expire from the front of an insertion-ordered queue. At
/// `capacity` unexpired entries it refuses new ones (fail closed; a peer retries) rather
/// than forgetting one that could then be replayed.
struct PeerReplayGuard {
    let capacity: Int
    private var seen: Set<String> = []
    private var order: [(signature: String, at: Int64)] = []
    private var head = 0

    init(capacity: Int = 50_000) { self.capacity = capacity }

    mutating func accept(_ signature: String, at nowUnixMilliseconds: Int64) -> Bool {
        let horizon = nowUnixMilliseconds - 2 * PeerRequestSignature.skewMilliseconds
        while head < order.count, order[head].at < horizon {
            seen.remove(order[head].signature)
            head += 1
        }
        if head > 1_024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        guard !seen.contains(signature), seen.count < capacity else { return false }
        seen.insert(signature)
        order.append((signature, nowUnixMilliseconds))
        return true
    }
}
