import ArgumentParser
import Foundation
import MixCore
import Pipeline
import ShardStore
import Prep

@main
struct MixPrep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixprep",
        abstract: "Materialise mixup-augmented epochs into checksummed MixShard files.",
        version: Manifest.toolVersion,
        subcommands: [Run.self, Finalize.self, Verify.self, Inspect.self, Export.self])
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

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a dataset, mix it, and write train/test shards plus manifest.json.",
        discussion: """
        Rerunning on an incomplete directory keeps the shards that verify and redoes the rest. \
        With --worker i/n (or SLURM_ARRAY_TASK_ID/COUNT, or JOB_COMPLETION_INDEX with MIXPREP_WORKERS) \
        this process writes only its share; run `mixprep finalize DIR` when all workers are done.
        """)

    @Argument(help: "Pipeline file (TOML).") var pipeline: String
    @Option(help: "Dataset path (overrides dataset.path).") var data: String?
    @Option(help: "Output shard directory (default: shards/<pipeline name>).") var out: String?
    @Option(help: "Epochs to materialise (overrides shards.epochs).") var epochs: Int?
    @Option(help: "Seed (overrides seed).") var seed: UInt64?
    @Option(help: "zlib level 1-9 (overrides shards.level).") var level: Int?
    @Option(help: "deflate strategy: rle, default, filtered, huffman (overrides shards.strategy).") var strategy: String?
    @Option(help: "Use only the first N training images (overrides dataset.train_limit).") var limit: Int?
    @Option(help: "Worker threads.") var threads: Int = Parallel.defaultThreads
    @Option(help: "This process's share of the shards, i/n.") var worker: String?
    @Option(help: "MixShard version to write: 3 (sparse labels, 12 bytes a sample), or 2 for readers that predate v3 (dense label rows, 4·K bytes). A pipeline with an [augment] op beyond crop and flip writes 4 (op records) instead of 3.")
    var formatVersion: Int = RunState.writableVersions.upperBound
    @Flag(help: "Skip image files that cannot be decoded, listing them in skipped-files.csv (sets dataset.skip_bad).")
    var skipBad = false
    @Flag(help: "Print nothing but errors and warnings.") var quiet = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if let worker { _ = try WorkerSlot(parsing: worker) }
        if RunState.formatVersionProblem(formatVersion) != nil {
            let v = RunState.writableVersions
            throw ValidationError("--format-version must be \(Wording.range(v.lowerBound, v.upperBound)) (got \(formatVersion))")
        }
    }

    func run() throws {
        try guarded {
            var p = try Pipeline.load(pipeline)
            if let data { p.dataset.path = data }
            if let epochs { p.shards.epochs = epochs }
            if let seed { p.seed = seed }
            if let level { p.shards.level = level }
            if let limit { p.dataset.trainLimit = limit }
            if skipBad { p.dataset.skipBad = true }
            if let strategy { p.shards.strategy = try ShardSection.value(named: strategy, in: ShardSection.strategyNames, key: "--strategy") }
            try p.validate()
            let slot = try worker.map(WorkerSlot.init(parsing:)) ?? WorkerSlot.fromEnvironment(ProcessInfo.processInfo.environment) ?? .all
            let dir = out ?? "shards/\(p.name)"
            let report = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: threads, worker: slot, quiet: quiet,
                                                                             formatVersion: formatVersion))
            if !quiet && !report.alreadyComplete {
                print(report.summary(directory: dir))
            }
        }
    }
}

struct Finalize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify every shard of a directory made by several workers and write its manifest.")

    @Argument(help: "Shard directory.") var directory: String
    @Option(help: "Worker threads.") var threads: Int = Parallel.defaultThreads
    @Flag(help: "Print nothing but errors and warnings.") var quiet = false

    func run() throws {
        try guarded { try PrepRunner.finalize(directory: directory, threads: threads, quiet: quiet) }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every shard's CRCs and SHA-256 against the manifest and print statistics.")

    @Argument(help: "Shard directory.") var directory: String
    @Option(help: "Worker threads.") var threads: Int = Parallel.defaultThreads

    func run() throws {
        try guarded {
            let result = try Verifier.verify(directory: directory, threads: threads)
            print(result.report)
            if !result.problems.isEmpty {
                for p in result.problems { printError("error: \(p)") }
                throw ExitCode(1)
            }
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Dump a shard file's header and chunk index.")

    @Argument(help: "A .mxs file.") var file: String
    @Flag(help: "Also decode every chunk and show its first samples.") var samples = false
    @Option(help: ArgumentHelp("Also write every sample, decoded, to this file as flat little-endian arrays: images, labels (float32), provenance.",
                               valueName: "OUT")) var dump: String?

    func run() throws {
        try guarded {
            print(try Inspector.describe(path: file, samples: samples))
            if let dump { try Inspector.dump(path: file, to: dump) }
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write PNGs of chosen samples, a labelled contact sheet and an index.")

    @Argument(help: "Shard directory.") var directory: String
    @Option(help: "Output folder (default: DIR/export).") var out: String?
    @Option(help: "Training epoch to show (0-based; default 0).") var epoch: Int?
    @Option(help: "How many samples.") var count: Int = 48
    @Option(help: "Sample positions within the epoch, comma-separated (overrides --count).") var positions: String?
    @Flag(help: "Only mixed samples.") var mixedOnly = false
    @Flag(help: "Show the test split instead of a training epoch.") var test = false
    @Option(help: "Upscaling factor of each image.") var scale: Int = 4
    @Option(help: "Tiles per row of the contact sheet.") var columns: Int = 8

    func validate() throws {
        if test, let epoch { throw ValidationError("--epoch \(epoch) and --test cannot be used together: --test shows the test split") }
        if let epoch, epoch < 0 { throw ValidationError("--epoch must be ≥ 0") }
        if count < 1 { throw ValidationError("--count must be ≥ 1") }
        if !(1...32).contains(scale) { throw ValidationError("--scale must be from 1 to 32") }
        if columns < 1 { throw ValidationError("--columns must be ≥ 1") }
        if let positions, positions.split(separator: ",").contains(where: { Int($0) == nil }) {
            throw ValidationError("--positions must be comma-separated integers")
        }
    }

    func run() throws {
        try guarded {
            let request = ExportRequest(
                directory: directory, outDirectory: out ?? directory + "/export", epoch: test ? nil : epoch ?? 0,
                count: count, positions: positions.map { $0.split(separator: ",").compactMap { Int($0) } },
                mixedOnly: mixedOnly, scale: scale, columns: columns)
            let result = try Exporter.export(request)
            print("wrote \(result.images) sample PNGs, \(result.sheet) and \(result.index)")
        }
    }
}
