public import MediaPackets

/// A username fragment and password (RFC 8445 §5.3), exchanged in SDP `a=ice-ufrag`/`a=ice-pwd`.
public struct ICECredentials: Sendable, Equatable {
    public var ufrag: String
    public var password: String

    public init(ufrag: String, password: String) {
        self.ufrag = ufrag
        self.password = password
    }

    /// Fresh random credentials: 8 and 24 characters from the ice-char set (RFC 8839 §5.4
    /// asks for at least 4 and 22, with 24 and 128 bits of randomness).
    public static func random() -> ICECredentials {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var generator = SystemRandomNumberGenerator()
        func draw(_ n: Int) -> String { String((0..<n).map { _ in alphabet[Int(generator.next() % 64)] }) }
        return ICECredentials(ufrag: draw(8), password: draw(24))
    }
}

/// Why the agent ignored a datagram; the shell counts these.
public enum ICEDiscardReason: Sendable, Equatable {
    /// Not a parseable STUN message (or a bad FINGERPRINT).
    case malformed
    /// A STUN message other than a Binding request (a lite agent sends no requests, so
    /// responses are unexpected too).
    case notABindingRequest
}

/// What the shell should do after an event.
public enum ICEDirective: Sendable, Equatable {
    /// Send this STUN message to `address` from the socket the request came in on.
    case send([UInt8], to: TransportAddress)
    /// Media now flows to and from this address (RFC 8445 §8.2: the nominated pair).
    case selectedPairChanged(TransportAddress)
    /// A candidate pair lost consent (RFC 7675 §5.1); stop sending to it.
    case pairExpired(TransportAddress)
    /// No pair has consent: the peer is gone or unreachable (ICE state "disconnected/failed").
    case disconnected
    case discarded(ICEDiscardReason)
}

