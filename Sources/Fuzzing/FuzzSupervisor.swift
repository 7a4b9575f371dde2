#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MixCore

/// A fuzzing run: which targets, how long, which bounds.
public struct RunOptions: Sendable {
    public var targets: [String]
    public var seed: UInt64
    /// Cases per target (when `minutes` is nil).
    public var casesPerTarget: UInt64?
    /// Wall-clock minutes for the whole run, shared equally by the targets.
    public var minutes: Double?
    public var hangSeconds: Double = 10
    public var rssLimitMiB: Int = 1024
    /// Memory kept between cases (leaked) after which a worker hands over to a fresh one.
    public var growthLimitMiB: Int = 256
    public var addressSpaceMiB: Int? = 4096
    public var failureDirectory: String
    public var root: String
    /// Where workers get their scratch directories.
    public var scratchBase: String
    /// This executable (workers are started as `<executable> worker …`).
    public var executable: String
    /// Print a line per target as it finishes.
    public var verbose = true

    public init(targets: [String], seed: UInt64, failureDirectory: String, root: String, scratchBase: String, executable: String) {
        self.targets = targets
        self.seed = seed
        self.failureDirectory = failureDirectory
        self.root = root
        self.scratchBase = scratchBase
        self.executable = executable
    }
}

/// What a run found, per target.
public struct TargetSummary: Codable, Sendable, Equatable {
    public var target: String
    /// Cases run (every outcome, crashes and hangs included).
    public var executions: UInt64 = 0
    /// Inputs every reader path accepted.
    public var accepted: UInt64 = 0
    /// Inputs refused with a `MixError` naming the input.
    public var namedErrors: UInt64 = 0
    /// Inputs refused with an error that does not name the input (failures).
    public var unnamedErrors: UInt64 = 0
    public var crashes: UInt64 = 0
    public var hangs: UInt64 = 0
    /// Cases after which the peak RSS exceeded the bound.
    public var memoryBlowups: UInt64 = 0
    /// Workers that ended with file descriptors leaked.
    public var descriptorLeaks: UInt64 = 0
    /// Workers that could not start (e.g. seeds missing), with their message.
    public var setupFailures: [String] = []
    /// The highest resident set size reached during a case.
    public var peakRSSMiB: Double = 0
    /// Resident memory kept from case to case (leaked), summed over workers, in KiB.
    public var growthKiB: Double = 0
    /// Workers replaced because that growth passed the limit.
    public var growthRestarts: UInt64 = 0
    public var seconds: Double = 0
    /// Files holding the failing inputs.
    public var failureFiles: [String] = []

    public var failures: UInt64 { unnamedErrors + crashes + hangs + memoryBlowups + descriptorLeaks + UInt64(setupFailures.count) }

    /// Bytes of resident memory kept per case (a leak when well above 0).
    public var keptBytesPerCase: Double { executions == 0 ? 0 : growthKiB * 1024 / Double(executions) }
}

public struct RunSummary: Codable, Sendable {
    public var seed: UInt64
    public var build: String
    public var cpu: String
    public var rssLimitMiB: Int
    public var hangSeconds: Double
    public var targets: [TargetSummary]
    public var seconds: Double

    public var failures: UInt64 { targets.reduce(0) { $0 + $1.failures } }
    public var executions: UInt64 { targets.reduce(0) { $0 + $1.executions } }

