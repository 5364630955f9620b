import Testing
import Foundation
import Residency
import SodiumWrapper
@testable import Transparency

@Suite("Meeting reports and the offline verifier")
struct ReportTests {
    let key = Ed25519.PrivateKey()
    let origin = "demarc.example/fra-1"
    let meetingA = Fixture.commitment(0xA1)
    let meetingB = Fixture.commitment(0xB2)

    /// A log with meetings A and B interleaved; returns the report for `meeting`.
    func report(for meeting: Commitment, extra: [LogEntry] = [], generatedAt: LogTimestamp = Fixture.at(3600)) throws -> MeetingReport {
        var tree = InMemoryMerkleTree()
        var stored: [(UInt64, [UInt8], Commitment)] = []
        let a = Fixture.entries(meeting: meetingA) + extra, b = Fixture.entries(meeting: meetingB)
        for i in 0..<max(a.count, b.count) {
            for e in [i < a.count ? a[i] : nil, i < b.count ? b[i] : nil].compactMap({ $0 }) {
                let bytes = try LogEntryCodec.encode(e)
                stored.append((tree.size, bytes, e.meeting))
                tree.append(entry: bytes)
            }
        }
        let cp = SignedCheckpoint(signing: Checkpoint(origin: origin, size: tree.size, rootHash: tree.rootHash),
                                  with: try NoteSigner(keyName: origin, key: key))
        let mine = try stored.filter { $0.2 == meeting }.map { (index: $0.0, bytes: $0.1, proof: try tree.inclusionProof(index: $0.0, treeSize: tree.size)) }
        return try MeetingReport.assemble(meeting: meeting, entries: mine, checkpoint: cp, nodeCertificate: nil, generatedAt: generatedAt)
    }

    @Test func summaryDescribesTheMeeting() throws {
        let r = try report(for: meetingA)
        let s = r.summary
        #expect(r.entries.count == Fixture.allEvents().count)
        #expect(s.compliance.compliant, "\(s.compliance.violations)")
        #expect(s.jurisdictions.map(\.jurisdiction.rawValue) == ["DE", "IE"])
        #expect(s.jurisdictions[0].categories == [.media, .signaling, .relay, .recordings])
        #expect(s.relays.count == 1 && s.relays[0].closed != nil)
        #expect(s.artifacts.count == 1 && s.artifacts[0].deletionReason == .retentionExpired)
        #expect(s.refusals.map(\.location) == [Fixture.nyc])
        #expect(s.mediaEndToEndEncrypted == true)
        #expect(s.policies.map(\.version) == [3])
        // The refusing node handled nothing, so US appears nowhere as a processing jurisdiction.
        #expect(!s.processing.contains { $0.location == Fixture.nyc })
    }

    @Test func verifierAcceptsAnHonestReportAfterAJSONRoundTrip() throws {
        let r = try report(for: meetingA)
        let json = try JSONEncoder().encode(r)
        let back = try JSONDecoder().decode(MeetingReport.self, from: json)
        let verified = try ReportVerifier(publicKey: key.publicKey).verify(back)
        #expect(verified.entries.count == r.entries.count)
        #expect(verified.summary == r.summary)
    }

    @Test func flippingAnyByteOfAnEntryOrProofIsDetected() throws {
        let r = try report(for: meetingA)
        let verifier = ReportVerifier(publicKey: key.publicKey)
        for (i, e) in r.entries.enumerated() {
            let bytes = Array(Data(base64Encoded: e.entry)!)
            for b in bytes.indices {
                var bad = r
                var mutated = bytes
                mutated[b] ^= 0x04
                bad.entries[i].entry = Data(mutated).base64EncodedString()
                #expect(throws: ReportVerificationError.self) { try verifier.verify(bad) }
            }
            for p in e.inclusionProof.indices {
                for b in stride(from: 0, to: 32, by: 5) {
                    var bad = r
                    var hash = Array(Data(base64Encoded: e.inclusionProof[p])!)
                    hash[b] ^= 0x10
                    bad.entries[i].inclusionProof[p] = Data(hash).base64EncodedString()
                    #expect(throws: ReportVerificationError.self) { try verifier.verify(bad) }
                }
            }
        }
    }

