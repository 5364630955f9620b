public import Residency

/// Decides where a meeting runs: a pure, deterministic function of (policy,
/// cluster view, participants). No I/O, no clocks, no randomness; inputs are
/// sorted before use, so every node computing the same inputs gets the same
/// answer whatever order it received them in.
///
/// Rules, in order:
/// 1. A node is usable only if its certificate verified, it is alive and not
///    draining, it has a free slot, its region is known and matches its certified
///    jurisdiction, and the policy allows **media, signaling, logs and
///    transparency** in its jurisdiction (a node serving a meeting processes the
///    first two and stores the last two locally). A plan with more than one node
///    also needs **relay** allowed at every node. (DESIGN.md invariant 1.)
/// 2. Objective: lowest mean one-way mouth-to-ear latency over participant pairs,
///    then fewer nodes, then load balance (lowest load ratio), then node id.
///    Two candidate plans are compared: a cascade where each participant takes
///    its nearest usable region (co-locating on one node per region), and the
///    best single node.
/// 3. Nothing usable means a typed error, never a fallback (invariant 3).
public struct PlacementEngine: Sendable {
    /// Categories every node that serves a meeting must be allowed for.
    public static let servingCategories: [DataCategory] = [.media, .signaling, .logs, .transparency]

    let countryLocations: [CountryCode: GeoPoint]

    public init(catalog: JurisdictionCatalog) {
        var locations: [CountryCode: GeoPoint] = [:]
        for (code, country) in catalog.countries { if let p = country.location { locations[code] = p } }
        countryLocations = locations
    }

    public init(countryLocations: [CountryCode: GeoPoint]) { self.countryLocations = countryLocations }

    // MARK: Public entry points

    /// Places a new meeting.
    public func place(_ participants: [Participant], policy: ResidencyPolicy, in view: ClusterView) throws(PlacementError) -> PlacementDecision {
        let ctx = try Context(engine: self, participants: participants, policy: policy, view: view)
        return try ctx.bestFreshPlan()
    }

    /// Re-places a meeting after the cluster or the participants changed (a node
    /// lost, a node draining, people joining). Participants whose edge is still
    /// usable stay; the rest move only to usable nodes.
    public func replace(_ previous: PlacementDecision, participants: [Participant], policy: ResidencyPolicy,
                        in view: ClusterView) throws(PlacementError) -> PlacementDecision {
        let ctx = try Context(engine: self, participants: participants, policy: policy, view: view)
        return try ctx.replan(previous)
    }
}

// MARK: - Internals

/// Exclusion bits, one per reason; kept compact so a decision over 1,000 nodes
/// allocates one array, and reasons are materialised only when asked for.
struct ExclusionMask: OptionSet, Hashable, Sendable {
    let rawValue: UInt16
    static let certificate = ExclusionMask(rawValue: 1 << 0)
    static let draining = ExclusionMask(rawValue: 1 << 1)
    static let notAlive = ExclusionMask(rawValue: 1 << 2)
    static let full = ExclusionMask(rawValue: 1 << 3)
    static let unknownRegion = ExclusionMask(rawValue: 1 << 4)
    static let regionMismatch = ExclusionMask(rawValue: 1 << 5)
    static let relay = ExclusionMask(rawValue: 1 << 6)
    static func category(_ i: Int) -> ExclusionMask { ExclusionMask(rawValue: 1 << (7 + i)) }
    static let hard: ExclusionMask = ExclusionMask(rawValue: 0xFFFF).subtracting(.relay)
}

struct PlanCandidate {
    var edgeOf: [Int]        // per sorted participant: node index
    var rttOf: [Double]      // per sorted participant: access RTT (NaN unknown)
    var home: Int
}

struct Context {
    let engine: PlacementEngine
    let policy: ResidencyPolicy
    let view: ClusterView
    let participants: [Participant]     // sorted by id
    let masks: [ExclusionMask]          // per node
    let regionRTT: [Double]             // participants × regions, NaN = unknown
    let sources: [LatencySource]
    let free: [Int]                     // free slots per node
    let usable: [Bool]                  // passes every hard rule
    let relayUsable: [Bool]             // usable and may relay
    let usableCount: Int
    let relayCount: Int

