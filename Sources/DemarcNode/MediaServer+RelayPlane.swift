import MediaNIO

/// The SFU carries the relay links the node agrees (`MeetingService+Relay.swift`).
extension MediaServer: RelayMediaPlane {
    func openRelay(_ plan: RelayLinkPlan) async throws {
        if plan.endToEndEncryptionRequired { await requireEndToEndEncryption(meeting: plan.mediaMeeting) }
        try await openRelayLink(RelayLinkSpec(linkID: plan.linkID, meeting: plan.mediaMeeting, remoteNode: plan.remoteNode,
                                              remoteHost: plan.remoteHost, remotePort: plan.remotePort,
                                              sendingKey: plan.keys.sending, receivingKey: plan.keys.receiving))
    }

    func closeRelay(_ linkID: UInt64) async { await closeRelayLink(linkID) }

    func relayAlive(_ linkID: UInt64, withinSeconds seconds: Double) async -> Bool {
        guard let link = await relayLinks().first(where: { $0.linkID == linkID }), let last = link.lastReceived else { return false }
        return ContinuousClock.now - last < .milliseconds(Int64(seconds * 1000))
    }
}
