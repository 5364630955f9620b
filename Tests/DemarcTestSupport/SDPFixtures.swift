/// SDP offers shaped like the ones our interop clients send. Written for these tests from
/// RFC 8829/8843/8853 and the clients' known output shape; not captured traffic.
public enum SDPFixtures {
    /// A Chromium Unified Plan offer: BUNDLE, audio (Opus) and simulcast video (VP8, H.264,
    /// RTX) with rid/simulcast, and a data channel.
    public static let chromiumOffer = """
        v=0
        o=- 4611731400430051336 2 IN IP4 127.0.0.1
        s=-
        t=0 0
        a=group:BUNDLE 0 1 2
        a=extmap-allow-mixed
        a=msid-semantic: WMS stream-a
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
        c=IN IP4 0.0.0.0
        a=rtcp:9 IN IP4 0.0.0.0
        a=candidate:1467250027 1 udp 2122260223 192.168.1.10 54321 typ host generation 0 network-id 1
        a=ice-ufrag:3Q9a
        a=ice-pwd:Ycv1DuFpFq5sCmVlMH/Fs3Ey
        a=ice-options:trickle
        a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
        a=setup:actpass
        a=mid:0
        a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
        a=sendrecv
        a=msid:stream-a track-audio
        a=rtcp-mux
        a=rtcp-rsize
        a=rtpmap:111 opus/48000/2
        a=rtcp-fb:111 transport-cc
        a=fmtp:111 minptime=10;useinbandfec=1
        a=rtpmap:63 red/48000/2
        a=fmtp:63 111/111
        a=rtpmap:9 G722/8000
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:13 CN/8000
        a=rtpmap:110 telephone-event/48000
        a=rtpmap:126 telephone-event/8000
        a=ssrc:1001 cname:Zf3x1Y0kqCwRiKPM
        a=ssrc:1001 msid:stream-a track-audio
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103
        c=IN IP4 0.0.0.0
        a=rtcp:9 IN IP4 0.0.0.0
        a=ice-ufrag:3Q9a
        a=ice-pwd:Ycv1DuFpFq5sCmVlMH/Fs3Ey
        a=ice-options:trickle
        a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
        a=setup:actpass
        a=mid:1
        a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
        a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=extmap:13 urn:3gpp:video-orientation
        a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id
        a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id
        a=sendonly
        a=msid:stream-a track-video
        a=rtcp-mux
        a=rtcp-rsize
        a=rtpmap:96 VP8/90000
        a=rtcp-fb:96 goog-remb
        a=rtcp-fb:96 transport-cc
        a=rtcp-fb:96 ccm fir
        a=rtcp-fb:96 nack
        a=rtcp-fb:96 nack pli
        a=rtpmap:97 rtx/90000
        a=fmtp:97 apt=96
        a=rtpmap:102 H264/90000
        a=rtcp-fb:102 goog-remb
        a=rtcp-fb:102 transport-cc
        a=rtcp-fb:102 ccm fir
        a=rtcp-fb:102 nack
        a=rtcp-fb:102 nack pli
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
        a=rtpmap:103 rtx/90000
        a=fmtp:103 apt=102
        a=rid:q send
        a=rid:h send
        a=rid:f send
        a=simulcast:send q;h;f
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 0.0.0.0
        a=ice-ufrag:3Q9a
        a=ice-pwd:Ycv1DuFpFq5sCmVlMH/Fs3Ey
        a=ice-options:trickle
        a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
        a=setup:actpass
        a=mid:2
        a=sctp-port:5000
        a=max-message-size:262144

        """.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")