    init(engine: PlacementEngine, participants: [Participant], policy: ResidencyPolicy, view: ClusterView) throws(PlacementError) {
        self.engine = engine
        self.policy = policy
        self.view = view
        let sorted = participants.sorted { $0.id < $1.id }
        for i in sorted.indices.dropFirst() where sorted[i].id == sorted[i - 1].id {
            throw .duplicateParticipant(sorted[i].id)
        }
        self.participants = sorted

        // Per interned jurisdiction: which serving categories are denied, and relay.
        let categories = PlacementEngine.servingCategories
        let jMasks: [ExclusionMask] = view.jurisdictions.map { j in
            var m: ExclusionMask = []
            for (i, c) in categories.enumerated() where !policy.allows(c, in: j) { m.insert(.category(i)) }
            if !policy.allows(.relay, in: j) { m.insert(.relay) }
            return m
        }
        var masks = view.staticMasks
        var usable = [Bool](repeating: false, count: masks.count)
        var relayUsable = usable
        var usableCount = 0, relayCount = 0
        for i in masks.indices {
            let m = masks[i].union(jMasks[view.jurisdictionIndexOfNode[i]])
            masks[i] = m
            if m.isDisjoint(with: .hard) {
                usable[i] = true
                usableCount += 1
                if !m.contains(.relay) { relayUsable[i] = true; relayCount += 1 }
            }
        }
        self.masks = masks
        self.free = view.freeSlots
        self.usable = usable
        self.relayUsable = relayUsable
        self.usableCount = usableCount
        self.relayCount = relayCount

        // Participant → region RTT estimates.
        let k = view.regions.count
        var rtt = [Double](repeating: .nan, count: sorted.count * k)
        var sources = [LatencySource](repeating: .unknown, count: sorted.count)
        for (p, participant) in sorted.enumerated() {
            let loc = participant.location
            var measuredAny = false
            for (key, value) in loc.measuredRTT where value.isFinite && value >= 0 {
                let r: Int? = view.nodeIndex[NodeID(key)].map { view.regionIndexOfNode[$0] } ?? view.regionIndex[RegionID(key)]
                guard let r, r >= 0 else { continue }
                let slot = p * k + r
                if rtt[slot].isNaN || value < rtt[slot] { rtt[slot] = value }
                measuredAny = true
            }
            let point = loc.point ?? loc.country.flatMap { engine.countryLocations[$0] }
            if measuredAny { sources[p] = .measured } else if loc.point != nil { sources[p] = .coordinates } else if point != nil { sources[p] = .country }
            // Regions without a measurement fall back to distance, when a position is known.
            if let point {
                for r in 0..<k where rtt[p * k + r].isNaN {
                    rtt[p * k + r] = point.estimatedRTTMilliseconds(to: view.regions[r].location)
                }
            }
        }
        self.regionRTT = rtt
        self.sources = sources
    }

    /// Orders nodes for load balance: lower load ratio first, then id (nodes are sorted by id already).
    func lessLoaded(_ a: Int, _ b: Int) -> Bool {
        let la = view.loadRatios[a], lb = view.loadRatios[b]
        return la != lb ? la < lb : a < b
    }

    /// The least-loaded node among `flags` with a free slot in `capacity`, if any.
    func leastLoaded(_ flags: [Bool], _ capacity: [Int]) -> Int? {
        var best: Int?
        for i in flags.indices where flags[i] && capacity[i] > 0 {
            if best == nil || lessLoaded(i, best!) { best = i }
        }
        return best
    }

    // MARK: Fresh placement

    func bestFreshPlan() throws(PlacementError) -> PlacementDecision {
        guard usableCount > 0 else { throw noCompliantNode() }
        var candidates: [PlanCandidate] = []
        if relayCount > 1, participants.count > 1, let c = cascade(over: relayUsable, keeping: [:], capacity: free) {
            candidates.append(c)
        }
        if let s = singleNode(over: usable) { candidates.append(s) }
        guard !candidates.isEmpty else {
            // Neither a cascade nor one node fits everyone: report capacity honestly.
            // The most any plan could seat: one node's free slots, or all relay-capable nodes together.
            var maxOne = 0, relaySum = 0
            for i in free.indices {
                if usable[i] { maxOne = max(maxOne, free[i]) }
                if relayUsable[i] { relaySum += free[i] }
            }
            let available = max(maxOne, relayCount > 1 ? relaySum : 0)
            throw .insufficientCapacity(needed: participants.count, available: available, exclusions: exclusions(cascaded: false))
        }
        return choose(candidates, previous: nil)
    }

