import Foundation

/// A point on Earth, degrees (WGS 84).
public struct GeoPoint: Hashable, Sendable, Codable {
    public var latitude: Double
    public var longitude: Double

    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }

    /// Great-circle distance in kilometres (haversine, mean Earth radius 6371 km).
    public func distanceKilometres(to other: GeoPoint) -> Double {
        let r = 6371.0
        let φ1 = latitude * .pi / 180, φ2 = other.latitude * .pi / 180
        let dφ = (other.latitude - latitude) * .pi / 180
        let dλ = (other.longitude - longitude) * .pi / 180
        let a = sin(dφ / 2) * sin(dφ / 2) + cos(φ1) * cos(φ2) * sin(dλ / 2) * sin(dλ / 2)
        return 2 * r * atan2(sqrt(a), sqrt(max(0, 1 - a)))
    }

    /// A round-trip-time estimate in milliseconds from distance alone: light in fibre
    /// covers about 200 km per millisecond, and real routes between European and
    /// transatlantic cloud regions measure about twice the great-circle distance
    /// (Frankfurt–Dublin, 1,090 km: 24 ms), plus 2 ms for access and queueing.
    /// Used only when nothing was measured.
    public func estimatedRTTMilliseconds(to other: GeoPoint) -> Double {
        2.0 + 2.0 * distanceKilometres(to: other) * 2.0 / 200.0
    }
}
