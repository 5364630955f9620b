import NodeHTTP
import TenantDirectory
import Foundation

/// Tenants and policies reach every node: pushed to all usable peers when the API
/// accepts a change, and pulled from each peer when it first appears alive (so a node
/// that was down or partitioned catches up). Policies are tenant configuration, not
/// personal data; meetings are not replicated this way.
extension MeetingService {
    struct TenantExport: Codable, Sendable {
        struct Entry: Codable, Sendable { var id: String; var policy: String? }
        var tenants: [Entry]
    }

    func exportTenants() throws(MeetingError) -> TenantExport {
        do {
            return TenantExport(tenants: try directory.tenantIDs().map { id in
                TenantExport.Entry(id: id, policy: try directory.currentPolicy(tenant: id)?.0.source)
            })
        } catch let e as DirectoryError { throw MeetingError(.internalServerError, e.code, e.description) } catch {
            throw MeetingError(.internalServerError, "storage", "\(error)")
        }
    }

    /// Applies a tenant (and its policy) received from a peer; idempotent, versions only go up.
    func importTenant(_ id: String, policy: String?) async {
        if (try? directory.tenant(id)) == nil { _ = try? directory.createTenant(id) }
        if let policy {
            do {
                _ = try directory.putPolicy(tenant: id, source: policy)
                // Every node that applies a version records it in its own log.
                try? await logPolicyHistory(tenant: id)
            } catch {
                if case .staleVersion = error { return }
                logger.warning("a replicated policy was refused here", metadata: ["code": "\(error.code)"])
            }
        }
    }

    /// Deletes the tenant here: its policies, its meetings, and its commitment secret, so
    /// this node's log stays verifiable but can no longer be linked to the tenant.
    func removeTenant(_ id: String) async {
        try? directory.deleteTenant(id)
        try? store.deleteTenant(id)
        for key in records.keys where key.tenant == id { records[key] = nil }
        do { try await log.store.destroyTenant(id) } catch {
            logger.error("could not destroy the tenant's commitment secret", metadata: ["error": "\(error)"])
        }
    }

    /// Sends the same signed request to every usable peer, concurrently.
    func broadcast(_ method: String, _ path: String, body: Data = Data()) async {
        await refreshPeers()
        let peers = peerDirectory.peers.values.filter(\.isUsable)
        let client = self.client, logger = self.logger
        await withTaskGroup(of: Void.self) { group in
            for p in peers {
                group.addTask {
                    do {
                        let reply = try await client.call(method, p, path, body: body)
                        if !(200..<300).contains(reply.status) {
                            logger.warning("peer refused a tenant update", metadata: ["peer": "\(p.nodeID)", "status": "\(reply.status)"])
                        }
                    } catch {
                        logger.warning("peer unreachable for a tenant update", metadata: ["peer": "\(p.nodeID)"])
                    }
                }
            }
        }
    }

    func pullTenantsFromNewPeers(alive: Set<String>) async {
        let appeared = alive.subtracting(knownAlive).subtracting([nodeID])
        knownAlive = alive
        for id in appeared.sorted() {
            guard let p = await peer(id), let reply = try? await client.call("GET", p, "/internal/v1/tenants"),
                  reply.status == 200, let export = try? JSONDecoder().decode(TenantExport.self, from: reply.body) else {
                knownAlive.remove(id)   // try again next time
                continue
            }
            for t in export.tenants { await importTenant(t.id, policy: t.policy) }
        }
    }
}

/// Hands the API's tenant changes to the replication above. The push runs in the
/// background so an unreachable peer never holds up the caller; order does not matter
/// (a policy arriving first creates its tenant; versions only go up).
struct TenantReplication: TenantChangeObserver {
    let service: MeetingService

    func tenantCreated(_ tenant: String) async {
        Task { await service.broadcast("PUT", "/internal/v1/tenants/\(tenant)") }
    }

    func policyApplied(tenant: String, source: String) async {
        Task { await service.broadcast("PUT", "/internal/v1/tenants/\(tenant)/policy", body: Data(source.utf8)) }
    }

    func tenantDeleted(_ tenant: String) async {
        await service.removeTenant(tenant)
        Task { await service.broadcast("DELETE", "/internal/v1/tenants/\(tenant)") }
    }
}
