import DemarcTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import MediaNIO
import MediaSignaling
import Testing

/// The native E2EE test client (Tests/Interop/sframe.py, e2ee_client.py): its Python unit
/// tests, and aiortc peers that SFrame-encrypt their media through the SFU (issue 8).
@Suite("Native E2EE client", .serialized)
struct NativeE2EEClientTests {
    /// RFC 9605 C.1/C.3 vectors, the JS/Swift interop fixture, the replay window, the
    /// layout, envelope binding, seeded fuzzing of every parser, and the aiortc hooks on a
    /// direct loopback call (Tests/Interop/run_unit_tests.py).
    @Test func pythonUnitTestsPass() async throws {
        let result = try await runPython("run_unit_tests.py", [], deadline: .seconds(180))
        #expect(result.status == 0, "python unit tests failed:\n\(result.stdout.suffix(4000))\n\(result.stderr.suffix(4000))")
        #expect(result.stdout.contains("failures 0, errors 0"), "\(result.stdout.suffix(2000))")
    }

    struct Report: Decodable {
        struct Subscriber: Decodable {
            var name: String
            var wrongKey: Bool
            var videoFrames: Int
            var audioFrames: Int
            var resolutions: [String]
            var receivedFrames: [String: Int]
            var decryptedFrames: [String: Int]
            var markerInForwardedFrames: Int
            var markerStrippedAfterDecryption: Int
        }
        struct Publisher: Decodable {
            var keysSent: Int
            var slot: UInt32?
        }
        struct JoinedE2EE: Decodable {
            var required: Bool
            var slot: UInt32
            var meeting: String
        }
        var e2ee: JoinedE2EE?
        var publishRefused: String?
        var publisher: Publisher
        var subscribers: [Subscriber]
        var failures: [String]
    }

    func runClient(_ node: TestNode, _ arguments: [String]) async throws -> (Report?, String) {
        try await node.application().test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("e2ee_client.py", ["--url", "ws://127.0.0.1:\(port)/v1/rtc"] + arguments)
            let statistics = await node.media.statistics()
            let log = "status \(result.status)\n\(result.stdout)\n\(result.stderr.suffix(3000))\nstatistics: \(statistics)"
            print("e2ee client: \(log)")
            #expect(result.status == 0, "e2ee_client.py failed: \(log)")
            return (try? JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8)), log)
        }
    }

    /// In an E2EE-required meeting an E2EE aiortc publisher's video and audio reach two E2EE
    /// aiortc subscribers, which decrypt and decode them; a subscriber with a wrong key decodes
    /// nothing; the marker appended to every plaintext frame never appears in what the SFU
    /// forwarded, and every decrypted frame carried it.
    @Test func encryptedMediaReachesSubscribersAndNeverCrossesTheSFUInTheClear() async throws {
        let node = try TestNode()
        await node.media.requireEndToEndEncryption(meeting: RTCSignaling.mediaMeeting(tenant: "acme", meeting: "m1"))
        let (report, log) = try await runClient(node, [
            "--publisher", try node.token("alice@acme.example"),
            "--subscriber", try node.token("bob@acme.example", grants: ["subscribe"]),
            "--subscriber", try node.token("carol@acme.example", grants: ["subscribe"]),
            "--wrong-key-subscriber", try node.token("mallory@acme.example", grants: ["subscribe"]),
            "--marker", "--seconds", "4", "--min-frames", "30",
        ])
        let r = try #require(report, "no report: \(log)")
        #expect(r.failures.isEmpty, "\(r.failures)")
        #expect(r.e2ee?.required == true)
        #expect(r.publisher.slot != nil && r.publisher.slot == r.e2ee?.slot)
        #expect(r.publishRefused == nil)
        #expect(r.publisher.keysSent >= 3)
        #expect(r.subscribers.count == 3)
        for s in r.subscribers {
            #expect(s.markerInForwardedFrames == 0, "\(s.name) saw the plaintext marker")
            if s.wrongKey {
                #expect(s.videoFrames == 0 && s.audioFrames == 0, "\(s.name) decoded with a wrong key")
                #expect((s.receivedFrames["video"] ?? 0) > 0)
            } else {
                #expect(s.videoFrames >= 30)
                #expect(s.audioFrames > 0)
                #expect(s.resolutions == ["640x480"])
                #expect((s.decryptedFrames["video"] ?? 0) > 0 && (s.decryptedFrames["audio"] ?? 0) > 0)
                #expect(s.markerStrippedAfterDecryption == (s.decryptedFrames["video"] ?? 0) + (s.decryptedFrames["audio"] ?? 0))
            }
        }
        let statistics = await node.media.statistics()
        #expect(statistics.e2eeViolations == 0)
        #expect(statistics.rtpForwarded > 0)
    }

    /// A publisher that did not declare an identity key is refused (`e2ee_required`) in an
    /// E2EE-required meeting, and nothing of it reaches the subscriber.
    @Test func plainPublisherIsRefusedInARequiredMeeting() async throws {
        let node = try TestNode()
        await node.media.requireEndToEndEncryption(meeting: RTCSignaling.mediaMeeting(tenant: "acme", meeting: "m1"))
        let (report, log) = try await runClient(node, [
            "--publisher", try node.token("pete@acme.example"),
            "--subscriber", try node.token("sue@acme.example", grants: ["subscribe"]),
            "--expect-refused", "--marker", "--seconds", "2",
        ])
        let r = try #require(report, "no report: \(log)")
        #expect(r.e2ee?.required == true)
        #expect(r.publishRefused == "e2ee_required")
        #expect(r.failures.isEmpty, "\(r.failures)")
    }

    /// The same plain publisher is accepted in an `e2ee: off` meeting, and there the marker
    /// is visible in forwarded frames: the marker check does detect plaintext.
    @Test func plainPublisherIsAcceptedWhenE2EEIsOff() async throws {
        let node = try TestNode()
        let (report, log) = try await runClient(node, [
            "--publisher", try node.token("pete@acme.example"),
            "--subscriber", try node.token("sue@acme.example", grants: ["subscribe"]),
            "--plain", "--marker", "--seconds", "3", "--min-frames", "30",
        ])
        let r = try #require(report, "no report: \(log)")
        #expect(r.e2ee?.required == false)
        #expect(r.publishRefused == nil)
        #expect(r.failures.isEmpty, "\(r.failures)")
        #expect((r.subscribers.first?.markerInForwardedFrames ?? 0) > 0)
        #expect((r.subscribers.first?.videoFrames ?? 0) >= 30)
    }
}
