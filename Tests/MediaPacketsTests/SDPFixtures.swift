/// SDP offers shaped like the ones our interop clients send. Written for these tests from
/// RFC 8829/8843/8853 and the clients' known output shape; not captured traffic.
enum SDPFixtures {
    /// A Chromium Unified Plan offer: BUNDLE, audio (Opus) and simulcast video (VP8, H.264,
    /// RTX) with rid/simulcast, and a data channel.
    static let chromiumOffer = """
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
    static let aiortcOffer = """
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
}
