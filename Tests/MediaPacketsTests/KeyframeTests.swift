import DemarcTestSupport
import Testing
@testable import MediaPackets

@Suite("Keyframe detection")
struct KeyframeTests {
    @Test func vp8KeyframeAndInterframe() throws {
        // X=1 S=1 PID=0; I=1 with 15-bit picture id; frame tag P=0 then the keyframe start code.
        let key: [UInt8] = [0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]
        #expect(try KeyframeDetector.isVP8Keyframe(key))
        let descriptor = try key.withUnsafeBytes { try VP8PayloadDescriptor.parse($0) }
        #expect(descriptor.pictureID == 0x0123)
        #expect(descriptor.payloadOffset == 4)
        var inter = key
        inter[4] = 0x11  // P=1
        #expect(try !KeyframeDetector.isVP8Keyframe(inter))
        var continuation = key
        continuation[0] = 0x80  // S=0: not the start of a frame
        #expect(try !KeyframeDetector.isVP8Keyframe(continuation))
        // Without the X byte.
        #expect(try KeyframeDetector.isVP8Keyframe([0x10, 0x50, 0x01]))
    }

    @Test func h264KeyframesInEveryPacketization() throws {
        #expect(try KeyframeDetector.isH264Keyframe([0x65, 0x88]))  // IDR single NAL
        #expect(try !KeyframeDetector.isH264Keyframe([0x41, 0x9A]))  // non-IDR slice
        // STAP-A with SPS (7), PPS (8), IDR (5).
        #expect(try KeyframeDetector.isH264Keyframe([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x02, 0x65, 0x88]))
        #expect(try !KeyframeDetector.isH264Keyframe([0x78, 0x00, 0x02, 0x41, 0x9A]))
        #expect(try KeyframeDetector.isH264Keyframe([0x7C, 0x85, 0x88]))  // FU-A start of IDR
        #expect(try !KeyframeDetector.isH264Keyframe([0x7C, 0x05, 0x88]))  // FU-A middle of IDR
        #expect(throws: CodecPayloadError.malformedAggregation(offset: 1)) { try KeyframeDetector.isH264Keyframe([0x78, 0x00, 0x09, 0x65]) }
    }

    @Test func fuzzedPayloadsNeverTrap() {
        var generator = SeededGenerator(seed: 0xF00D)
        for _ in 0..<3000 {
            let payload = generator.bytes(Int.random(in: 0...24, using: &generator))
            do { _ = try KeyframeDetector.isVP8Keyframe(payload) } catch { _ = error as CodecPayloadError }
            do { _ = try KeyframeDetector.isH264Keyframe(payload) } catch { _ = error as CodecPayloadError }
        }
    }
}
