import SodiumWrapper
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Signed node-to-node HTTP calls (see `PeerRequestSignature`).
struct PeerClient: Sendable {
    let nodeID: String
    let key: Ed25519.PrivateKey
    let timeoutSeconds: Double

    struct Reply: Sendable {
        var status: Int
        var body: Data
        /// Response headers, by lower-cased name.
        var headers: [String: String] = [:]
    }

    enum Failure: Error, CustomStringConvertible {
        case unreachable(node: String, reason: String)
        var description: String {
            switch self { case let .unreachable(node, reason): "node \(node) did not answer: \(reason)" }
        }
    }

    func call(_ method: String, _ peer: Peer, _ path: String, body: Data = Data(), timeout: Double? = nil) async throws(Failure) -> Reply {
        guard let url = URL(string: peer.apiBase + path) else { throw .unreachable(node: peer.nodeID, reason: "bad address \(peer.apiBase)") }
        var request = URLRequest(url: url, timeoutInterval: timeout ?? timeoutSeconds)
        request.httpMethod = method
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        request.setValue(nodeID, forHTTPHeaderField: PeerRequestSignature.nodeHeader)
        request.setValue(String(now), forHTTPHeaderField: PeerRequestSignature.timeHeader)
        request.setValue(PeerRequestSignature.sign(method: method, path: path, unixMilliseconds: now, body: Array(body), key: key),
                         forHTTPHeaderField: PeerRequestSignature.signatureHeader)
        if !body.isEmpty {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as? HTTPURLResponse
            var headers: [String: String] = [:]
            for (name, value) in http?.allHeaderFields ?? [:] {
                if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
            }
            return Reply(status: http?.statusCode ?? 0, body: data, headers: headers)
        } catch {
            throw .unreachable(node: peer.nodeID, reason: "\(error.localizedDescription)")
        }
    }
}