/// The ICE-lite agent of one peer connection (RFC 8445 §2.5, §7.3 and §8.2; RFC 8838 for
/// trickle): the SFU has public host candidates, never sends connectivity checks, and is
/// always the controlled agent.
///
/// It answers Binding requests that carry the right USERNAME (`<local ufrag>:<remote ufrag>`)
/// and a MESSAGE-INTEGRITY valid under the local password, learns a candidate pair from
/// each, selects the pair the controlling peer nominates with USE-CANDIDATE, and tracks
/// consent freshness (RFC 7675): a pair that has not sent a valid request for
/// `consentTimeout` (30 s) expires.
///
/// A value type that does no I/O: feed it datagrams and ticks, perform its directives.
public struct ICELiteAgent<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public struct Configuration: Sendable {
        /// RFC 7675 §5.1: consent expires 30 s after the last authenticated check.
        public var consentTimeout: Duration = .seconds(30)
        /// Pairs remembered at once; the least recently refreshed is forgotten beyond this.
        public var maxPairs = 16
        /// SOFTWARE attribute for responses (RFC 8489 §14.14), or nil for none.
        public var software: String? = nil
        public init() {}
    }

    private struct Pair: Sendable {
        var lastConsent: Instant
        var nominatedAt: Instant?
        var priority: UInt32
    }

    public let local: ICECredentials
    /// The peer's ufrag from its SDP, when known; requests naming another are refused.
    public var remoteUfrag: String?
    public let configuration: Configuration
    public private(set) var selectedAddress: TransportAddress?
    private var pairs: [TransportAddress: Pair] = [:]

    public init(local: ICECredentials, remoteUfrag: String? = nil, configuration: Configuration = Configuration()) {
        self.local = local
        self.remoteUfrag = remoteUfrag
        self.configuration = configuration
    }

    /// Handles a datagram the demultiplexer classified as STUN (RFC 7983), from `source`.
    public mutating func receive(_ datagram: [UInt8], from source: TransportAddress, now: Instant) -> [ICEDirective] {
        var directives: [ICEDirective] = []
        directives.reserveCapacity(2)
        guard let request = try? STUNMessage.parse(datagram) else { return [.discarded(.malformed)] }
        guard request.type == .bindingRequest else { return [.discarded(.notABindingRequest)] }

        // RFC 8489 §9.1.3: missing credentials are a 400, wrong ones a 401.
        guard let username = request.username, request.hasMessageIntegrity else {
            return [.send(errorResponse(to: request, code: 400, reason: "Bad Request"), to: source)]
        }
        let parts = username.split(separator: ":", maxSplits: 1)
        let integrity = (try? request.validateMessageIntegrity(key: Array(local.password.utf8))) ?? false
        guard parts.count == 2, parts[0] == local.ufrag, remoteUfrag.map({ $0 == parts[1] }) ?? true, integrity else {
            return [.send(errorResponse(to: request, code: 401, reason: "Unauthorized"), to: source)]
        }
        // RFC 8489 §6.3.1.1: comprehension-required attributes we do not understand get a 420.
        let unknown = request.attributes.map(\.type).filter { $0 < 0x8000 && !understoodAttributes.contains($0) }
        if !unknown.isEmpty {
            return [.send(errorResponse(to: request, code: 420, reason: "Unknown Attribute", unknownAttributes: unknown), to: source)]
        }
        // RFC 8445 §7.3.1.1: a lite agent is always controlled, so a peer that also claims the
        // controlled role is told to switch.
        if request.iceControlled != nil, request.iceControlling == nil {
            return [.send(errorResponse(to: request, code: 487, reason: "Role Conflict"), to: source)]
        }

        directives.append(.send(successResponse(to: request, source: source), to: source))

        if pairs[source] == nil, pairs.count >= configuration.maxPairs { evictStalestPair() }
        var pair = pairs[source] ?? Pair(lastConsent: now, nominatedAt: nil, priority: request.priority ?? 0)
        pair.lastConsent = now
        if let priority = request.priority { pair.priority = priority }
        if request.useCandidate {
            pair.nominatedAt = now
            if selectedAddress != source {
                selectedAddress = source
                directives.append(.selectedPairChanged(source))
            }
        }
        pairs[source] = pair
        return directives
    }

    /// Expires pairs whose consent lapsed (RFC 7675 §5.1). Call at least once a second, or at
    /// ``nextDeadline``.
    public mutating func tick(now: Instant) -> [ICEDirective] {
        let expired = pairs.filter { $0.value.lastConsent.duration(to: now) >= configuration.consentTimeout }
            .map(\.key).sorted { $0.description < $1.description }
        guard !expired.isEmpty else { return [] }
        var directives: [ICEDirective] = []
        directives.reserveCapacity(expired.count + 1)
        for address in expired {
            pairs[address] = nil
            directives.append(.pairExpired(address))
        }
        if let selected = selectedAddress, pairs[selected] == nil {
            // Fall back to the most recently nominated pair that still has consent.
            let fallback = pairs.filter { $0.value.nominatedAt != nil }
                .max { ($0.value.nominatedAt!, $0.value.priority) < ($1.value.nominatedAt!, $1.value.priority) }
            selectedAddress = fallback?.key
            directives.append(fallback.map { .selectedPairChanged($0.key) } ?? .disconnected)
        }
        return directives
    }

    /// When the next pair would expire, for scheduling ``tick(now:)``.
    public var nextDeadline: Instant? {
        pairs.values.map { $0.lastConsent.advanced(by: configuration.consentTimeout) }.min()
    }

    /// Whether media may be sent to `address` (RFC 7675 §5.1: only while consent is fresh).
    public func hasConsent(_ address: TransportAddress, now: Instant) -> Bool {
        guard let pair = pairs[address] else { return false }
        return pair.lastConsent.duration(to: now) < configuration.consentTimeout
    }

    public var knownAddresses: [TransportAddress] { pairs.keys.sorted { $0.description < $1.description } }

    private mutating func evictStalestPair() {
        guard let stalest = pairs.filter({ $0.key != selectedAddress }).min(by: { $0.value.lastConsent < $1.value.lastConsent })?.key else { return }
        pairs[stalest] = nil
    }

    private func successResponse(to request: STUNMessage, source: TransportAddress) -> [UInt8] {
        var builder = STUNMessageBuilder(type: .bindingSuccess, transactionID: request.transactionID)
        // These appends cannot fail: every value is small and well-formed.
        try? builder.appendXORMappedAddress(source)
        if let software = configuration.software { try? builder.appendSoftware(software) }
        try? builder.appendMessageIntegrity(key: Array(local.password.utf8))
        builder.appendFingerprint()
        return builder.bytes
    }


    private func errorResponse(to request: STUNMessage, code: Int, reason: String, unknownAttributes: [UInt16] = []) -> [UInt8] {
        var builder = STUNMessageBuilder(type: .bindingError, transactionID: request.transactionID)
        try? builder.appendErrorCode(code, reason: reason)
        if !unknownAttributes.isEmpty {
            var value: [UInt8] = []
            for type in unknownAttributes.prefix(64) { value.append(UInt8(type >> 8)); value.append(UInt8(type & 0xFF)) }
            try? builder.append(type: STUNAttributeType.unknownAttributes, value: value)
        }
        // Responses to authenticated requests are authenticated too (RFC 8489 §9.1.3).
        if code == 487 || code == 420 { try? builder.appendMessageIntegrity(key: Array(local.password.utf8)) }
        builder.appendFingerprint()
        return builder.bytes
    }
}

/// Comprehension-required attributes (below 0x8000) a Binding request may carry.
private let understoodAttributes: Set<UInt16> = [
    STUNAttributeType.mappedAddress, STUNAttributeType.username, STUNAttributeType.messageIntegrity,
    STUNAttributeType.errorCode, STUNAttributeType.unknownAttributes, STUNAttributeType.realm, STUNAttributeType.nonce,
    STUNAttributeType.messageIntegritySHA256, STUNAttributeType.xorMappedAddress, STUNAttributeType.priority,
    STUNAttributeType.useCandidate,
]