    /// An aiortc offer: fingerprints for several hashes, candidates inline (no trickle), RTX
    /// via ssrc-group FID, and no simulcast.
    public static let aiortcOffer = """
        v=0
        o=- 3911233468 3911233468 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=group:BUNDLE 0 1
        a=msid-semantic:WMS *
        m=audio 50412 UDP/TLS/RTP/SAVPF 96 0 8
        c=IN IP4 192.168.1.20
        a=sendrecv
        a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=mid:0
        a=msid:9a3c1c9e-6a4f-4f0e-9f2b-6f2b1f6e7c11 3e6f0b1a-2c4d-4e8f-9a1b-2c3d4e5f6a7b
        a=rtcp:9 IN IP4 0.0.0.0
        a=rtcp-mux
        a=ssrc:2894817271 cname:6f1e3a52-8c1d-4b0e-a7d2-1c2b3a4d5e6f
        a=rtpmap:96 opus/48000/2
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=candidate:4d8f1a2b3c4d5e6f7a8b9c0d1e2f3a4b 1 udp 2130706431 192.168.1.20 50412 typ host
        a=end-of-candidates
        a=ice-ufrag:Xk2P
        a=ice-pwd:kq9R2VdNfLw8pZ3sT6uYbE
        a=fingerprint:sha-256 0D:2A:9E:6C:51:3B:77:A0:E4:18:9C:2F:44:D1:8B:36:59:C0:AE:12:7F:83:61:DB:95:4E:28:B7:06:FA:C3:1D
        a=fingerprint:sha-384 5A:11:4C:27:E8:90:3D:6B:A2:F4:08:C1:7E:52:9B:36:DD:0E:84:73:1A:C9:65:B2:4F:E0:37:8D:16:A9:C4:2B:70:5E:E3:91:08:DA:6F:B4:23:7C:C1:9E:40:85:1B:62
        a=fingerprint:sha-512 9C:31:7A:E6:04:BD:58:2F:91:C3:6E:A7:15:F8:4B:D2:3E:80:67:1C:A9:5D:F2:06:B4:39:E7:8A:52:CD:11:6F:03:A8:DE:47:9B:25:C6:70:1F:84:E3:5A:BD:26:91:0C:74:E8:3F:A6:52:1D:C9:8B:07:F4:6E:31:A5:D8
        a=setup:actpass
        m=video 50412 UDP/TLS/RTP/SAVPF 97 98 99 100
        c=IN IP4 192.168.1.20
        a=sendrecv
        a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=mid:1
        a=msid:9a3c1c9e-6a4f-4f0e-9f2b-6f2b1f6e7c11 7b2d9e40-1f3a-4c5b-8d6e-9f0a1b2c3d4e
        a=rtcp:9 IN IP4 0.0.0.0
        a=rtcp-mux
        a=ssrc-group:FID 1640925871 3174562209
        a=ssrc:1640925871 cname:6f1e3a52-8c1d-4b0e-a7d2-1c2b3a4d5e6f
        a=ssrc:3174562209 cname:6f1e3a52-8c1d-4b0e-a7d2-1c2b3a4d5e6f
        a=rtpmap:97 VP8/90000
        a=rtcp-fb:97 nack
        a=rtcp-fb:97 nack pli
        a=rtcp-fb:97 goog-remb
        a=rtpmap:98 rtx/90000
        a=fmtp:98 apt=97
        a=rtpmap:99 H264/90000
        a=rtcp-fb:99 nack
        a=rtcp-fb:99 nack pli
        a=rtcp-fb:99 goog-remb
        a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
        a=rtpmap:100 rtx/90000
        a=fmtp:100 apt=99
        a=candidate:4d8f1a2b3c4d5e6f7a8b9c0d1e2f3a4b 1 udp 2130706431 192.168.1.20 50412 typ host
        a=end-of-candidates
        a=ice-ufrag:Xk2P
        a=ice-pwd:kq9R2VdNfLw8pZ3sT6uYbE
        a=fingerprint:sha-256 0D:2A:9E:6C:51:3B:77:A0:E4:18:9C:2F:44:D1:8B:36:59:C0:AE:12:7F:83:61:DB:95:4E:28:B7:06:FA:C3:1D
        a=setup:actpass

        """.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")