    /// The closing table.
    public func table() -> String {
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            s.count >= n ? s : (left ? s + String(repeating: " ", count: n - s.count) : String(repeating: " ", count: n - s.count) + s)
        }
        let header = [pad("target", 11, left: true), pad("executions", 11), pad("accepted", 9), pad("errors", 9), pad("unnamed", 8),
                      pad("crashes", 8), pad("hangs", 6), pad("memory", 7), pad("peak RSS", 10), pad("kept/case", 10),
                      pad("wall", 8)].joined(separator: " ")
        var lines = [header]
        func row(_ name: String, _ t: TargetSummary, kept: Bool = true) -> String {
            [pad(name, 11, left: true), pad("\(t.executions)", 11), pad("\(t.accepted)", 9), pad("\(t.namedErrors)", 9),
             pad("\(t.unnamedErrors)", 8), pad("\(t.crashes)", 8), pad("\(t.hangs)", 6), pad("\(t.memoryBlowups)", 7),
             pad(String(format: "%.0f MiB", t.peakRSSMiB), 10), pad(kept ? String(format: "%.0f B", t.keptBytesPerCase) : "", 10),
             pad(String(format: "%.1f s", t.seconds), 8)].joined(separator: " ")
        }
        for t in targets { lines.append(row(t.target, t)) }
        var total = TargetSummary(target: "total")
        for t in targets {
            total.executions += t.executions
            total.accepted += t.accepted
            total.namedErrors += t.namedErrors
            total.unnamedErrors += t.unnamedErrors
            total.crashes += t.crashes
            total.hangs += t.hangs
            total.memoryBlowups += t.memoryBlowups
            total.peakRSSMiB = max(total.peakRSSMiB, t.peakRSSMiB)
        }
        total.seconds = seconds
        lines.append(row("total", total, kept: false))
        for t in targets {
            for s in t.setupFailures { lines.append("\(t.target): setup failed: \(s)") }
            if t.descriptorLeaks > 0 { lines.append("\(t.target): \(t.descriptorLeaks) worker(s) leaked file descriptors") }
            if t.growthRestarts > 0 {
                lines.append("\(t.target): resident memory kept growing between cases (\(String(format: "%.0f", t.keptBytesPerCase)) B per case); "
                             + "\(t.growthRestarts) worker(s) replaced by fresh ones")
            }
        }
        lines.append("seed \(seed), \(build) build, \(cpu); bounds per case: peak RSS \(rssLimitMiB) MiB, \(hangSeconds) s; "
                     + (failures == 0 ? "no failures" : "\(failures) failure(s)"))
        return lines.joined(separator: "\n")
    }
}

/// Runs each target in worker processes (`<executable> worker …`) one after
/// the other; after a crash, hang or memory blow-up it starts a new worker at
/// the next case, so a run reports every failure it meets, not just the first.
public enum FuzzSupervisor {
    /// Abnormal worker ends per target before the target is given up.
    public static let maxRestarts = 25

    #if DEBUG
    public static let buildKind = "debug"
    #else
    public static let buildKind = "release"
    #endif

    public static func run(_ o: RunOptions) throws -> RunSummary {
        try FileIO.makeDirectories(o.failureDirectory)
        try FileIO.makeDirectories(o.scratchBase)
        let start = Progress.now()
        var summaries: [TargetSummary] = []
        let share = o.minutes.map { $0 * 60 / Double(max(o.targets.count, 1)) }
        for name in o.targets {
            let s = try runTarget(name, o, seconds: share)
            summaries.append(s)
            if o.verbose {
                printError(String(format: "mixfuzz: %@: %llu executions, %llu failures, peak RSS %.0f MiB, %.1f s",
                                  name, s.executions, s.failures, s.peakRSSMiB, s.seconds))
            }
        }
        return RunSummary(seed: o.seed, build: buildKind, cpu: cpuModel(), rssLimitMiB: o.rssLimitMiB, hangSeconds: o.hangSeconds,
                          targets: summaries, seconds: Progress.now() - start)
    }

