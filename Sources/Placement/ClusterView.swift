public import Residency

/// A site as placement sees it.
public struct Region: Hashable, Sendable {
    public var id: RegionID
    public var jurisdiction: CountryCode
    public var location: GeoPoint
    public var name: String
    public var provider: String

    public init(id: RegionID, jurisdiction: CountryCode, location: GeoPoint, name: String = "", provider: String = "") {
        self.id = id
        self.jurisdiction = jurisdiction
        self.location = location
        self.name = name
        self.provider = provider
    }
}

/// Round-trip times between regions, in milliseconds. Symmetric. A pair with no
/// entry falls back to an estimate from the regions' locations (`GeoPoint.estimatedRTTMilliseconds`),
/// and a region to itself costs `sameRegionRTT`.
public struct LatencyMatrix: Hashable, Sendable {
    public var entries: [RegionPair: Double]
    public static let sameRegionRTT = 1.0

    public struct RegionPair: Hashable, Sendable {
        public let a: RegionID
        public let b: RegionID
        /// Normalised so that `a <= b`.
        public init(_ x: RegionID, _ y: RegionID) { (a, b) = x <= y ? (x, y) : (y, x) }
    }

    public init(entries: [RegionPair: Double] = [:]) { self.entries = entries }

    public mutating func set(_ x: RegionID, _ y: RegionID, milliseconds: Double) {
        entries[RegionPair(x, y)] = milliseconds
    }

    public func measured(_ x: RegionID, _ y: RegionID) -> Double? {
        x == y ? Self.sameRegionRTT : entries[RegionPair(x, y)]
    }
}

/// The cluster as one placement decision sees it: nodes, regions, latencies.
///
/// Built once per change of the gossip view and reused across decisions, so it
/// does the expensive work up front: nodes sorted by id (so input order never
/// matters), regions and jurisdictions interned to small integers, and a dense
/// region-to-region RTT table.
public struct ClusterView: Sendable {
    public let nodes: [ClusterNode]
    public let regions: [Region]
    let regionIndexOfNode: [Int]          // -1 when the node's region is unknown
    let jurisdictions: [CountryCode]      // interned
    let jurisdictionIndexOfNode: [Int]
    let rtt: [Double]                     // regions.count², row-major
    let regionIndex: [RegionID: Int]
    let nodeIndex: [NodeID: Int]
    /// Exclusions that do not depend on the policy (certificate, health, capacity, region).
    let staticMasks: [ExclusionMask]
    let freeSlots: [Int]
    let loadRatios: [Double]
    /// Per region, its node indices ordered for load balance: load ratio, then id.
    let nodesByRegion: [[Int]]

    /// - Throws: `PlacementError.invalidCluster` on duplicate node or region ids.
    public init(nodes: [ClusterNode], regions: [Region], latency: LatencyMatrix = .init()) throws(PlacementError) {
        let regions = regions.sorted { $0.id < $1.id }
        let nodes = nodes.sorted { $0.id < $1.id }
        for i in regions.indices.dropFirst() where regions[i].id == regions[i - 1].id {
            throw .invalidCluster("region '\(regions[i].id)' is defined twice")
        }
        for i in nodes.indices.dropFirst() where nodes[i].id == nodes[i - 1].id {
            throw .invalidCluster("node '\(nodes[i].id)' appears twice")
        }
        var regionIndex: [RegionID: Int] = [:]
        for (i, r) in regions.enumerated() { regionIndex[r.id] = i }
        var jIndex: [CountryCode: Int] = [:]
        var jurisdictions: [CountryCode] = []
        var jOfNode: [Int] = []
        var nodeIndex: [NodeID: Int] = [:]
        for (i, n) in nodes.enumerated() {
            nodeIndex[n.id] = i
            if let j = jIndex[n.jurisdiction] { jOfNode.append(j) } else {
                jIndex[n.jurisdiction] = jurisdictions.count
                jOfNode.append(jurisdictions.count)
                jurisdictions.append(n.jurisdiction)
            }
        }
        let k = regions.count
        var rtt = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in 0..<k {
                rtt[i * k + j] = latency.measured(regions[i].id, regions[j].id)
                    ?? regions[i].location.estimatedRTTMilliseconds(to: regions[j].location)
            }
        }
        self.nodes = nodes
        self.regions = regions
        self.regionIndexOfNode = nodes.map { regionIndex[$0.region] ?? -1 }
        self.jurisdictions = jurisdictions
        self.jurisdictionIndexOfNode = jOfNode
        self.rtt = rtt
        self.regionIndex = regionIndex
        self.nodeIndex = nodeIndex
        var staticMasks = [ExclusionMask](repeating: [], count: nodes.count)
        var freeSlots = [Int](repeating: 0, count: nodes.count)
        var loadRatios = [Double](repeating: 1, count: nodes.count)
        var byRegion = [[Int]](repeating: [], count: k)
        for (i, n) in nodes.enumerated() {
            var m: ExclusionMask = []
            if case .invalid = n.certificate { m.insert(.certificate) }
            switch n.health {
            case .alive: break
            case .draining: m.insert(.draining)
            case .suspect, .dead, .left: m.insert(.notAlive)
            }
            freeSlots[i] = max(0, n.capacity - n.load)
            if freeSlots[i] == 0 { m.insert(.full) }
            if n.capacity > 0 { loadRatios[i] = Double(n.load) / Double(n.capacity) }
            let r = regionIndexOfNode[i]
            if r < 0 { m.insert(.unknownRegion) } else {
                if regions[r].jurisdiction != n.jurisdiction { m.insert(.regionMismatch) }
                byRegion[r].append(i)
            }
            staticMasks[i] = m
        }
        for r in 0..<k { byRegion[r].sort { loadRatios[$0] != loadRatios[$1] ? loadRatios[$0] < loadRatios[$1] : $0 < $1 } }
        self.staticMasks = staticMasks
        self.freeSlots = freeSlots
        self.loadRatios = loadRatios
        self.nodesByRegion = byRegion
    }

    /// Estimated RTT between two regions (measured, or from their locations).
    public func rttMilliseconds(_ a: RegionID, _ b: RegionID) -> Double? {
        guard let i = regionIndex[a], let j = regionIndex[b] else { return nil }
        return rtt[i * regions.count + j]
    }

    public func node(_ id: NodeID) -> ClusterNode? { nodeIndex[id].map { nodes[$0] } }

    /// The same cluster with `ids` removed (as after a node is lost).
    public func removing(_ ids: Set<NodeID>) throws(PlacementError) -> ClusterView {
        var latency = LatencyMatrix()
        for (i, a) in regions.enumerated() {
            for (j, b) in regions.enumerated() where i < j { latency.set(a.id, b.id, milliseconds: rtt[i * regions.count + j]) }
        }
        return try ClusterView(nodes: nodes.filter { !ids.contains($0.id) }, regions: regions, latency: latency)
    }
}
