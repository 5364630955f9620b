public import SodiumWrapper
import Foundation

extension MeetingReport {
    /// Assembles a report from the meeting's entries, each with its inclusion proof
    /// against `checkpoint`. Entries must be sorted by index.
    public static func assemble(
        meeting: Commitment, entries: [(index: UInt64, bytes: [UInt8], proof: [MerkleHash])],
        checkpoint: SignedCheckpoint, nodeCertificate: String?, generatedAt: LogTimestamp
    ) throws(LogEntryDecodingError) -> MeetingReport {
        var decoded: [(index: UInt64, entry: LogEntry)] = []
        decoded.reserveCapacity(entries.count)
        for e in entries { decoded.append((e.index, try LogEntryCodec.decode(e.bytes))) }
        let summary = MeetingSummary.build(entries: decoded, generatedAt: generatedAt)
        return MeetingReport(
            meeting: meeting, generatedAt: generatedAt, checkpoint: checkpoint.serialized, nodeCertificate: nodeCertificate,
            summary: summary,
            entries: entries.map {
                ReportEntry(index: $0.index, entry: Data($0.bytes).base64EncodedString(),
                            inclusionProof: $0.proof.map { Data($0.bytes).base64EncodedString() })
            })
    }
}

/// Checks a `MeetingReport` offline: the checkpoint's signature, every entry's inclusion
/// proof against it, that every entry belongs to the meeting, and that the summary is
/// exactly what the proven entries say.
///
/// What it cannot check: that the log holds no *other* entries for this meeting that
/// the report left out. Monitors that replay the whole log (the public checkpoint and
/// consistency endpoints) cover that; see docs/transparency.md.
public struct ReportVerifier: Sendable {
    public let publicKey: Ed25519.PublicKey

    public init(publicKey: Ed25519.PublicKey) { self.publicKey = publicKey }

    /// The outcome of a successful verification.
    public struct Verified: Sendable, Equatable {
        public let checkpoint: Checkpoint
        public let entries: [(index: UInt64, entry: LogEntry)]
        public let summary: MeetingSummary

        public static func == (a: Self, b: Self) -> Bool {
            a.checkpoint == b.checkpoint && a.summary == b.summary && a.entries.map(\.index) == b.entries.map(\.index)
                && a.entries.map(\.entry) == b.entries.map(\.entry)
        }
    }

    /// The key name is the checkpoint origin, so read it (unverified) from the note text
    /// before verifying the note with that name and the trusted key.
    public static func origin(of serializedCheckpoint: String) -> String? {
        guard let line = serializedCheckpoint.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first,
              !line.isEmpty else { return nil }
        return String(line)
    }

    public func verify(_ report: MeetingReport) throws(ReportVerificationError) -> Verified {
        guard report.formatVersion == MeetingReport.currentFormatVersion else {
            throw .unsupportedFormatVersion(report.formatVersion)
        }
        guard let origin = Self.origin(of: report.checkpoint) else { throw .checkpoint(.malformed("empty checkpoint")) }
        let verifier: NoteVerifier
        do { verifier = try NoteVerifier(keyName: origin, publicKey: publicKey) } catch { throw .checkpoint(.note(error)) }
        let signed: SignedCheckpoint
        do { signed = try SignedCheckpoint(verifying: report.checkpoint, with: verifier) } catch { throw .checkpoint(error) }
        let cp = signed.checkpoint

        var decoded: [(index: UInt64, entry: LogEntry)] = []
        var previous: UInt64?
        for e in report.entries {
            if let previous, e.index <= previous { throw .entriesNotInLogOrder(index: e.index) }
            previous = e.index
            guard let raw = Data(base64Encoded: e.entry) else { throw .entryNotBase64(index: e.index) }
            let bytes = Array(raw)
            var proof: [MerkleHash] = []
            for p in e.inclusionProof {
                guard let d = Data(base64Encoded: p), let h = MerkleHash(Array(d)) else { throw .proofNotDecodable(index: e.index) }
                proof.append(h)
            }
            do {
                try MerkleProofVerifier.verifyInclusion(leafHash: .leaf(bytes), index: e.index, treeSize: cp.size,
                                                        proof: proof, rootHash: cp.rootHash)
            } catch { throw .inclusion(index: e.index, error) }
            let entry: LogEntry
            do { entry = try LogEntryCodec.decode(bytes) } catch { throw .entry(index: e.index, error) }
            guard entry.meeting == report.meeting else { throw .entryForAnotherMeeting(index: e.index) }
            decoded.append((e.index, entry))
        }
        let recomputed = MeetingSummary.build(entries: decoded, generatedAt: report.generatedAt)
        guard recomputed == report.summary else { throw .summaryDoesNotMatchEntries }
        return Verified(checkpoint: cp, entries: decoded, summary: recomputed)
    }
}

public enum ReportVerificationError: Error, Equatable, Sendable, CustomStringConvertible {
    case unsupportedFormatVersion(Int)
    case checkpoint(CheckpointError)
    case entriesNotInLogOrder(index: UInt64)
    case entryNotBase64(index: UInt64)
    case proofNotDecodable(index: UInt64)
    case inclusion(index: UInt64, MerkleError)
    case entry(index: UInt64, LogEntryDecodingError)
    case entryForAnotherMeeting(index: UInt64)
    case summaryDoesNotMatchEntries

    public var description: String {
        switch self {
        case let .unsupportedFormatVersion(v): "report format version \(v) is not supported (expected \(MeetingReport.currentFormatVersion))"
        case let .checkpoint(e): "\(e)"
        case let .entriesNotInLogOrder(i): "entry \(i) is out of log order or repeated"
        case let .entryNotBase64(i): "entry \(i) is not valid base64"
        case let .proofNotDecodable(i): "the inclusion proof of entry \(i) is not a list of base64 32-byte hashes"
        case let .inclusion(i, e): "entry \(i) is not proven to be in the signed log: \(e)"
        case let .entry(i, e): "entry \(i) is in the log but cannot be decoded: \(e)"
        case let .entryForAnotherMeeting(i): "entry \(i) belongs to another meeting"
        case .summaryDoesNotMatchEntries: "the report's summary does not match its signed entries: it was altered"
        }
    }
}
