#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MediaForwarding

extension MediaEngine {
    /// The SFU's own RTCP, about once a second (RFC 3550 §6.2): each meeting's router writes
    /// receiver reports to publishers and sender reports to subscribers.
    func sendReports(now time: MediaInstant) {
        let ntp = Self.ntpNow()
        for meeting in meetings.values {
            batch.reset()
            meeting.router.reports(now: time, ntp: ntp, into: &batch)
            perform(meeting)
        }
    }

    /// The wall clock as a 64-bit NTP timestamp (seconds since 1900 in the high 32 bits,
    /// RFC 3550 §4). Sender reports need wall-clock time; everything else uses `now`.
    static func ntpNow() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let seconds = UInt64(max(0, spec.tv_sec)) &+ 2_208_988_800
        let fraction = UInt64(max(0, spec.tv_nsec)) << 32 / 1_000_000_000
        return seconds << 32 | fraction
    }
}
