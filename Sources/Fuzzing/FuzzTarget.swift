#if canImport(Glibc)
import Glibc
#endif
import MixCore

/// What one case did with its input.
public enum FuzzOutcome: Equatable, Sendable {
    /// Every reader path accepted the input.
    case success
    /// Refused with a `MixError` naming the input (what bad input should get).
    case namedError(String)
    /// Refused with an error that is not a `MixError` or does not name the input: a finding.
    case unnamedError(String)

    /// The worse of two outcomes (unnamed > named > success).
    func combined(with other: FuzzOutcome) -> FuzzOutcome {
        switch (self, other) {
        case (.unnamedError, _): self
        case (_, .unnamedError): other
        case (.namedError, _): self
        default: other
        }
    }
}

/// Where a target finds its seeds and may write its files.
public struct FuzzContext: Sendable {
    /// The repository root (seed corpus: golden files, pipelines, data).
    public var root: String
    /// A private scratch directory (removed by the supervisor afterwards).
    public var scratch: String

    public init(root: String, scratch: String) {
        self.root = root
        self.scratch = scratch
    }
}

/// A decoder under test: seeds taken from the repository, a mutator, and the
/// reader paths an input is pushed through.
public protocol FuzzTarget: AnyObject {
    /// Seed inputs, in a fixed order.
    var seeds: [[UInt8]] { get }
    /// A mutant of a seed (deterministic in `rng`).
    func generate(rng: inout FuzzRNG) -> [UInt8]
    /// Runs every reader path on `input`; never throws (errors become outcomes).
    func run(_ input: [UInt8]) -> FuzzOutcome
}

/// The registered targets.
public enum FuzzTargets {
    public struct Entry: Sendable {
        public var name: String
        public var summary: String
        /// Canary targets exist to test the harness (a deliberate crash, hang, memory
        /// blow-up, leak or unnamed error); they run only when named.
        public var isCanary: Bool
        public var make: @Sendable (FuzzContext) throws -> FuzzTarget
    }

    public static let all: [Entry] = [
        Entry(name: "shard", summary: "MixShard files (every golden file): header, index, footer, chunks, samples, source copy, stats, inspect",
              isCanary: false) { try ShardTarget(context: $0) },
        Entry(name: "manifest", summary: "manifest.json of a shard directory: load, listing, directory, loader, verify, export",
              isCanary: false) { try DirectoryTarget(context: $0, mutateShards: false) },
        Entry(name: "directory", summary: "a shard of a shard directory (manifest updated to match): directory, loader, verify, export",
              isCanary: false) { try DirectoryTarget(context: $0, mutateShards: true) },
        Entry(name: "checkpoint", summary: "mixtrain checkpoints (the golden checkpoint): decode, model, optimiser",
              isCanary: false) { try CheckpointTarget(context: $0) },
        Entry(name: "tar", summary: "the CIFAR-10 archive's tar (re-gzipped): members, records, class names",
              isCanary: false) { try ArchiveTarget(context: $0, layer: .tar) },
        Entry(name: "gzip", summary: "the CIFAR-10 .tar.gz as bytes: gzip members, inflate, limits",
              isCanary: false) { try ArchiveTarget(context: $0, layer: .gzip) },
        Entry(name: "cifar100", summary: "CIFAR-100 binary (records built in code) as a .tar.gz and as a folder: members, fine labels, class names",
              isCanary: false) { try CIFAR100Target(context: $0) },
        Entry(name: "pipeline", summary: "pipeline TOML (pipelines/*.toml): parse, validate, manifest encoding",
              isCanary: false) { try PipelineTarget(context: $0) },
        Entry(name: "prep", summary: "mixprep run on fuzzed pipeline TOML (kept to 96 + 48 images, 2 epochs), then verify of what it wrote",
              isCanary: false) { try PrepRunTarget(context: $0) },
        Entry(name: "experiment", summary: "experiment TOML (pipelines/ experiments and two written in code): parse, arms, plan, each trial's pipeline",
              isCanary: false) { try ExperimentTarget(context: $0) },
        Entry(name: "trial", summary: "trial.json of a finished experiment, then the experiment rerun (report, redo, or refusal by name)",
              isCanary: false) { try TrialRecordTarget(context: $0) },
        Entry(name: "png", summary: "PNG decoding (repository PNGs and encoded ones)",
              isCanary: false) { try PNGTarget(context: $0) },
        Entry(name: "image", summary: "JPEG, PNG and WebP decoding (ImageCodecs fixtures, PNGs): prepare as stored and resized, EXIF orientation",
              isCanary: false) { try ImageTarget(context: $0) },
        Entry(name: "csv", summary: "CSV-listed image datasets (layouts csv, csv300 and four written in code): open, decode at 8×8, CSV parse and write",
              isCanary: false) { try CSVTarget(context: $0) },
        Entry(name: "canary-crash", summary: "harness check: traps on some inputs", isCanary: true) { _ in CanaryTarget(.crash) },
        Entry(name: "canary-hang", summary: "harness check: sleeps forever on some inputs", isCanary: true) { _ in CanaryTarget(.hang) },
        Entry(name: "canary-memory", summary: "harness check: touches 300 MiB on some inputs", isCanary: true) { _ in CanaryTarget(.memory) },
        Entry(name: "canary-leak", summary: "harness check: keeps 1 MiB from each of some cases", isCanary: true) { _ in CanaryTarget(.leak) },
        Entry(name: "canary-unnamed", summary: "harness check: throws an unnamed error on some inputs", isCanary: true) { _ in CanaryTarget(.unnamed) },
    ]

