public import ControlPlaneWire

/// A Vivaldi network coordinate with Serf's height and adjustment terms.
/// Units are milliseconds (Serf uses seconds; every constant is converted).
/// The wire message is the coordinate: the core adds only the arithmetic.
public typealias VivaldiCoordinate = VivaldiCoordinateMessage

extension VivaldiCoordinate {
    /// Estimated round-trip time to `other` in milliseconds (Serf `DistanceTo`):
    /// Euclidean distance plus both heights, plus both adjustments when that stays positive.
    public func distance(to other: VivaldiCoordinate) -> Double? {
        guard vector.count == other.vector.count else { return nil }
        let raw = rawDistance(to: other)
        let adjusted = raw + adjustment + other.adjustment
        return adjusted > 0 ? adjusted : raw
    }

    func rawDistance(to other: VivaldiCoordinate) -> Double {
        var sum = 0.0
        for i in vector.indices { let d = vector[i] - other.vector[i]; sum += d * d }
        return sum.squareRoot() + height + other.height
    }

    var isValid: Bool { vector.allSatisfy(\.isFinite) && height.isFinite && error.isFinite && adjustment.isFinite }
}

/// Serf's coordinate client (serf/coordinate/client.go and config.go), rewritten:
/// updates this node's coordinate from one RTT sample to a peer with a known coordinate.
public struct VivaldiClient: Sendable {
    /// Serf `DefaultConfig`, converted to milliseconds.
    public struct Settings: Sendable, Equatable {
        public var dimensionality = 8
        public var errorMaximum = 1.5
        public var errorGain = 0.25          // ce
        public var positionGain = 0.25       // cc
        public var adjustmentWindowSize = 20
        public var heightMinimum = 0.01      // 10 µs
        public var latencyFilterSize = 3
        public var gravityRho = 150_000.0    // 150 s
        /// RTT samples above this are discarded as nonsense (Serf: 10 s).
        public var maximumRTT = 10_000.0
        public init() {}
    }

    static let zeroThreshold = 1.0e-3 // 1 µs in ms

    public let settings: Settings
    public private(set) var coordinate: VivaldiCoordinate
    private let origin: VivaldiCoordinate
    private var adjustmentSamples: [Double]
    private var adjustmentIndex = 0
    private var latencySamples: [String: [Double]] = [:]
    private var random: GossipRandom

    public init(settings: Settings = Settings(), randomSeed: UInt64 = 0) {
        self.settings = settings
        let zero = VivaldiCoordinate(vector: Array(repeating: 0, count: settings.dimensionality),
                                     height: settings.heightMinimum, error: settings.errorMaximum, adjustment: 0)
        coordinate = zero
        origin = zero
        adjustmentSamples = Array(repeating: 0, count: max(settings.adjustmentWindowSize, 1))
        random = GossipRandom(seed: randomSeed ^ 0x5EED_C00D)
    }

    /// Feeds one RTT sample (ms) to `node` whose coordinate is `other`. Returns false
    /// (and changes nothing) for an incompatible coordinate or an implausible RTT.
    @discardableResult
    public mutating func update(node: String, other: VivaldiCoordinate, rttMilliseconds rtt: Double) -> Bool {
        guard other.vector.count == settings.dimensionality, other.isValid,
              rtt.isFinite, rtt >= 0, rtt <= settings.maximumRTT else { return false }
        let filtered = latencyFilter(node: node, rtt: rtt)
        let before = coordinate
        updateVivaldi(other: other, rtt: filtered)
        updateAdjustment(other: other, rtt: filtered)
        updateGravity()
        if !coordinate.isValid { coordinate = before; return false }
        return true
    }

    /// Drops per-node filter state (when a member is reaped).
    public mutating func forget(node: String) { latencySamples[node] = nil }

    private mutating func latencyFilter(node: String, rtt: Double) -> Double {
        var samples = latencySamples[node, default: []]
        samples.append(rtt)
        if samples.count > settings.latencyFilterSize { samples.removeFirst(samples.count - settings.latencyFilterSize) }
        latencySamples[node] = samples
        let sorted = samples.sorted()
        return sorted[sorted.count / 2]
    }

    private mutating func updateVivaldi(other: VivaldiCoordinate, rtt rawRTT: Double) {
        let rtt = max(rawRTT, Self.zeroThreshold)
        let dist = coordinate.distance(to: other) ?? 0
        let wrongness = abs(dist - rtt) / rtt
        let totalError = max(coordinate.error + other.error, Self.zeroThreshold)
        let weight = coordinate.error / totalError
        coordinate.error = min(settings.errorGain * weight * wrongness + coordinate.error * (1 - settings.errorGain * weight),
                               settings.errorMaximum)
        let force = settings.positionGain * weight * (rtt - dist)
        applyForce(force, from: other)
    }

    private mutating func updateAdjustment(other: VivaldiCoordinate, rtt: Double) {
        guard settings.adjustmentWindowSize > 0 else { return }
        adjustmentSamples[adjustmentIndex] = rtt - coordinate.rawDistance(to: other)
        adjustmentIndex = (adjustmentIndex + 1) % settings.adjustmentWindowSize
        coordinate.adjustment = adjustmentSamples.reduce(0, +) / (2.0 * Double(settings.adjustmentWindowSize))
    }

    private mutating func updateGravity() {
        let dist = origin.distance(to: coordinate) ?? 0
        let force = -1.0 * (dist / settings.gravityRho) * (dist / settings.gravityRho)
        applyForce(force, from: origin)
    }

    /// Serf `ApplyForce`: moves along the unit vector from `other` to us (a random
    /// direction when the two coincide) and adjusts the height proportionally.
    private mutating func applyForce(_ force: Double, from other: VivaldiCoordinate) {
        var unit = zip(coordinate.vector, other.vector).map { $0 - $1 }
        var magnitude = unit.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if magnitude > Self.zeroThreshold {
            unit = unit.map { $0 / magnitude }
        } else {
            unit = unit.map { _ in random.unit() - 0.5 }
            let m = unit.reduce(0) { $0 + $1 * $1 }.squareRoot()
            unit = m > Self.zeroThreshold ? unit.map { $0 / m } : unit.map { _ in 0 }
            magnitude = 0
        }
        for i in coordinate.vector.indices { coordinate.vector[i] += unit[i] * force }
        if magnitude > Self.zeroThreshold {
            coordinate.height = max((coordinate.height + other.height) * force / magnitude + coordinate.height, settings.heightMinimum)
        }
    }
}