    @Test func tamperingWithSummaryCheckpointOrKeyIsDetected() throws {
        let r = try report(for: meetingA)
        let verifier = ReportVerifier(publicKey: key.publicKey)
        var bad = r
        bad.summary.jurisdictions.removeLast()
        #expect(throws: ReportVerificationError.summaryDoesNotMatchEntries) { try verifier.verify(bad) }
        bad = r
        bad.summary.compliance = ComplianceVerdict(compliant: true, violations: [])
        bad.summary.mediaEndToEndEncrypted = false
        #expect(throws: ReportVerificationError.summaryDoesNotMatchEntries) { try verifier.verify(bad) }
        bad = r
        bad.entries.removeFirst()
        #expect(throws: ReportVerificationError.summaryDoesNotMatchEntries) { try verifier.verify(bad) }
        bad = r
        bad.checkpoint = bad.checkpoint.replacingOccurrences(of: "\n22\n", with: "\n21\n")
        #expect(throws: ReportVerificationError.self) { try verifier.verify(bad) }
        #expect(throws: ReportVerificationError.self) { try ReportVerifier(publicKey: Ed25519.PrivateKey().publicKey).verify(r) }
        // An entry of another meeting, with a valid proof, cannot be slipped in.
        let other = try report(for: meetingB)
        bad = r
        bad.entries.append(other.entries.last!)
        bad.entries.sort { $0.index < $1.index }
        #expect(throws: ReportVerificationError.self) { try verifier.verify(bad) }
    }

    @Test func violationsAreReported() throws {
        let extra = [
            LogEntry(meeting: meetingA, timestamp: Fixture.at(2000), event: .mediaProcessed(at: Fixture.nyc, endToEndEncrypted: false)),
            LogEntry(meeting: meetingA, timestamp: Fixture.at(2001),
                     event: .artifactStored(artifact: Fixture.commitment(0xCC), kind: .logs, at: Fixture.dub, retainUntil: Fixture.at(2001 + 86_400 * 2))),
        ]
        let r = try report(for: meetingA, extra: extra, generatedAt: Fixture.at(86_400 * 3))
        let rules = Set(r.summary.compliance.violations.map(\.rule))
        #expect(!r.summary.compliance.compliant)
        #expect(rules == [.jurisdictionNotAllowed, .retentionLongerThanPolicy, .keptPastRetention])
        #expect(r.summary.mediaEndToEndEncrypted == false)
        #expect(try ReportVerifier(publicKey: key.publicKey).verify(r).summary == r.summary)
    }

    @Test func htmlIsReadableAndEscaped() throws {
        let r = try report(for: meetingA)
        let html = r.html()
        #expect(html.contains("<svg"))
        #expect(html.contains("eu-de-fra"))
        #expect(html.contains("Every recorded hop"))
        #expect(!html.contains("<script"))
        #expect(esc("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;")
    }

    @Test func retentionSweeperDeletesDueArtifactsAndSchedulesTheNext() {
        func record(_ b: UInt8, _ until: UInt64) -> ArtifactRecord {
            ArtifactRecord(artifact: Fixture.commitment(b), meeting: meetingA, tenant: "t", kind: .recordings,
                           location: Fixture.fra, retainUntil: Fixture.at(until))
        }
        let sweeper = RetentionSweeper(maximumIntervalMilliseconds: 60_000, batchLimit: 2)
        let stored = [record(1, 10), record(2, 20), record(3, 100)]
        #expect(sweeper.sweep(stored: stored, now: Fixture.at(5)) == [.sweepAgain(afterMilliseconds: 5_000)])
        #expect(sweeper.sweep(stored: stored, now: Fixture.at(20)) == [.delete(stored[0]), .delete(stored[1]), .sweepAgain(afterMilliseconds: 60_000)])
        #expect(sweeper.sweep(stored: stored, now: Fixture.at(200)) == [.delete(stored[0]), .delete(stored[1]), .sweepAgain(afterMilliseconds: 0)])
        #expect(sweeper.sweep(stored: [], now: Fixture.at(0)) == [.sweepAgain(afterMilliseconds: 60_000)])
    }
}