    /// Each participant at its nearest usable region, one node per region where it fits.
    func cascade(over flags: [Bool], keeping kept: [Int: Int], capacity: [Int]) -> PlanCandidate? {
        let k = view.regions.count
        let regionsWithNodes = (0..<k).filter { r in view.nodesByRegion[r].contains { flags[$0] } }
        var capacity = capacity
        var edgeOf = [Int](repeating: -1, count: participants.count)
        var rttOf = [Double](repeating: .nan, count: participants.count)
        var used = Set<Int>()
        for (p, node) in kept { edgeOf[p] = node; used.insert(node) }
        for (p, node) in kept { rttOf[p] = regionRTT[p * k + view.regionIndexOfNode[node]] }
        var unknown: [Int] = []
        /// Co-locate with the meeting's node in the region when it has room; else the least loaded.
        func place(_ p: Int, in r: Int) -> Bool {
            let inRegion = view.nodesByRegion[r]
            guard let n = inRegion.first(where: { flags[$0] && used.contains($0) && capacity[$0] > 0 })
                ?? inRegion.first(where: { flags[$0] && capacity[$0] > 0 }) else { return false }
            edgeOf[p] = n; rttOf[p] = regionRTT[p * k + r]; capacity[n] -= 1; used.insert(n)
            return true
        }
        for p in participants.indices where edgeOf[p] < 0 {
            if sources[p] == .unknown { unknown.append(p); continue }
            let row = p * k
            // Try regions nearest first. Usually the nearest has room, so find it by a
            // linear scan and sort the rest only when it does not.
            func closer(_ a: Int, _ b: Int) -> Bool {
                let x = regionRTT[row + a], y = regionRTT[row + b]
                return x != y ? x < y : a < b
            }
            var placed = false
            var tried: Int? = nil
            if let nearest = regionsWithNodes.min(by: closer) {
                tried = nearest
                placed = place(p, in: nearest)
            }
            if !placed {
                for r in regionsWithNodes.sorted(by: closer) where r != tried {
                    if place(p, in: r) { placed = true; break }
                }
            }
            if !placed { return nil }
        }
        let usedNodes = used.sorted()
        var home = usedNodes.isEmpty ? (leastLoaded(flags, capacity) ?? -1) : chooseHome(usedNodes, edgeOf: edgeOf)
        guard home >= 0 else { return nil }
        // People we cannot locate join at the home node (or the nearest used node with room).
        for p in unknown {
            let hr = view.regionIndexOfNode[home]
            let near = (usedNodes.isEmpty ? [home] : usedNodes).sorted { a, b in
                let x = view.rtt[hr * k + view.regionIndexOfNode[a]], y = view.rtt[hr * k + view.regionIndexOfNode[b]]
                return x != y ? x < y : a < b
            }
            guard let n = near.first(where: { capacity[$0] > 0 }) ?? leastLoaded(flags, capacity) else { return nil }
            edgeOf[p] = n; capacity[n] -= 1
        }
        if usedNodes.isEmpty { home = edgeOf.first ?? home }
        return PlanCandidate(edgeOf: edgeOf, rttOf: rttOf, home: home)
    }

    /// The usable node that minimises everyone's latency, with room for everyone.
    /// Cost depends only on the region, so each region is scored once and offers
    /// its least-loaded node with enough room.
    func singleNode(over flags: [Bool]) -> PlanCandidate? {
        let k = view.regions.count
        let n = participants.count
        var best: (node: Int, cost: Double)?
        for r in 0..<k {
            guard let i = view.nodesByRegion[r].first(where: { flags[$0] && free[$0] >= n }) else { continue }
            var cost = 0.0
            for p in 0..<n { let x = regionRTT[p * k + r]; if !x.isNaN { cost += x } }
            if let b = best {
                if cost < b.cost || (cost == b.cost && lessLoaded(i, b.node)) { best = (i, cost) }
            } else {
                best = (i, cost)
            }
        }
        guard let best else { return nil }
        let r = view.regionIndexOfNode[best.node]
        return PlanCandidate(edgeOf: Array(repeating: best.node, count: n),
                             rttOf: (0..<n).map { regionRTT[$0 * k + r] }, home: best.node)
    }

