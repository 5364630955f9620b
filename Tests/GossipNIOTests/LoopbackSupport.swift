import NIOCore
import NIOPosix
import SodiumWrapper
import Gossip

/// What the loopback tests share: keys, free ports, and waiting for a condition.
enum Loopback {
    static func key(_ byte: UInt8) -> XChaCha20Poly1305.Key {
        var b = [UInt8](repeating: byte, count: 32)
        return try! XChaCha20Poly1305.Key(consuming: &b)
    }

    /// Awaits `condition` with a deadline: short bounded waits between checks, never a
    /// fixed sleep standing in for the event.
    static func eventually(within timeout: Duration, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    /// Protocol timings shortened for loopback (RTT well under a millisecond), so a test
    /// sees joins, failures and leaves within seconds.
    static var fastSettings: GossipSettings {
        var settings = GossipSettings()
        settings.probing.interval = .milliseconds(200)
        settings.probing.timeout = .milliseconds(80)
        settings.dissemination.gossipInterval = .milliseconds(50)
        return settings
    }

    /// Free UDP ports, found by binding port 0 and releasing it.
    static func freePorts(_ n: Int, group: any EventLoopGroup) async throws -> [Int] {
        var ports: [Int] = []
        for _ in 0..<n {
            let c = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
            ports.append(c.localAddress!.port!)
            try await c.close()
        }
        return ports
    }
}