    /// A real offer from aiortc 1.16.0 (audio + video tracks added to an RTCPeerConnection,
    /// `createOffer` then `setLocalDescription`), captured on this machine for the tests.
    public static let aiortc116Offer = """
        v=0
        o=- 4005100832 4005100832 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=group:BUNDLE 0 1
        a=msid-semantic:WMS *
        m=audio 53243 UDP/TLS/RTP/SAVPF 96 9 0 8
        c=IN IP4 192.0.2.2
        a=sendrecv
        a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=mid:0
        a=msid:ca2979b3-39cf-4879-bd8e-479ef922b8e5 36466bfb-a2b0-405d-bd4a-bb8f86070c1d
        a=rtcp:9 IN IP4 0.0.0.0
        a=rtcp-mux
        a=ssrc:2443344632 cname:647c9606-ebe2-434c-8a7f-9ac30c5d10c3
        a=rtpmap:96 opus/48000/2
        a=rtpmap:9 G722/8000
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=candidate:f957a2332b1715da3b0ef8ba684454eb 1 udp 2130706431 192.0.2.2 53243 typ host
        a=candidate:d0bcf3d9c29a2bc887618212a1623bfa 1 udp 2130706431 fd00::2 59394 typ host
        a=end-of-candidates
        a=ice-ufrag:IKzP
        a=ice-pwd:Yrd1lXQZkQCRH94LaRElvp
        a=fingerprint:sha-256 A2:00:63:7A:A8:22:CA:24:65:A3:94:97:83:02:C4:C3:44:95:E1:38:F3:64:F2:73:7D:1B:F2:21:4E:F4:43:2F
        a=fingerprint:sha-384 39:D6:11:13:C7:0A:49:FD:C1:1A:A5:F0:EE:49:23:92:A4:61:5B:C3:0B:D7:4F:54:F7:E2:70:1F:79:1D:65:DE:0A:EF:0C:5E:7A:3B:32:93:FE:E9:E8:E9:50:11:02:D2
        a=fingerprint:sha-512 6D:0C:93:7F:E8:9E:5C:B9:FC:4D:E0:B3:6B:E2:E6:85:F7:11:1F:EE:47:C0:F2:0A:1F:BC:52:9E:B5:D3:4E:6B:86:B3:B7:BA:FC:35:93:05:6F:D0:3E:F9:20:E9:D7:2D:0D:6C:16:D9:43:4C:D9:41:BB:70:A1:BB:B8:98:3A:FB
        a=setup:actpass
        m=video 40994 UDP/TLS/RTP/SAVPF 97 98 99 100 101 102
        c=IN IP4 192.0.2.2
        a=sendrecv
        a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=mid:1
        a=msid:ca2979b3-39cf-4879-bd8e-479ef922b8e5 20f8fe67-f2a6-4449-92be-f92650c3954b
        a=rtcp:9 IN IP4 0.0.0.0
        a=rtcp-mux
        a=ssrc-group:FID 1339464975 2634840300
        a=ssrc:1339464975 cname:647c9606-ebe2-434c-8a7f-9ac30c5d10c3
        a=ssrc:2634840300 cname:647c9606-ebe2-434c-8a7f-9ac30c5d10c3
        a=rtpmap:97 VP8/90000
        a=rtcp-fb:97 nack
        a=rtcp-fb:97 nack pli
        a=rtcp-fb:97 goog-remb
        a=rtpmap:98 rtx/90000
        a=fmtp:98 apt=97
        a=rtpmap:99 H264/90000
        a=rtcp-fb:99 nack
        a=rtcp-fb:99 nack pli
        a=rtcp-fb:99 goog-remb
        a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
        a=rtpmap:100 rtx/90000
        a=fmtp:100 apt=99
        a=rtpmap:101 H264/90000
        a=rtcp-fb:101 nack
        a=rtcp-fb:101 nack pli
        a=rtcp-fb:101 goog-remb
        a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
        a=rtpmap:102 rtx/90000
        a=fmtp:102 apt=101
        a=candidate:f957a2332b1715da3b0ef8ba684454eb 1 udp 2130706431 192.0.2.2 40994 typ host
        a=candidate:d0bcf3d9c29a2bc887618212a1623bfa 1 udp 2130706431 fd00::2 33088 typ host
        a=end-of-candidates
        a=ice-ufrag:IKzP
        a=ice-pwd:Yrd1lXQZkQCRH94LaRElvp
        a=fingerprint:sha-256 A2:00:63:7A:A8:22:CA:24:65:A3:94:97:83:02:C4:C3:44:95:E1:38:F3:64:F2:73:7D:1B:F2:21:4E:F4:43:2F
        a=fingerprint:sha-384 39:D6:11:13:C7:0A:49:FD:C1:1A:A5:F0:EE:49:23:92:A4:61:5B:C3:0B:D7:4F:54:F7:E2:70:1F:79:1D:65:DE:0A:EF:0C:5E:7A:3B:32:93:FE:E9:E8:E9:50:11:02:D2
        a=fingerprint:sha-512 6D:0C:93:7F:E8:9E:5C:B9:FC:4D:E0:B3:6B:E2:E6:85:F7:11:1F:EE:47:C0:F2:0A:1F:BC:52:9E:B5:D3:4E:6B:86:B3:B7:BA:FC:35:93:05:6F:D0:3E:F9:20:E9:D7:2D:0D:6C:16:D9:43:4C:D9:41:BB:70:A1:BB:B8:98:3A:FB
        a=setup:actpass

        """.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
}
