#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Progress for long work: a live line (rate, ETA) on a terminal, plain
/// periodic lines otherwise. Thread-safe; writes to standard error.
public final class Progress: @unchecked Sendable {
    private let label: String
    private let unit: String
    private var total: Int
    private var done = 0
    private let start: Double
    private var lastPrint: Double
    private let interactive: Bool
    private let interval: Double
    private let lock = NSLock()
    private let enabled: Bool
    private var extra = ""

    /// - Parameters:
    ///   - total: expected units of work (0 if unknown).
    ///   - quiet: print nothing at all.
    ///   - interval: seconds between plain lines when not a terminal.
    public init(_ label: String, total: Int, unit: String = "items", quiet: Bool = false, interval: Double = 5) {
        self.label = label
        self.unit = unit
        self.total = total
        self.start = Progress.now()
        self.lastPrint = start
        self.interactive = isatty(2) == 1
        self.interval = interactive ? 0.1 : interval
        self.enabled = !quiet
    }

    /// Records `n` more units of work done, with an optional status suffix.
    public func advance(by n: Int = 1, status: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        done += n
        if let status { extra = status }
        let t = Progress.now()
        if enabled && t - lastPrint >= interval {
            lastPrint = t
            emit(t, final: false)
        }
    }

    /// Prints the final line; returns the elapsed seconds.
    @discardableResult
    public func finish() -> Double {
        lock.lock()
        defer { lock.unlock() }
        let t = Progress.now()
        if enabled { emit(t, final: true) }
        return t - start
    }

    public var elapsed: Double { Progress.now() - start }

    private func emit(_ t: Double, final: Bool) {
        let dt = max(t - start, 1e-9)
        let rate = Double(done) / dt
        var line = "\(label): \(done)"
        if total > 0 {
            line += "/\(total) \(unit) (\(Int(100 * Double(done) / Double(total)))%)"
        } else {
            line += " \(unit)"
        }
        line += String(format: ", %.0f %@/s", rate, unit)
        if final {
            line += String(format: ", %.1f s", dt)
        } else if total > 0 && rate > 0 {
            line += ", ETA " + Progress.clock(Double(total - done) / rate)
        }
        if !extra.isEmpty { line += ", " + extra }
        let text = interactive ? "\r\u{1B}[K" + line + (final ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(text.data(using: .utf8)!)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// Monotonic seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