    /// The used node nearest, participant-weighted, to all used nodes.
    func chooseHome(_ used: [Int], edgeOf: [Int]) -> Int {
        let k = view.regions.count
        var count = [Int: Int]()
        for e in edgeOf where e >= 0 { count[e, default: 0] += 1 }
        var best = used[0], bestCost = Double.infinity
        for h in used {
            let hr = view.regionIndexOfNode[h]
            var cost = 0.0
            for e in used { cost += Double(count[e] ?? 0) * view.rtt[hr * k + view.regionIndexOfNode[e]] }
            if cost < bestCost || (cost == bestCost && lessLoaded(h, best)) { best = h; bestCost = cost }
        }
        return best
    }

    // MARK: Re-placement

    func replan(_ previous: PlacementDecision) throws(PlacementError) -> PlacementDecision {
        guard usableCount > 0 else { throw noCompliantNode() }
        let stayable = previous.shape == .cascaded ? relayUsable : usable
        var kept: [Int: Int] = [:]
        for (p, participant) in participants.enumerated() {
            if let a = previous.assignment(of: participant.id), let i = view.nodeIndex[a.edge], stayable[i] { kept[p] = i }
        }
        var candidates: [PlanCandidate] = []
        if !kept.isEmpty {
            if previous.shape == .cascaded, relayCount > 1,
               var c = cascade(over: relayUsable, keeping: kept, capacity: free) {
                if let h = view.nodeIndex[previous.home], c.edgeOf.contains(h) { c.home = h }
                candidates.append(c)
            } else if previous.shape == .singleNode, let node = kept.values.first {
                let newcomers = participants.count - kept.count
                if free[node] >= newcomers {
                    let r = view.regionIndexOfNode[node], k = view.regions.count
                    candidates.append(PlanCandidate(edgeOf: Array(repeating: node, count: participants.count),
                                                    rttOf: participants.indices.map { regionRTT[$0 * k + r] }, home: node))
                }
            }
        }
        if candidates.isEmpty {
            // Nobody can stay (or the survivors cannot take the rest): plan afresh over usable nodes only.
            var d = try bestFreshPlan()
            d.moves = moves(from: previous, to: d)
            return d
        }
        var d = choose(candidates, previous: previous)
        d.moves = moves(from: previous, to: d)
        return d
    }

    func moves(from previous: PlacementDecision, to next: PlacementDecision) -> [ParticipantMove] {
        next.assignments.compactMap { a in
            guard let old = previous.assignment(of: a.participant), old.edge != a.edge else { return nil }
            return ParticipantMove(participant: a.participant, from: old.edge, to: a.edge)
        }
    }

    // MARK: Scoring and output

    func choose(_ candidates: [PlanCandidate], previous: PlacementDecision?) -> PlacementDecision {
        var best: (PlanCandidate, Tree, Double, Double, Int)?
        for c in candidates {
            let tree = Tree(view: view, used: Set(c.edgeOf).union([c.home]).sorted(), home: c.home)
            let (mean, maximum) = pairLatency(c, tree)
            let nodeCount = tree.nodes.count
            if let b = best {
                let better = mean < b.2 - 1e-9 || (abs(mean - b.2) <= 1e-9 && (nodeCount < b.4 || (nodeCount == b.4 && lessLoaded(c.home, b.0.home))))
                if better { best = (c, tree, mean, maximum, nodeCount) }
            } else {
                best = (c, tree, mean, maximum, nodeCount)
            }
        }
        let (plan, tree, mean, maximum, _) = best!
        let cascaded = tree.nodes.count > 1
        let assignments = participants.indices.map { p -> ParticipantAssignment in
            let n = view.nodes[plan.edgeOf[p]]
            let rtt = plan.rttOf[p]
            return ParticipantAssignment(participant: participants[p].id, edge: n.id, region: n.region, jurisdiction: n.jurisdiction,
                                         estimatedRTTMilliseconds: rtt.isNaN ? nil : rtt, latencySource: sources[p])
        }
        return PlacementDecision(
            tenant: policy.tenant, policyVersion: policy.version, shape: cascaded ? .cascaded : .singleNode,
            home: view.nodes[plan.home].id, assignments: assignments,
            relayTree: tree.links.map { RelayLink(parent: view.nodes[$0.parent].id, child: view.nodes[$0.child].id, rttMilliseconds: $0.rtt) },
            nodes: tree.nodes.map { view.nodes[$0].id },
            meanPairLatencyMilliseconds: mean, maxPairLatencyMilliseconds: maximum,
            exclusionSource: ExclusionSource(nodes: view.nodes, regions: view.regions, regionIndexOfNode: view.regionIndexOfNode,
                                             masks: masks, includeRelay: cascaded),
            moves: [])
    }

