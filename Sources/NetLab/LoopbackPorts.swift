#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ports on 127.0.0.1 free for both TCP and UDP right now (gossip uses both on one port).
/// A port found free may be taken by someone else before the node binds it; the node
/// then fails to start and says so, which `cluster up` reports.
public enum LoopbackPorts {
    #if os(Linux)
    private static let stream = Int32(SOCK_STREAM.rawValue), datagram = Int32(SOCK_DGRAM.rawValue)
    #else
    private static let stream = SOCK_STREAM, datagram = SOCK_DGRAM
    #endif

    public static func free(_ count: Int, excluding taken: Set<Int> = []) -> [Int] {
        var found: [Int] = []
        var attempts = 0
        while found.count < count, attempts < count * 20 {
            attempts += 1
            guard let port = tryBind(stream, port: 0), !taken.contains(port), !found.contains(port), isFree(port) else { continue }
            found.append(port)
        }
        return found
    }

    /// True when both a TCP and a UDP socket can bind 127.0.0.1:`port` (with SO_REUSEADDR,
    /// as servers bind, so connections in TIME_WAIT do not count as in use).
    public static func isFree(_ port: Int) -> Bool {
        tryBind(stream, port: port) != nil && tryBind(datagram, port: port) != nil
    }

    /// Binds a socket of `type` to 127.0.0.1:`port`, returns the bound port, closes it.
    private static func tryBind(_ type: Int32, port: Int) -> Int? {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var one: Int32 = 1
        if type == stream { _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok else { return nil }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 }
        }
        return named ? Int(UInt16(bigEndian: bound.sin_port)) : nil
    }
}
