import Residency
import SodiumWrapper
@testable import Transparency
import DemarcTestSupport


enum Fixture {
    static let fra = NodeLocation(node: "fra-1", region: "eu-de-fra", jurisdiction: CountryCode("DE")!)
    static let dub = NodeLocation(node: "dub-1", region: "eu-ie-dub", jurisdiction: CountryCode("IE")!)
    static let nyc = NodeLocation(node: "nyc-1", region: "us-east-nyc", jurisdiction: CountryCode("US")!)
    static let t0 = LogTimestamp(millisecondsSinceEpoch: 1_790_000_000_000)

    static func at(_ seconds: UInt64) -> LogTimestamp { t0.adding(seconds: seconds) }

    static let euPolicy = PolicySnapshot(
        version: 3, digest: SHA256.hash(Array("policy v3".utf8)), e2ee: .preferred,
        allowed: [
            .media: [CountryCode("DE")!, CountryCode("IE")!],
            .signaling: [CountryCode("DE")!, CountryCode("IE")!],
            .relay: [CountryCode("DE")!, CountryCode("IE")!],
            .recordings: [CountryCode("DE")!],
            .logs: [CountryCode("DE")!, CountryCode("IE")!],
        ],
        retentionSeconds: [.recordings: 86_400 * 30, .logs: 86_400])

    static func commitment(_ byte: UInt8) -> Commitment { Commitment([UInt8](repeating: byte, count: 32))! }

    /// One of every event kind.
    static func allEvents(participant: Commitment = commitment(0xAA), artifact: Commitment = commitment(0xBB)) -> [LogEvent] {
        [
            .policyApplied(euPolicy),
            .placementDecided(policyVersion: 3, home: fra, edges: [fra, dub]),
            .participantJoined(participant: participant, at: fra),
            .mediaProcessed(at: fra, endToEndEncrypted: true),
            .relayLinkOpened(from: fra, to: dub),
            .mediaProcessed(at: dub, endToEndEncrypted: true),
            .artifactStored(artifact: artifact, kind: .recordings, at: fra, retainUntil: at(86_400)),
            .nodeRefused(at: nyc, reason: .jurisdictionNotAllowed),
            .relayLinkClosed(from: fra, to: dub),
            .participantLeft(participant: participant, at: fra),
            .artifactDeleted(artifact: artifact, kind: .recordings, at: fra, reason: .retentionExpired),
        ]
    }

    static func entries(meeting: Commitment) -> [LogEntry] {
        allEvents().enumerated().map { LogEntry(meeting: meeting, timestamp: at(UInt64($0.offset) * 60), event: $0.element) }
    }
}
