#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MixCore

/// What one worker process runs: cases `firstCase ..< endCase` of one target
/// (or until `seconds` have passed), in process, under the guard.
public struct WorkerOptions: Sendable {
    public var target: String
    public var seed: UInt64
    public var firstCase: UInt64 = 0
    /// Exclusive end; nil to run until `seconds` pass.
    public var endCase: UInt64?
    public var seconds: Double?
    /// A case running longer than this is a hang.
    public var hangSeconds: Double = 10
    /// Peak RSS allowed during a case, in MiB.
    public var rssLimitMiB: Int = 1024
    /// Growth of the resident set between cases (leaked memory) after which the
    /// worker hands over to a fresh one, in MiB.
    public var growthLimitMiB: Int = 256
    /// Address-space limit (RLIMIT_AS), in MiB; nil for none.
    public var addressSpaceMiB: Int?
    /// Where failing inputs are written.
    public var failureDirectory: String
    /// A private scratch directory (created; the supervisor removes it).
    public var scratch: String
    /// The repository root (seed corpus).
    public var root: String
    /// The status file shared with the supervisor.
    public var statusPath: String?
    /// Send the process's standard error (library progress lines, Swift's crash
    /// report) to `<scratch>/stderr.log`; the guard reports to the real one.
    public var logStandardError = true

    public init(target: String, seed: UInt64, failureDirectory: String, scratch: String, root: String) {
        self.target = target
        self.seed = seed
        self.failureDirectory = failureDirectory
        self.scratch = scratch
        self.root = root
    }

    /// The log a worker's standard error goes to.
    public static func logPath(scratch: String) -> String { scratch + "/stderr.log" }
}

/// Runs cases in process. A crash or hang ends the process (the guard reports
/// it and the supervisor starts a new worker after the failing case).
public enum FuzzWorker {
    /// Runs the worker; returns its exit status (0, `FuzzGuard.exitMemory`, `exitGrowth` or `exitLeak`).
    public static func run(_ o: WorkerOptions) throws -> Int32 {
        guard let entry = FuzzTargets.entry(o.target) else { throw MixError("unknown target \(o.target)") }
        try FileIO.makeDirectories(o.failureDirectory)
        try FileIO.makeDirectories(o.scratch)
        var report = Int32(2)
        if o.logStandardError {
            report = dup(2)
            let log = open(WorkerOptions.logPath(scratch: o.scratch), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if log >= 0 {
                dup2(log, 2)
                close(log)
            }
        }
        let say = { (text: String) in
            let line = Array((text + "\n").utf8)
            _ = line.withUnsafeBytes { write(report, $0.baseAddress, $0.count) }
        }
        guard FuzzGuard.install(failureDirectory: o.failureDirectory, target: o.target, seed: o.seed, hangSeconds: o.hangSeconds,
                                statusPath: o.statusPath, reportDescriptor: report) else {
            throw MixError.file(o.statusPath ?? "", "cannot map the status file")
        }
        if let mib = o.addressSpaceMiB, !FuzzGuard.limitAddressSpace(bytes: UInt64(mib) << 20) {
            say("mixfuzz: warning: cannot limit the address space to \(mib) MiB")
        }
        let target: FuzzTarget
        do {
            target = try entry.make(FuzzContext(root: o.root, scratch: o.scratch))
        } catch {
            throw MixError("target \(o.target): cannot prepare its seeds: \(error)")
        }
        _ = FuzzGuard.resetPeakRSS()
        let baseline = FuzzGuard.peakRSSKiB()
        FuzzGuard.setBaseline(rssKiB: baseline)
        let descriptors = FuzzGuard.openDescriptors()
        let deadline = o.seconds.map { Progress.now() + $0 }
        var caseNumber = o.firstCase
        while o.endCase.map({ caseNumber < $0 }) ?? true {
            if let deadline, Progress.now() >= deadline { break }
            var rng = FuzzRNG(seed: o.seed, target: o.target, case: caseNumber)
            // The case is under the guard while its input is made too (a mutator that traps is reported by case).
            FuzzGuard.begin(case: caseNumber)
            let input = target.generate(rng: &rng)
            let (outcome, start, rss) = FuzzGuard.run(case: caseNumber, input: input) { target.run(input) }
            if case .unnamedError(let message) = outcome {
                FuzzGuard.report(kind: "unnamed", headline: "UNNAMED ERROR (\(message.prefix(400)))")
            }
            if rss > UInt64(o.rssLimitMiB) << 10 {
                FuzzGuard.report(kind: "memory", headline: "MEMORY (peak RSS \(rss >> 10) MiB > bound \(o.rssLimitMiB) MiB)")
                FuzzGuard.finish(memory: true)
                return FuzzGuard.exitMemory
            }
            if start > baseline + (UInt64(o.growthLimitMiB) << 10) {
                // Memory kept from case to case (a leak): a fresh worker takes over at the next case.
                FuzzGuard.finish(memory: false)
                return FuzzGuard.exitGrowth
            }
            if o.logStandardError && caseNumber % 1024 == 0 { _ = ftruncate(2, 0) }
            caseNumber += 1
        }
        let leaked = FuzzGuard.openDescriptors() - descriptors
        if descriptors >= 0 && leaked > 16 {
            say("mixfuzz: target \(o.target): \(leaked) file descriptors more open than at the start (a descriptor leak?)")
            FuzzGuard.finish(memory: false)
            return FuzzGuard.exitLeak
        }
        FuzzGuard.finish(memory: false)
        return 0
    }

    /// The input case `caseNumber` of `target` gets in a run seeded `seed`.
    public static func generate(target name: String, seed: UInt64, case caseNumber: UInt64, root: String, scratch: String) throws -> [UInt8] {
        guard let entry = FuzzTargets.entry(name) else { throw MixError("unknown target \(name)") }
        try FileIO.makeDirectories(scratch)
        let target = try entry.make(FuzzContext(root: root, scratch: scratch))
        var rng = FuzzRNG(seed: seed, target: name, case: caseNumber)
        return target.generate(rng: &rng)
    }

    /// Runs `input` through `target` once, in process, under the guard (a crash
    /// ends the process with Swift's report; a hang exits after `hangSeconds`).
    public static func replay(_ input: [UInt8], target name: String, root: String, scratch: String, hangSeconds: Double) throws -> FuzzOutcome {
        guard let entry = FuzzTargets.entry(name) else { throw MixError("unknown target \(name)") }
        try FileIO.makeDirectories(scratch)
        _ = FuzzGuard.install(failureDirectory: scratch, target: name, seed: 0, hangSeconds: hangSeconds, statusPath: nil, reportDescriptor: 2)
        let target = try entry.make(FuzzContext(root: root, scratch: scratch))
        return FuzzGuard.run(case: 0, input: input) { target.run(input) }.0
    }
}
