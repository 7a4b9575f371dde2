import ArgumentParser
import Foundation
import Fuzzing
import MixCore

@main
struct MixFuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixfuzz",
        abstract: "Seeded mutation fuzzing of mixshards' decoders: no crash, no hang, bounded memory, named errors.",
        subcommands: [Run.self, Replay.self, List.self, Worker.self],
        defaultSubcommand: Run.self)
}

/// Turns library errors into one line and a non-zero exit.
func guarded(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as MixError {
        printError("error: \(error.message)")
        throw ExitCode(1)
    }
}

/// This executable's path (workers are started from it).
func selfExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fuzz targets for a number of cases each, or for a number of minutes in all.",
        discussion: """
        Each target runs in worker processes; a crash, a hang (a case running longer than --hang-seconds) \
        or a memory blow-up (peak RSS above --rss-limit-mb) writes the failing input to --out as \
        <kind>-<target>-seed<S>-case<N>.bin and the run goes on after it. Exit status 1 when anything failed.
        """)

    @Option(name: .customLong("target"), help: "A target to run (repeatable; default: all but the canaries). See `mixfuzz list`.")
    var targets: [String] = []
    @Option(help: "Run seed: case N of target T always gets the same input.") var seed: UInt64 = 1
    @Option(help: "Cases per target (default 1000 unless --minutes).") var cases: UInt64?
    @Option(help: "Wall-clock minutes for the whole run, shared equally by the targets.") var minutes: Double?
    @Option(help: "A case running longer than this many seconds is a hang.") var hangSeconds: Double = 10
    @Option(name: .customLong("rss-limit-mb"), help: "Peak resident memory allowed during a case, in MiB.") var rssLimitMB: Int = 1024
    @Option(name: .customLong("growth-limit-mb"), help: "Memory kept between cases (leaked) after which a fresh worker takes over, in MiB.")
    var growthLimitMB: Int = 256
    @Option(name: .customLong("address-space-mb"), help: "Address-space limit of the workers (RLIMIT_AS), in MiB; 0 for none.")
    var addressSpaceMB: Int = 4096
    @Option(help: "Where failing inputs (and Swift's crash reports) are written.") var out: String = ".build/mixfuzz"
    @Option(help: "The repository root (seed corpus).") var root: String = "."
    @Option(help: "Scratch directory base (default /dev/shm, else the temporary directory).") var scratch: String?
    @Option(help: "Also write the summary as JSON to this file.") var json: String?
    @Flag(help: "Print only the closing table.") var quiet = false

    func validate() throws {
        for t in targets where FuzzTargets.entry(t) == nil {
            throw ValidationError("unknown target \(t) (one of \(FuzzTargets.all.map(\.name).joined(separator: ", ")))")
        }
        if cases != nil && minutes != nil { throw ValidationError("give --cases or --minutes, not both") }
        if let minutes, !(minutes > 0) { throw ValidationError("--minutes must be > 0") }
        if let cases, cases < 1 { throw ValidationError("--cases must be ≥ 1") }
        if !(hangSeconds > 0) { throw ValidationError("--hang-seconds must be > 0") }
        if rssLimitMB < 16 { throw ValidationError("--rss-limit-mb must be ≥ 16") }
        if growthLimitMB < 1 { throw ValidationError("--growth-limit-mb must be ≥ 1") }
        if addressSpaceMB < 0 { throw ValidationError("--address-space-mb must be ≥ 0") }
        if out.isEmpty { throw ValidationError("--out must not be empty") }
    }

    func run() throws {
        try guarded {
            guard FileIO.isDirectory(root + "/Tests/ShardFormatTests/Golden") else {
                throw MixError.file(root, "not the mixshards repository (no Tests/ShardFormatTests/Golden); run from its root or pass --root")
            }
            var o = RunOptions(targets: targets.isEmpty ? FuzzTargets.standard.map(\.name) : targets, seed: seed,
                               failureDirectory: out, root: root, scratchBase: scratch ?? FuzzSupervisor.defaultScratchBase(),
                               executable: selfExecutable())
            o.casesPerTarget = minutes == nil ? (cases ?? 1000) : nil
            o.minutes = minutes
            o.hangSeconds = hangSeconds
            o.rssLimitMiB = rssLimitMB
            o.growthLimitMiB = growthLimitMB
            o.addressSpaceMiB = addressSpaceMB == 0 ? nil : addressSpaceMB
            o.verbose = !quiet
            let summary = try FuzzSupervisor.run(o)
            print(summary.table())
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try FileIO.writeAtomically(json, Array(try encoder.encode(summary)))
            }
            if summary.failures > 0 {
                printError("error: \(summary.failures) failure(s); inputs in \(out)")
                throw ExitCode(1)
            }
        }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one input through a target: a file written by a run, or case N of a seed regenerated.")

    @Argument(help: "The input file (omit with --seed and --case).") var file: String?
    @Option(help: "The target the input is for.") var target: String
    @Option(help: "Regenerate the input of this run seed …") var seed: UInt64?
    @Option(name: .customLong("case"), help: "… and case number.") var caseNumber: UInt64?
    @Option(help: "Write the regenerated input to this file.") var save: String?
    @Option(help: "The repository root (seed corpus).") var root: String = "."
    @Option(help: "A run longer than this many seconds is a hang.") var hangSeconds: Double = 10
    @Option(help: "Scratch directory (default: mixfuzz-replay-<pid> under /dev/shm or the temporary directory; removed unless the replay crashes).")
    var scratch: String?

    func validate() throws {
        if FuzzTargets.entry(target) == nil { throw ValidationError("unknown target \(target)") }
        if (file == nil) == (seed == nil || caseNumber == nil) {
            throw ValidationError("give an input file, or --seed and --case (not both)")
        }
    }

    func run() throws {
        try guarded {
            let scratch = self.scratch ?? FuzzSupervisor.defaultScratchBase() + "/mixfuzz-replay-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let input: [UInt8]
            if let file {
                input = try FileIO.read(file)
            } else {
                input = try FuzzWorker.generate(target: target, seed: seed!, case: caseNumber!, root: root, scratch: scratch + "/gen")
                if let save { try FileIO.writeAtomically(save, input) }
            }
            switch try FuzzWorker.replay(input, target: target, root: root, scratch: scratch + "/run", hangSeconds: hangSeconds) {
            case .success:
                print("accepted: every reader path read the input (\(input.count) bytes)")
            case .namedError(let message):
                print("refused with a named error: \(message)")
            case .unnamedError(let message):
                print("FAILURE: refused with an error that does not name the input: \(message)")
                throw ExitCode(1)
            }
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The targets.")

    func run() {
        for t in FuzzTargets.all {
            print(t.name.padding(toLength: 16, withPad: " ", startingAt: 0) + t.summary)
        }
    }
}

struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One worker process of a run (started by `run`).",
                                                    shouldDisplay: false)

    @Option var target: String
    @Option var seed: UInt64
    @Option var firstCase: UInt64 = 0
    @Option var endCase: UInt64?
    @Option var seconds: Double?
    @Option var hangSeconds: Double = 10
    @Option(name: .customLong("rss-limit-mb")) var rssLimitMB: Int = 1024
    @Option(name: .customLong("growth-limit-mb")) var growthLimitMB: Int = 256
    @Option(name: .customLong("address-space-mb")) var addressSpaceMB: Int?
    @Option var out: String
    @Option var scratch: String
    @Option var root: String
    @Option var status: String?

    func run() throws {
        try guarded {
            var o = WorkerOptions(target: target, seed: seed, failureDirectory: out, scratch: scratch, root: root)
            o.firstCase = firstCase
            o.endCase = endCase
            o.seconds = seconds
            o.hangSeconds = hangSeconds
            o.rssLimitMiB = rssLimitMB
            o.growthLimitMiB = growthLimitMB
            o.addressSpaceMiB = addressSpaceMB
            o.statusPath = status
            let code = try FuzzWorker.run(o)
            if code != 0 { throw ExitCode(code) }
        }
    }
}
