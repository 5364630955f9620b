"""The native client's aiortc hooks without an SFU: a publisher and receivers connected
directly over loopback, keys handed over in-process. Checks the encoder/decoder hooks
encrypt every VP8 and Opus frame with the Demarc layout, that a receiver with the key
decodes video and audio, that one with a wrong key decodes none, and the marker accounting.

Run: cd Tests/Interop && python3 -m unittest -v test_e2ee_hooks   (about 10 s)
"""

import asyncio
import time
import unittest

from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack

import e2ee_client
import sframe
from interop import GradientTrack


async def call(publisher_state, receiver_state, seconds_after_first_frame=1.5, deadline=25):
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    for track in (AudioStreamTrack(), GradientTrack()):
        e2ee_client.SENDERS[id(sender_pc.addTrack(track))] = publisher_state
    counts = {"video": 0, "audio": 0}
    done = asyncio.Event()

    async def consume(track):
        while True:
            try:
                await track.recv()
            except Exception:
                return
            counts[track.kind] += 1

    tasks = []

    @receiver_pc.on("track")
    def on_track(track):
        e2ee_client.register_receivers(receiver_pc, receiver_state)
        tasks.append(asyncio.ensure_future(consume(track)))

    await sender_pc.setLocalDescription(await sender_pc.createOffer())
    await receiver_pc.setRemoteDescription(sender_pc.localDescription)
    e2ee_client.register_receivers(receiver_pc, receiver_state)
    await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
    await sender_pc.setRemoteDescription(receiver_pc.localDescription)
    end = time.monotonic() + deadline
    # Await the condition (media decoded, or for a wrong key: ciphertext received) with a deadline.
    while time.monotonic() < end:
        c = receiver_state.counts
        if (counts["video"] > 0 and counts["audio"] > 0) or (receiver_state.wrong_key and c["received.vp8"] > 20 and c["received.opus"] > 20):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(seconds_after_first_frame)  # a measuring window
    await sender_pc.close()
    await receiver_pc.close()
    for t in tasks:
        t.cancel()
    return counts


def keyed_pair(marker=False, wrong_key=False):
    publisher = e2ee_client.E2EEState("publisher", encrypt=True, marker=marker)
    publisher.start_sending(slot=0x1234)
    receiver = e2ee_client.E2EEState("receiver", encrypt=True, marker=marker, wrong_key=wrong_key)
    receiver.install(publisher.kid, publisher.base_key)
    return publisher, receiver


class HookTests(unittest.TestCase):
    def test_receiver_with_key_decrypts_and_decodes_video_and_audio_marker_never_forwarded(self):
        publisher, receiver = keyed_pair(marker=True)
        counts = asyncio.run(call(publisher, receiver))
        c = receiver.counts
        self.assertGreater(counts["video"], 0)
        self.assertGreater(counts["audio"], 0)
        self.assertGreater(c["decrypted.vp8"], 0)
        self.assertGreater(c["decrypted.opus"], 0)
        self.assertEqual(c["markerInForwardedFrames"], 0)
        self.assertEqual(c["markerStrippedAfterDecryption"], c["decrypted.vp8"] + c["decrypted.opus"])
        self.assertEqual(dict(receiver.failures), {})
        self.assertGreater(publisher.counts["sent.vp8"], 0)

    def test_wrong_key_decodes_nothing(self):
        publisher, receiver = keyed_pair(marker=True, wrong_key=True)
        counts = asyncio.run(call(publisher, receiver, seconds_after_first_frame=0.5))
        self.assertEqual(counts, {"video": 0, "audio": 0})
        self.assertGreater(receiver.counts["received.vp8"], 0)
        self.assertEqual(receiver.counts["decrypted.vp8"] + receiver.counts["decrypted.opus"], 0)
        self.assertGreater(receiver.failures["auth"], 0)
        self.assertEqual(receiver.counts["markerInForwardedFrames"], 0)

    def test_plain_control_marker_is_seen_in_transit(self):
        publisher = e2ee_client.E2EEState("publisher", encrypt=False, marker=True)
        receiver = e2ee_client.E2EEState("receiver", encrypt=False, marker=True)
        counts = asyncio.run(call(publisher, receiver))
        self.assertGreater(counts["video"], 0)
        self.assertGreater(receiver.counts["markerInForwardedFrames"], 0)  # the check detects plaintext

    def test_protected_vp8_frames_carry_the_publishers_slot(self):
        publisher, _ = keyed_pair()
        frame = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]) + bytes(300)
        payloads = e2ee_client.SFrameVp8Encoder(publisher)._packetize(frame, picture_id=5)
        descriptor_length = 4  # X=1, I=1, M=1: 15-bit picture id
        first = payloads[0][descriptor_length:]
        self.assertEqual(first[:10], frame[:10])
        kid, _, _ = sframe.parse_header(first[10:])
        self.assertEqual(sframe.split_key_id(kid), (0x1234, 0))


if __name__ == "__main__":
    unittest.main()