    /// Mean and max one-way mouth-to-ear latency over participant pairs (half of
    /// access RTTs plus half of the tree path RTT). One participant: its one-way access.
    func pairLatency(_ c: PlanCandidate, _ tree: Tree) -> (Double, Double) {
        let n = participants.count
        let access = c.rttOf.map { $0.isNaN ? 0 : $0 / 2 }
        if n == 0 { return (0, 0) }
        if n == 1 { return (access[0], access[0]) }
        let slot = c.edgeOf.map { tree.position[$0]! }
        var sum = 0.0, maximum = 0.0
        for i in 0..<n {
            for j in (i + 1)..<n {
                let l = access[i] + access[j] + tree.distance(slot[i], slot[j]) / 2
                sum += l
                if l > maximum { maximum = l }
            }
        }
        return (sum / Double(n * (n - 1) / 2), maximum)
    }

    func exclusions(cascaded: Bool) -> [NodeExclusion] {
        ExclusionSource(nodes: view.nodes, regions: view.regions, regionIndexOfNode: view.regionIndexOfNode,
                        masks: masks, includeRelay: cascaded).materialize()
    }

    func noCompliantNode() -> PlacementError {
        .noCompliantNode(tenant: policy.tenant, policyVersion: policy.version, exclusions: exclusions(cascaded: false))
    }
}

/// A minimum spanning tree over the used nodes, grown from the home (Prim),
/// weighted by region RTT; ties broken by node index so it is deterministic.
struct Tree {
    let nodes: [Int]                 // sorted node indices
    var position: [Int: Int] = [:]   // node index -> slot
    var links: [(parent: Int, child: Int, rtt: Double)] = []
    var dist: [Double]               // slots², path RTT

    init(view: ClusterView, used: [Int], home: Int) {
        nodes = used
        for (s, n) in used.enumerated() { position[n] = s }
        let m = used.count, k = view.regions.count
        func w(_ a: Int, _ b: Int) -> Double { view.rtt[view.regionIndexOfNode[used[a]] * k + view.regionIndexOfNode[used[b]]] }
        var inTree = [Bool](repeating: false, count: m)
        var best = [Double](repeating: .infinity, count: m)
        var parent = [Int](repeating: -1, count: m)
        var adjacency = [[(Int, Double)]](repeating: [], count: m)
        let root = position[home]!
        best[root] = 0
        for _ in 0..<m {
            var u = -1
            for v in 0..<m where !inTree[v] && (u < 0 || best[v] < best[u]) { u = v }
            inTree[u] = true
            if parent[u] >= 0 {
                links.append((used[parent[u]], used[u], w(parent[u], u)))
                adjacency[u].append((parent[u], w(parent[u], u)))
                adjacency[parent[u]].append((u, w(parent[u], u)))
            }
            for v in 0..<m where !inTree[v] {
                let c = w(u, v)
                if c < best[v] || (c == best[v] && parent[v] >= 0 && used[u] < used[parent[v]]) { best[v] = c; parent[v] = u }
            }
        }
        links.sort { ($0.parent, $0.child) < ($1.parent, $1.child) }
        // All-pairs path RTT over the tree (m is the number of nodes in one meeting: small).
        var dist = [Double](repeating: 0, count: m * m)
        for s in 0..<m {
            var stack = [(s, -1, 0.0)]
            while let (u, from, d) = stack.popLast() {
                dist[s * m + u] = d
                for (v, c) in adjacency[u] where v != from { stack.append((v, u, d + c)) }
            }
        }
        self.dist = dist
    }

    func distance(_ a: Int, _ b: Int) -> Double { dist[a * nodes.count + b] }
}