    static func runTarget(_ name: String, _ o: RunOptions, seconds: Double?) throws -> TargetSummary {
        var t = TargetSummary(target: name)
        let start = Progress.now()
        let deadline = seconds.map { start + $0 }
        let endCase = seconds == nil ? (o.casesPerTarget ?? 1000) : nil
        var next: UInt64 = 0
        var restarts = 0
        while true {
            if let endCase, next >= endCase { break }
            if let deadline, Progress.now() >= deadline { break }
            let scratch = o.scratchBase + "/mixfuzz-\(getpid())-\(name)-\(next)"
            let statusPath = scratch + ".status"
            try FileIO.writeAtomically(statusPath, [UInt8](repeating: 0, count: 4096))
            var args = ["worker", "--target", name, "--seed", "\(o.seed)", "--first-case", "\(next)",
                        "--hang-seconds", "\(o.hangSeconds)", "--rss-limit-mb", "\(o.rssLimitMiB)", "--growth-limit-mb", "\(o.growthLimitMiB)",
                        "--out", o.failureDirectory, "--scratch", scratch, "--root", o.root, "--status", statusPath]
            if let endCase { args += ["--end-case", "\(endCase)"] }
            if let deadline { args += ["--seconds", String(format: "%.3f", max(deadline - Progress.now(), 0.001))] }
            if let a = o.addressSpaceMiB { args += ["--address-space-mb", "\(a)"] }
            let p = try WorkerProcess.run(o.executable, args)
            let status = FuzzGuard.Status(bytes: (try? FileIO.read(statusPath)) ?? [])
            FileIO.remove(statusPath)
            t.executions += status.executions
            t.accepted += status.successes
            t.namedErrors += status.namedErrors
            t.unnamedErrors += status.unnamedErrors
            t.peakRSSMiB = max(t.peakRSSMiB, Double(status.peakRSSKiB) / 1024)
            if status.lastStartRSSKiB > status.baselineRSSKiB { t.growthKiB += Double(status.lastStartRSSKiB - status.baselineRSSKiB) }
            // The case running when the worker died; the last one it completed; or, if it completed none, the first it was given.
            let failing = status.active ? status.currentCase : (status.executions > 0 ? status.lastCase : next)
            let file = { (kind: String) in o.failureDirectory + "/\(kind)-\(name)-seed\(o.seed)-case\(failing).bin" }
            var abnormal: String?
            if p.signalled {
                t.crashes += 1
                t.executions += 1
                abnormal = "crash"
            } else if p.terminationStatus == FuzzGuard.exitHang {
                t.hangs += 1
                t.executions += 1
                abnormal = "hang"
            } else if p.terminationStatus == FuzzGuard.exitMemory {
                t.memoryBlowups += 1
                abnormal = "memory"
            } else if p.terminationStatus == FuzzGuard.exitGrowth {
                t.growthRestarts += 1
                next = status.lastCase + 1
                Scratch.removeTree(scratch)
                continue
            } else if p.terminationStatus == FuzzGuard.exitLeak {
                t.descriptorLeaks += 1
            } else if p.terminationStatus != 0 || !status.valid {
                let log = (try? FileIO.read(WorkerOptions.logPath(scratch: scratch))).map { String(decoding: $0, as: UTF8.self) } ?? ""
                t.setupFailures.append("worker exited with status \(p.terminationStatus): "
                                       + (log.split(separator: "\n").last.map(String.init) ?? "no message"))
                Scratch.removeTree(scratch)
                break
            }
            if let kind = abnormal {
                t.failureFiles.append(file(kind))
                // Swift's report of the crash (or the last lines before a hang or blow-up), kept next to the input.
                if let log = try? FileIO.read(WorkerOptions.logPath(scratch: scratch)) {
                    let tail = String(decoding: log.suffix(16_384), as: UTF8.self)
                    try? FileIO.writeAtomically(file(kind).replacingOccurrences(of: ".bin", with: ".log"), tail)
                    if o.verbose {
                        printError(tail.split(separator: "\n", omittingEmptySubsequences: false).suffix(40).joined(separator: "\n"))
                    }
                }
                restarts += 1
                next = failing + 1
            }
            if status.unnamedErrors > 0 {
                t.failureFiles.append("\(o.failureDirectory)/unnamed-\(name)-seed\(o.seed)-case*.bin")
            }
            Scratch.removeTree(scratch)
            if abnormal == nil { break }
            if restarts >= maxRestarts {
                printError("mixfuzz: \(name): \(restarts) workers ended abnormally; giving up on this target")
                break
            }
        }
        t.seconds = Progress.now() - start
        return t
    }

    /// The CPU's model name (`/proc/cpuinfo`).
    public static func cpuModel() -> String {
        // /proc files report size 0, so not FileIO.read.
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return "unknown CPU"
    }

    /// `/dev/shm` when it is a writable directory (scratch files in memory), else the temporary directory.
    public static func defaultScratchBase() -> String {
        if FileIO.isDirectory("/dev/shm") && access("/dev/shm", W_OK) == 0 { return "/dev/shm" }
        return NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
    }
}

/// A worker run to its end: `posix_spawn`, then a blocking `waitpid`. Not Foundation's
/// `Process`: its `waitUntilExit` once waited forever for a worker that had already died
/// (the crash canary, on a loaded machine), the child left a zombie nobody reaped.
struct WorkerProcess {
    /// Killed by a signal (a crash).
    let signalled: Bool
    /// The exit status, or the signal's number when `signalled`.
    let terminationStatus: Int32

    static func run(_ executable: String, _ arguments: [String]) throws -> WorkerProcess {
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, nil, nil, argv, environ)
        guard rc == 0 else { throw MixError("mixfuzz: cannot start a worker (\(executable)): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw MixError("mixfuzz: waiting for worker \(pid): \(String(cString: strerror(errno)))") }
        }
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS (C macros Swift does not import).
        let signal = status & 0x7f
        if signal != 0 && signal != 0x7f { return WorkerProcess(signalled: true, terminationStatus: signal) }
        return WorkerProcess(signalled: false, terminationStatus: (status >> 8) & 0xff)
    }
}
