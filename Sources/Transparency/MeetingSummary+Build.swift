import Residency
import SodiumWrapper

extension MeetingSummary {
    /// How late after `retainUntil` a deletion may be logged before it counts as keeping
    /// the artifact past its retention: one retention-sweep period plus slack.
    public static let retentionToleranceSeconds: UInt64 = 3600

    /// Builds the summary from a meeting's entries (sorted by log index). Pure and
    /// deterministic: the verifier runs the same function over the proven entries.
    public static func build(entries: [(index: UInt64, entry: LogEntry)], generatedAt: LogTimestamp) -> MeetingSummary {
        var policies: [PolicyView] = []
        var inForce: PolicySnapshot?
        var windows: [NodeLocation: (categories: Set<DataCategory>, from: LogTimestamp, until: LogTimestamp)] = [:]
        var relays: [RelayWindow] = []
        var artifacts: [Commitment: ArtifactView] = [:]
        var artifactOrder: [Commitment] = []
        var refusals: [RefusalView] = []
        var violations: [ComplianceViolation] = []
        var sawMedia = false
        var allMediaE2EE = true

        func touch(_ location: NodeLocation, _ categories: [DataCategory], _ t: LogTimestamp) {
            if var w = windows[location] {
                w.categories.formUnion(categories)
                w.from = min(w.from, t)
                w.until = max(w.until, t)
                windows[location] = w
            } else {
                windows[location] = (Set(categories), t, t)
            }
        }

        func check(_ index: UInt64, _ location: NodeLocation, _ categories: [DataCategory]) {
            guard let policy = inForce else {
                violations.append(.init(entryIndex: index, rule: .noPolicyInForce,
                                        detail: "\(location) handled the meeting before any policy was applied"))
                return
            }
            for c in categories where !policy.allows(c, in: location.jurisdiction) {
                violations.append(.init(entryIndex: index, rule: .jurisdictionNotAllowed,
                                        detail: "\(c) at \(location): \(location.jurisdiction) is not allowed for \(c) by policy v\(policy.version)"))
            }
        }

        for (index, entry) in entries {
            let t = entry.timestamp
            switch entry.event {
            case let .policyApplied(p):
                inForce = p
                var allowed: [String: [CountryCode]] = [:]
                for (c, codes) in p.allowed { allowed[c.description] = codes.sorted() }
                var retention: [String: UInt64] = [:]
                for (k, s) in p.retentionSeconds { retention[k.description] = s }
                policies.append(PolicyView(version: p.version, digest: Hex.encode(p.digest),
                                           e2ee: p.e2ee, allowed: allowed, retentionSeconds: retention, appliedAt: t, entryIndex: index))
            case let .placementDecided(version, home, edges):
                if let p = inForce, p.version != version {
                    violations.append(.init(entryIndex: index, rule: .policyVersionMismatch,
                                            detail: "placement used policy v\(version) but v\(p.version) was in force"))
                }
                check(index, home, [.signaling])
                touch(home, [.signaling], t)
                for e in edges {
                    check(index, e, [.media])
                    touch(e, [.media], t)
                }
            case let .participantJoined(_, at), let .participantLeft(_, at):
                check(index, at, [.media, .signaling])
                touch(at, [.media, .signaling], t)
            case let .mediaProcessed(at, e2ee):
                sawMedia = true
                if !e2ee { allMediaE2EE = false }
                check(index, at, [.media])
                touch(at, [.media], t)
                if !e2ee, inForce?.e2ee == .required {
                    violations.append(.init(entryIndex: index, rule: .endToEndEncryptionRequired,
                                            detail: "media at \(at) was not end-to-end encrypted but the policy requires it"))
                }
            case let .relayLinkOpened(from, to):
                check(index, from, [.relay])
                check(index, to, [.relay])
                touch(from, [.relay], t)
                touch(to, [.relay], t)
                relays.append(RelayWindow(from: from, to: to, opened: t, closed: nil))
            case let .relayLinkClosed(from, to):
                touch(from, [.relay], t)
                touch(to, [.relay], t)
                if let i = relays.firstIndex(where: { $0.from == from && $0.to == to && $0.closed == nil }) {
                    relays[i].closed = t
                }
            case let .artifactStored(artifact, kind, at, retainUntil):
                check(index, at, [kind.category])
                touch(at, [kind.category], t)
                if let limit = inForce?.retentionSeconds[kind], retainUntil > t.adding(seconds: limit) {
                    violations.append(.init(entryIndex: index, rule: .retentionLongerThanPolicy,
                                            detail: "\(kind) kept until \(retainUntil), beyond the policy's \(limit) s"))
                }
                if artifacts[artifact] == nil { artifactOrder.append(artifact) }
                artifacts[artifact] = ArtifactView(artifact: artifact, kind: kind, location: at, storedAt: t,
                                                   retainUntil: retainUntil, deletedAt: nil, deletionReason: nil)
            case let .artifactDeleted(artifact, kind, at, reason):
                if var a = artifacts[artifact] {
                    a.deletedAt = t
                    a.deletionReason = reason
                    artifacts[artifact] = a
                    if t > a.retainUntil.adding(seconds: retentionToleranceSeconds) {
                        violations.append(.init(entryIndex: index, rule: .keptPastRetention,
                                                detail: "\(kind) at \(at) deleted at \(t), after its retain-until \(a.retainUntil)"))
                    }
                }
            case let .nodeRefused(at, reason):
                refusals.append(RefusalView(location: at, reason: reason, at: t))
            }
        }

        let artifactViews = artifactOrder.map { artifacts[$0]! }
        for a in artifactViews where a.deletedAt == nil && generatedAt > a.retainUntil.adding(seconds: retentionToleranceSeconds) {
            let index = entries.first { if case let .artifactStored(c, _, _, _) = $0.entry.event { c == a.artifact } else { false } }?.index ?? 0
            violations.append(.init(entryIndex: index, rule: .keptPastRetention,
                                    detail: "\(a.kind) at \(a.location) still stored after its retain-until \(a.retainUntil)"))
        }

        let processing = windows.map { ProcessingWindow(location: $0.key, categories: $0.value.categories.sorted(), from: $0.value.from, until: $0.value.until) }
            .sorted { ($0.from, $0.location) < ($1.from, $1.location) }

        var byJurisdiction: [CountryCode: JurisdictionUse] = [:]
        for w in processing {
            let j = w.location.jurisdiction
            var use = byJurisdiction[j] ?? JurisdictionUse(jurisdiction: j, categories: [], regions: [], from: w.from, until: w.until)
            use.categories = Array(Set(use.categories).union(w.categories)).sorted()
            use.regions = Array(Set(use.regions).union([w.location.region])).sorted()
            use.from = min(use.from, w.from)
            use.until = max(use.until, w.until)
            byJurisdiction[j] = use
        }

        return MeetingSummary(
            policies: policies,
            processing: processing,
            relays: relays,
            artifacts: artifactViews,
            refusals: refusals,
            jurisdictions: byJurisdiction.values.sorted { $0.jurisdiction < $1.jurisdiction },
            mediaEndToEndEncrypted: sawMedia ? allMediaE2EE : nil,
            compliance: ComplianceVerdict(compliant: violations.isEmpty, violations: violations)
        )
    }
}
