public import MediaCore
public import MediaPackets

/// What the shell should do after an event of a ``ControllingICEAgent``.
public enum FullICEDirective: Sendable, Equatable {
    /// Send this STUN message to `address`.
    case send([UInt8], to: TransportAddress)
    /// A pair is nominated (RFC 8445 §8.1.1 for the controlling side, §7.3.1.5 for the
    /// controlled side): media flows to and from this address from now on.
    case connected(TransportAddress)
    /// The peer won a role conflict (RFC 8445 §7.2.5.1, §7.3.1.1): this agent is controlled now.
    case roleSwitchedToControlled
    /// Every remote candidate's check ran out of retransmissions without a response.
    case failed
}

/// The ICE agent of a synthetic peer facing a full-ICE server such as Janus (RFC 8445):
/// it answers the server's connectivity checks (a full agent checks us too, and a pair
/// becomes valid for it only once we answer), sends its own checks to the server's host
/// candidates as the controlling agent with USE-CANDIDATE (aggressive nomination, as
/// browsers did), and keeps consent fresh (RFC 7675) with a check every `keepaliveInterval`.
///
/// The SFU's own agent is `ICELiteAgent` (MediaCore), which only answers and tells a
/// controlled peer to switch (487); this one is the other side of that: it both answers
/// and asks, and resolves role conflicts by tie-breaker in both directions.
///
/// A value type that does no I/O: feed it datagrams and ticks, perform its directives.
public struct ControllingICEAgent<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public enum Role: Sendable, Equatable { case controlling, controlled }

    public struct Configuration: Sendable {
        /// Between retransmissions of an unanswered check (RFC 8445 §14.3 leaves the RTO to
        /// the implementation; 100 ms suits a loopback or LAN benchmark).
        public var retransmissionInterval: Duration = .milliseconds(100)
        /// Checks sent per candidate before giving up on it.
        public var maxTransmissions = 50
        /// Consent freshness after connecting (RFC 7675 §5.1: every 5 s ± 20 %; we are on a
        /// benchmark, so a fixed 2 s).
        public var keepaliveInterval: Duration = .seconds(2)
        /// PRIORITY of our (host) candidate, RFC 8445 §5.1.2.1: type preference 126.
        public var priority: UInt32 = 0x7E00_1EFF
        public init() {}
    }

    private struct Check: Sendable {
        var transactionID: STUNTransactionID
        var bytes: [UInt8]
        var to: TransportAddress
        var nominating: Bool
        var sentAt: Instant
        var transmissions: Int
    }

    public let local: ICECredentials
    public let remote: ICECredentials
    public let configuration: Configuration
    public private(set) var role: Role = .controlling
    /// Our tie-breaker (RFC 8445 §7.1.1): the larger one stays controlling.
    public let tieBreaker: UInt64
    public private(set) var selected: TransportAddress?
    private var candidates: [TransportAddress]
    private var checks: [Check] = []
    /// Pairs whose check the remote answered (RFC 8445 §7.2.5.3.2: the valid list).
    private var valid: Set<TransportAddress> = []
    /// Pairs the controlling remote nominated while we were controlled.
    private var nominatedByRemote: Set<TransportAddress> = []
    private var lastKeepalive: Instant?

    /// `candidates` are the remote's, from its SDP or trickle, best first.
    public init(local: ICECredentials, remote: ICECredentials, candidates: [TransportAddress], tieBreaker: UInt64,
                configuration: Configuration = Configuration()) {
        self.local = local
        self.remote = remote
        self.candidates = candidates
        self.tieBreaker = tieBreaker
        self.configuration = configuration
    }

    /// Sends the first check to every remote candidate.
    public mutating func start(now: Instant) -> [FullICEDirective] {
        var directives: [FullICEDirective] = []
        directives.reserveCapacity(candidates.count)
        for address in candidates { directives.append(check(address, now: now)) }
        return directives
    }

    /// A remote candidate learned late (trickle, RFC 8838 §11.4).
    public mutating func addCandidate(_ address: TransportAddress, now: Instant) -> [FullICEDirective] {
        guard !candidates.contains(address) else { return [] }
        candidates.append(address)
        return selected == nil ? [check(address, now: now)] : []
    }

    /// Handles a datagram the demultiplexer classified as STUN (RFC 7983), from `source`.
    public mutating func receive(_ datagram: [UInt8], from source: TransportAddress, now: Instant) -> [FullICEDirective] {
        guard let message = try? STUNMessage.parse(datagram), message.type.method == STUNMessageType.bindingMethod else { return [] }
        switch message.type.class {
        case .request: return answer(message, from: source, now: now)
        case .successResponse, .errorResponse: return response(message, from: source, now: now)
        case .indication: return []  // keepalives (RFC 8445 §11) need no answer
        }
    }

    /// Retransmits unanswered checks and sends consent checks; call every few tens of ms.
    public mutating func tick(now: Instant) -> [FullICEDirective] {
        var directives: [FullICEDirective] = []
        var index = 0
        while index < checks.count {
            guard checks[index].sentAt.duration(to: now) >= configuration.retransmissionInterval else { index += 1; continue }
            if checks[index].transmissions >= configuration.maxTransmissions {
                checks.remove(at: index)
                continue
            }
            checks[index].sentAt = now
            checks[index].transmissions += 1
            directives.append(.send(checks[index].bytes, to: checks[index].to))
            index += 1
        }
        if selected == nil, checks.isEmpty, !candidates.isEmpty, valid.isEmpty {
            candidates.removeAll()
            directives.append(.failed)
        }
        if selected != nil, lastKeepalive == nil { lastKeepalive = now }  // the consent clock starts at the first tick after connecting
        if let selected, let last = lastKeepalive, last.duration(to: now) >= configuration.keepaliveInterval,
           !checks.contains(where: { $0.to == selected }) {
            lastKeepalive = now
            directives.append(check(selected, now: now))
        }
        return directives
    }

    // MARK: Answering the remote's checks (RFC 8445 §7.3)

    private mutating func answer(_ request: STUNMessage, from source: TransportAddress, now: Instant) -> [FullICEDirective] {
        // RFC 8445 §7.3 / RFC 8489 §9.1.3: USERNAME is "<our ufrag>:<their ufrag>", and the
        // MESSAGE-INTEGRITY is keyed with our password. Anything else gets no answer.
        guard let username = request.username, request.hasMessageIntegrity,
              username == "\(local.ufrag):\(remote.ufrag)",
              (try? request.validateMessageIntegrity(key: Array(local.password.utf8))) == true else { return [] }
        // RFC 8445 §7.3.1.1: role conflicts.
        if role == .controlling, let theirs = request.iceControlling {
            if tieBreaker >= theirs { return [.send(errorResponse(to: request, code: 487, reason: "Role Conflict"), to: source)] }
            role = .controlled
            return [.roleSwitchedToControlled, .send(successResponse(to: request, source: source), to: source)]
                + learnNomination(request, from: source)
        }
        if role == .controlled, let theirs = request.iceControlled {
            if tieBreaker >= theirs {
                role = .controlling
            } else {
                return [.send(errorResponse(to: request, code: 487, reason: "Role Conflict"), to: source)]
            }
        }
        var directives: [FullICEDirective] = [.send(successResponse(to: request, source: source), to: source)]
        directives += learnNomination(request, from: source)
        // A triggered check (RFC 8445 §7.3.1.4) toward a source we were not checking yet: a
        // peer-reflexive candidate, or the remote's candidate missing from its SDP.
        if selected == nil, !valid.contains(source), !checks.contains(where: { $0.to == source }) {
            if !candidates.contains(source) { candidates.append(source) }
            directives.append(check(source, now: now))
        }
        return directives
    }

    private mutating func learnNomination(_ request: STUNMessage, from source: TransportAddress) -> [FullICEDirective] {
        guard role == .controlled, request.useCandidate else { return [] }
        nominatedByRemote.insert(source)
        return connectIfNominated(source)
    }

    private mutating func connectIfNominated(_ address: TransportAddress) -> [FullICEDirective] {
        guard selected == nil, valid.contains(address), nominatedByRemote.contains(address) || role == .controlling else { return [] }
        selected = address
        return [.connected(address)]
    }

    // MARK: Our checks (RFC 8445 §7.2)

    private mutating func check(_ address: TransportAddress, now: Instant) -> FullICEDirective {
        let transactionID = STUNTransactionID.random()
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: transactionID)
        // These appends cannot fail: every value is small and well-formed.
        try? builder.appendUsername("\(remote.ufrag):\(local.ufrag)")
        try? builder.appendPriority(configuration.priority)
        let nominating = role == .controlling
        if nominating {
            try? builder.appendICEControlling(tieBreaker)
            try? builder.appendUseCandidate()
        } else {
            try? builder.appendICEControlled(tieBreaker)
        }
        try? builder.appendMessageIntegrity(key: Array(remote.password.utf8))
        builder.appendFingerprint()
        checks.removeAll { $0.to == address }
        checks.append(Check(transactionID: transactionID, bytes: builder.bytes, to: address, nominating: nominating, sentAt: now, transmissions: 1))
        if selected != nil { lastKeepalive = now }
        return .send(builder.bytes, to: address)
    }

    private mutating func response(_ message: STUNMessage, from source: TransportAddress, now: Instant) -> [FullICEDirective] {
        guard let index = checks.firstIndex(where: { $0.transactionID == message.transactionID }) else { return [] }
        // RFC 8445 §7.2.5.2.1: a response must come from where the request went, and is
        // authenticated with the remote's password.
        guard checks[index].to == source,
              (try? message.validateMessageIntegrity(key: Array(remote.password.utf8))) == true else { return [] }
        let check = checks.remove(at: index)
        if message.type.class == .errorResponse {
            // RFC 8445 §7.2.5.1: 487 means switch roles and check again.
            guard (try? message.errorCode())?.code == 487 else { return [] }
            role = check.nominating ? .controlled : .controlling
            var directives: [FullICEDirective] = role == .controlled ? [.roleSwitchedToControlled] : []
            directives.append(self.check(source, now: now))
            return directives
        }
        valid.insert(source)
        if selected == nil, role == .controlling, !check.nominating {
            // Became controlling after this check left: nominate now.
            return [self.check(source, now: now)]
        }
        return connectIfNominated(source)
    }

    private func successResponse(to request: STUNMessage, source: TransportAddress) -> [UInt8] {
        var builder = STUNMessageBuilder(type: .bindingSuccess, transactionID: request.transactionID)
        try? builder.appendXORMappedAddress(source)
        try? builder.appendMessageIntegrity(key: Array(local.password.utf8))
        builder.appendFingerprint()
        return builder.bytes
    }

    private func errorResponse(to request: STUNMessage, code: Int, reason: String) -> [UInt8] {
        var builder = STUNMessageBuilder(type: .bindingError, transactionID: request.transactionID)
        try? builder.appendErrorCode(code, reason: reason)
        try? builder.appendMessageIntegrity(key: Array(local.password.utf8))
        builder.appendFingerprint()
        return builder.bytes
    }
}
