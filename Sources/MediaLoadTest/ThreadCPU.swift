import Foundation

/// CPU time the calling thread has used, in seconds (`CLOCK_THREAD_CPUTIME_ID`): what the
/// load test charges to the SFU's event-loop thread.
func threadCPUSeconds() -> Double {
    var time = timespec()
    guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time) == 0 else { return 0 }
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// The calling thread's kernel id, read from `/proc/thread-self` (a link to `PID/task/TID`);
/// nil where there is no such link. Swift cannot import `gettid`.
func currentThreadID() -> Int? {
    var target = [CChar](repeating: 0, count: 64)
    let length = readlink("/proc/thread-self", &target, target.count - 1)
    guard length > 0 else { return nil }
    let path = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.split(separator: "/").last.flatMap { Int($0) }
}

/// Pins thread `tid` to `cpu` with `taskset -p` (`sched_setaffinity` does not import into
/// Swift on Glibc). Returns whether taskset succeeded.
func pin(thread tid: Int, to cpu: Int) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
    process.arguments = ["-p", "-c", "\(cpu)", "\(tid)"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

/// How often the calling thread was preempted (`nonvoluntary_ctxt_switches` in
/// `/proc/thread-self/status`): a forwarding-delay tail with many of these is the scheduler's,
/// not the SFU's. Nil where the file is missing.
func involuntaryContextSwitches() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("nonvoluntary_ctxt_switches:") {
        return Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
    }
    return nil
}
