/// The header-extension ids one media section negotiated (`a=extmap`, RFC 8285 §8) for the
/// extensions the SFU reads or rewrites. Built once per negotiation; looked up per packet.
public struct RTPExtensionMap: Sendable, Equatable {
    public var mid: UInt8?
    public var rtpStreamID: UInt8?
    public var repairedRTPStreamID: UInt8?
    public var absSendTime: UInt8?
    public var transportWideSequence: UInt8?
    public var audioLevel: UInt8?

    public init(mid: UInt8? = nil, rtpStreamID: UInt8? = nil, repairedRTPStreamID: UInt8? = nil,
                absSendTime: UInt8? = nil, transportWideSequence: UInt8? = nil, audioLevel: UInt8? = nil) {
        self.mid = mid
        self.rtpStreamID = rtpStreamID
        self.repairedRTPStreamID = repairedRTPStreamID
        self.absSendTime = absSendTime
        self.transportWideSequence = transportWideSequence
        self.audioLevel = audioLevel
    }

    public init(_ media: MediaDescription) {
        self.init(
            mid: media.extensionID(uri: RTPExtensionURI.mid),
            rtpStreamID: media.extensionID(uri: RTPExtensionURI.rtpStreamID),
            repairedRTPStreamID: media.extensionID(uri: RTPExtensionURI.repairedRTPStreamID),
            absSendTime: media.extensionID(uri: RTPExtensionURI.absSendTime),
            transportWideSequence: media.extensionID(uri: RTPExtensionURI.transportWideCC),
            audioLevel: media.extensionID(uri: RTPExtensionURI.audioLevel))
    }
}

extension RTPHeader {
    /// The packet's mid (RFC 8843 §15.1), which routes it to a media section under BUNDLE.
    public func mid(_ map: RTPExtensionMap, in bytes: UnsafeRawBufferPointer) -> String? {
        map.mid.flatMap { extensionString(id: $0, in: bytes) }
    }

    /// The simulcast layer's rid (RFC 8852 §3.1), or for RTX the rid it repairs (§3.2).
    public func rid(_ map: RTPExtensionMap, in bytes: UnsafeRawBufferPointer) -> String? {
        map.rtpStreamID.flatMap { extensionString(id: $0, in: bytes) }
            ?? map.repairedRTPStreamID.flatMap { extensionString(id: $0, in: bytes) }
    }
}