    /// The targets a run covers by default (all but the canaries).
    public static var standard: [Entry] { all.filter { !$0.isCanary } }

    public static func entry(_ name: String) -> Entry? { all.first { $0.name == name } }
}

/// Runs reader steps one after another. The first step is the target's main
/// reader: its result is the case's outcome (accepted or refused). Later steps
/// (other tools over the same input, which may refuse what the main reader
/// accepts) count only when their error is unnamed. An error is "named" when it
/// is a `MixError` whose message contains one of `names`.
struct Steps {
    let names: [String]
    private(set) var outcome = FuzzOutcome.success
    private var first = true

    init(naming names: [String]) {
        self.names = names
    }

    mutating func run(_ body: () throws -> Void) {
        let main = first
        first = false
        do {
            try body()
        } catch {
            let result = classify(error)
            if main || { if case .unnamedError = result { return true } else { return false } }() {
                outcome = outcome.combined(with: result)
            }
        }
    }

    func classify(_ error: Error) -> FuzzOutcome {
        if let e = error as? MixError, names.contains(where: { e.message.contains($0) }) {
            return .namedError(e.message)
        }
        return .unnamedError("\(type(of: error)): \(error)")
    }
}

/// Plain file writes for scratch inputs (no fsync: the scratch directory is disposable).
enum Scratch {
    static func write(_ path: String, _ bytes: [UInt8]) {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot create scratch file \(path)")
        defer { close(fd) }
        var done = 0
        bytes.withUnsafeBytes { buf in
            while done < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                precondition(n > 0 || errno == EINTR, "cannot write scratch file \(path)")
                if n > 0 { done += n }
            }
        }
    }

    /// Files under `directory` whose names end in `suffix`, sorted (a glob that sees files added later).
    static func files(in directory: String, suffix: String, maxBytes: Int = .max) -> [String] {
        guard let names = try? FileIO.list(directory) else { return [] }
        return names.filter { $0.hasSuffix(suffix) }.map { directory + "/" + $0 }.filter { (FileIO.fileSize($0) ?? .max) <= maxBytes }
    }

    /// `rm -rf` of a scratch directory.
    static func removeTree(_ path: String) {
        guard FileIO.isDirectory(path) else {
            unlink(path)
            return
        }
        for name in (try? FileIO.list(path)) ?? [] { removeTree(path + "/" + name) }
        rmdir(path)
    }
}

/// A setup failure: the seed corpus or fixture cannot be prepared.
struct SetupError: Error, CustomStringConvertible {
    let description: String
}
