public import MediaNIO
public import MediaPackets

/// The first event of `events` that `accept` takes, within `limit`.
public func nextEvent<T: Sendable>(_ events: AsyncStream<MediaEvent>, _ what: String, limit: Duration = .seconds(10),
                                   _ accept: @escaping @Sendable (MediaEvent) -> T?) async throws -> T {
    try await within(limit, what) {
        for await event in events {
            if let value = accept(event) { return value }
        }
        throw SyntheticPeerError("the events ended before \(what)")
    }
}

/// The next subscriber offer the media service sends on `events`, parsed.
public func nextSubscriberOffer(_ events: AsyncStream<MediaEvent>, _ what: String) async throws -> SessionDescription {
    try SessionDescription.parse(try await nextEvent(events, what) { event -> String? in
        if case .subscriberOffer(let sdp) = event { return sdp }
        return nil
    })
}
