import Datasets
import MixCore
import Mixup
import Pipeline
import ShardStore
import ShardFormat

/// How `mixprep run` executes.
public struct PrepOptions: Sendable {
    public var outDirectory: String
    public var threads: Int
    /// This process's share of the shard files: `index` of `count`.
    public var worker: WorkerSlot
    public var quiet: Bool
    /// The MixShard version to write (`RunState.writableVersions`): the current one, or 2
    /// for readers that predate v3 (label rows stored dense, 4·K bytes a sample).
    public var formatVersion: Int

    public init(outDirectory: String, threads: Int = 2, worker: WorkerSlot = .all, quiet: Bool = false,
                formatVersion: Int = Int(MixShardLayout.version)) {
        self.outDirectory = outDirectory
        self.threads = threads
        self.worker = worker
        self.quiet = quiet
        self.formatVersion = formatVersion
    }
}

/// What a run did.
public struct PrepReport: Sendable {
    public var written = 0
    public var kept = 0
    public var redone: [String] = []
    public var samplesWritten = 0
    public var bytesWritten = 0
    public var rawBytesWritten = 0
    public var seconds = 0.0
    public var manifestWritten = false
    public var alreadyComplete = false
    /// Warnings about the source (skipped files, an image shape mixtrain cannot train on), also printed.
    public var warnings: [String] = []
}

/// Materialises a pipeline's epochs into a shard directory.
public enum PrepRunner {
    /// Runs `pipeline` into `options.outDirectory`: keeps shards that verify,
    /// (re)writes the others, and — when this process owns every shard —
    /// writes `manifest.json` last.
    public static func run(_ pipeline: Pipeline, options: PrepOptions) throws -> PrepReport {
        try pipeline.validate()
        if let problem = RunState.formatVersionProblem(options.formatVersion) { throw MixError(problem) }
        // A pipeline with an op beyond crop and flip writes v4 (op records); any other keeps its bytes.
        let version = RunState.version(recordingOps: pipeline.augment.recordsOps, requested: options.formatVersion)
        if pipeline.augment.recordsOps && options.formatVersion < Int(MixShardLayout.version) {
            throw MixError("--format-version \(options.formatVersion) cannot record the [augment] ops of this pipeline "
                           + "(random_resized_crop, color_jitter, trivial_augment, rand_augment, random_erasing need v\(MixShardLayout.opsVersion))")
        }
        let dir = options.outDirectory
        try FileIO.checkOutputDirectory(dir)
        let log = Log(quiet: options.quiet)
        // Refuse a directory another mixprep is writing into before reading the dataset.
        var locks = FileIO.isDirectory(dir) ? try PrepLock.take(dir, worker: options.worker, what: "mixprep run") : nil
        defer { withExtendedLifetime(locks) {} }
        let opened = try DatasetSource.open(pipeline.dataset.path, options: SourceLoading.listingOptions(pipeline.dataset))
        log(SourceLoading.describe(opened, pipeline: pipeline))
        let created = !FileIO.isDirectory(dir)
        try FileIO.makeDirectories(dir)
        if locks == nil { locks = try PrepLock.take(dir, worker: options.worker, what: "mixprep run") }
        let dataset: PreparedSource, sourceWarnings: [String]
        do {
            (dataset, sourceWarnings) = try SourceLoading.prepareChecked(opened, pipeline: pipeline, directory: dir, options: options)
        } catch {
            if created { PrepLock.removeEmptyDirectory(dir) }
            throw error
        }
        let shape = SampleShape(channels: dataset.train.channels, height: dataset.train.height, width: dataset.train.width,
                                classCount: dataset.classCount)
        let (channelStats, statsWarnings) = SourceLoading.channelStats(dataset, threads: options.threads)
        if let channelStats { log("training images: channel \(channelStats.description) (source.channelStats)") }
        let warnings = sourceWarnings + statsWarnings
        for w in warnings { printError("warning: " + w) }
        let fileLists = SourceLoading.fileLists(dataset)
        let state = RunState(identity: pipeline.prepIdentity,
                             source: SourceLoading.info(dataset, fileLists: fileLists, channelStats: channelStats), pipeline: pipeline,
                             formatVersion: Int(version))

        // Workers of a job array start at once: exactly one creates prep.json, the others
        // (and later runs) compare theirs with it.
        if try !state.create(directory: dir), let existing = try RunState.load(directory: dir) {
            let diff = existing.differences(from: state)
            guard diff.isEmpty else {
                throw MixError.file(dir, "already holds shards of a different pipeline (differs in: \(diff.joined(separator: ", "))); choose another --out or delete it")
            }
        }
        var report = PrepReport(warnings: warnings)
        if FileIO.exists(dir + "/" + Manifest.fileName) {
            _ = try Manifest.load(directory: dir)
            log("\(dir): already complete (manifest.json present); nothing to do")
            report.alreadyComplete = true
            return report
        }
        // The file lists are inputs, the same for every worker: worker 0 writes them.
        if options.worker.owns(0) { try SourceLoading.writeFileLists(fileLists, into: dir) }

        let references = pipeline.usesReferences
        let factory = SampleFactory(train: dataset.train, test: dataset.test, classCount: dataset.classCount,
                                    augment: pipeline.augment, mix: pipeline.mix, seed: pipeline.seed, references: references)
        // Kept shards with references are checked against the images in memory (the
        // source copy may be another worker's job, not yet written).
        let source = references ? SourceImages(store: dataset.train) : nil
        let allJobs = pipeline.shardJobs(trainCount: dataset.train.count, testCount: dataset.test.count)
        let mine = allJobs.indices.filter { options.worker.owns($0) }
        try prepareDirectories(dir, jobs: allJobs, owned: mine)

        let progress = Progress("mixprep", total: mine.reduce(0) { $0 + allJobs[$1].count }, unit: "images", quiet: options.quiet)
        let results = Locked([Int: ShardOutcome]())
        let tally = Locked(PrepReport())
        // Each shard's fsync and rename wait for the disk on a thread of their own (a few
        // percent of a CIFAR epoch's time), while the workers go on compressing.
        let commits = FileIO.BackgroundCommits()
        let made = Result { try Parallel.forEach(count: mine.count, threads: options.threads) { n in
            try commits.check()
            let job = allJobs[mine[n]]
            let path = dir + "/" + job.file
            let encoding = pipeline.encoding(for: job.split, shape: shape, version: version)
            var redoReason: String?
            if FileIO.exists(path) {
                do {
                    let outcome = try ShardCheck.check(path: path, job: job, shape: factory.shape, encoding: encoding,
                                                          smoothing: pipeline.mix.smoothing, source: source)
                    results.withLock { $0[mine[n]] = outcome }
                    tally.withLock { $0.kept += 1 }
                    progress.advance(by: job.count)
                    return
                } catch {
                    redoReason = "\(error)"
                }
            }
            // Chunk by chunk: a shard is never whole in memory (the source copy holds every
            // training image), and the pixels of references are never made.
            let plan = factory.plan(for: job)
            let writer = try ShardFileWriter(path: path, shape: factory.shape, encoding: encoding, samples: job.count,
                                             references: encoding.provenance && plan.hasReferences,
                                             sparseSmoothing: Float(plan.smoothing), split: job.split,
                                             epoch: UInt32(job.epoch), shardIndex: UInt32(job.shardIndex))
            var stats = ShardStats(classCount: factory.shape.classCount)
            var first = 0
            while first < plan.count {
                let range = first..<min(first + encoding.samplesPerChunk, plan.count)
                var block = factory.block(plan, samples: range, referencePixels: !encoding.provenance)
                if !encoding.provenance { block.provenance = [] }
                stats.addChunk(block)
                try writer.append(block)
                progress.advance(by: range.count)
                first = range.upperBound
            }
            let file = try writer.finish(commits: commits)
            let outcome = ShardOutcome(entry: ShardEntry(file: job.file, samples: job.count, bytes: file.bytes, sha256: file.sha256),
                                       stats: stats)
            results.withLock { $0[mine[n]] = outcome }
            tally.withLock {
                $0.written += 1
                $0.samplesWritten += job.count
                $0.bytesWritten += file.bytes
                $0.rawBytesWritten += MixShardLayout.headerBytes + MixShardLayout.footerBytes
                    + (job.count + encoding.samplesPerChunk - 1) / encoding.samplesPerChunk * MixShardLayout.indexEntryBytes
                    + job.count * (factory.shape.imageBytes
                                   + MixShardLayout.labelBytes(MixShardLayout.labelType(writtenIn: version), classCount: factory.shape.classCount)
                                   + (encoding.provenance ? MixShardLayout.provenanceBytes(version: encoding.version)
                                      + MixShardLayout.opRecordBytes(version: encoding.version) : 0))
                if let redoReason { $0.redone.append("\(job.file): \(redoReason)") }
            }
        } }
        // Every commit handed over has ended before this returns or throws (its error first).
        let committed = Result { try commits.wait() }
        try made.get()
        try committed.get()
        report = tally.withLock { $0 }
        report.warnings = warnings
        report.seconds = progress.finish()
        for r in report.redone { log("redone \(r)") }

        if options.worker.count == 1 {
            let outcomes = results.withLock { $0 }
            try writeManifest(dir, state: state, jobs: allJobs, outcomes: allJobs.indices.map { outcomes[$0]! })
            report.manifestWritten = true
            log("wrote \(dir)/\(Manifest.fileName)")
        } else {
            log("worker \(options.worker): done; once every worker has finished, run `mixprep finalize \(dir)`")
        }
        return report
    }

    /// Writes the manifest of a directory whose shards were made by several
    /// workers: every shard must exist and verify.
    public static func finalize(directory dir: String, threads: Int, quiet: Bool = false) throws {
        guard let state = try RunState.load(directory: dir) else {
            throw MixError.file(dir, "no \(RunState.fileName): not a shard directory made by `mixprep run`")
        }
        let locks = try PrepLock.take(dir, worker: .all, what: "mixprep finalize")
        defer { withExtendedLifetime(locks) {} }
        let p = state.pipeline
        let shape = SampleShape(channels: state.source.channels, height: state.source.height, width: state.source.width,
                                classCount: state.source.classNames.count)
        if let problem = planSizeProblem(state) { throw MixError.file(dir + "/" + RunState.fileName, problem) }
        let jobs = p.shardJobs(trainCount: state.source.trainCount, testCount: state.source.testCount)
        let progress = Progress("finalize", total: jobs.reduce(0) { $0 + $1.count }, unit: "images", quiet: quiet)
        let outcomes = Locked([Int: ShardOutcome]())
        let missing = jobs.filter { !FileIO.exists(dir + "/" + $0.file) }.map(\.file)
        if !missing.isEmpty {
            let shown = missing.prefix(5).joined(separator: ", ") + (missing.count > 5 ? " and \(missing.count - 5) more" : "")
            throw MixError.file(dir, "\(missing.count) of \(jobs.count) shard\(jobs.count == 1 ? "" : "s") missing: \(shown); "
                                + "a worker has not finished (rerun it, or `mixprep run` without --worker)")
        }
        for entry in state.source.files?.entries ?? [] {
            let file = dir + "/" + entry.file
            guard let bytes = FileIO.exists(file) ? try FileIO.read(file) : nil else {
                throw MixError.file(file, "missing: worker 0 writes the source file lists and has not finished (rerun it)")
            }
            guard bytes.count == entry.bytes, bytes.withUnsafeBytes({ SHA256.hexDigest(of: $0) }) == entry.sha256 else {
                throw MixError.file(file, "differs from what \(RunState.fileName) records (rerun worker 0 to rewrite it)")
            }
        }
        let source = try ShardCheck.openSource(directory: dir, jobs: jobs)
        try Parallel.forEach(count: jobs.count, threads: threads) { i in
            let path = dir + "/" + jobs[i].file
            let encoding = p.encoding(for: jobs[i].split, shape: shape, version: UInt16(state.formatVersion))
            let o = try ShardCheck.check(path: path, job: jobs[i], shape: shape, encoding: encoding, smoothing: p.mix.smoothing, source: source)
            outcomes.withLock { $0[i] = o }
            progress.advance(by: jobs[i].count)
        }
        progress.finish()
        let all = outcomes.withLock { $0 }
        try writeManifest(dir, state: state, jobs: jobs, outcomes: jobs.indices.map { all[$0]! })
        Log(quiet: quiet)("wrote \(dir)/\(Manifest.fileName)")
    }

    // MARK: - Pieces

    /// Creates the split/epoch folders and removes the temp files a crash may
    /// have left of this worker's own shards. Only its own: another worker
    /// writing into the same folder may be renaming its `.tmp` file right now.
    static func prepareDirectories(_ dir: String, jobs: [ShardJob], owned: [Int]) throws {
        var folders: [String] = []
        for job in jobs {
            let folder = String(job.file[..<job.file.lastIndex(of: "/")!])
            if folders.last != folder { folders.append(folder) }
        }
        for folder in Set(folders).sorted() { try FileIO.makeDirectories(folder, in: dir) }
        for j in owned {
            FileIO.remove(dir + "/" + jobs[j].file + ".tmp")  // the name mixshards ≤ 0.3 used
            FileIO.removeTemporaries(of: dir + "/" + jobs[j].file)
        }
    }

    /// The most shard files one directory's plan may have: 100 epochs of ImageNet-1k at
    /// 1,000 samples per shard are about 128,000; a prep.json that plans more was not written by
    /// mixprep, and building its plan would take as long as the number says.
    static let maxPlannedFiles = 10_000_000

    /// Why `state`'s counts cannot be planned (checked before the plan is built: a
    /// `prep.json` saying 10^15 training images made finalize run for minutes), or nil.
    static func planSizeProblem(_ state: RunState) -> String? {
        let s = state.source, p = state.pipeline
        for (key, n) in [("source.trainCount", s.trainCount), ("source.testCount", s.testCount)]
        where n < 0 || n > Manifest.maxShardSamples {
            return "\(key) \(Wording.grouped(n)) is not a number of images a shard directory holds "
                + "(from 0 to \(Wording.grouped(Manifest.maxShardSamples)))"
        }
        let files = ShardPlan.fileCount(trainCount: s.trainCount, testCount: s.testCount, epochs: p.shards.epochs,
                                        samplesPerShard: p.shards.samplesPerShard, sourceCopy: p.usesReferences)
        guard let files, files <= maxPlannedFiles else {
            let epochs = p.shards.epochs
            return "plans \(files.map(Wording.grouped) ?? "too many") shard files (\(Wording.grouped(s.trainCount)) training images, "
                + "\(epochs) epoch\(epochs == 1 ? "" : "s"), \(Wording.grouped(p.shards.samplesPerShard)) samples per shard); "
                + "at most \(Wording.grouped(maxPlannedFiles))"
        }
        return nil
    }

    static func writeManifest(_ dir: String, state: RunState, jobs: [ShardJob], outcomes: [ShardOutcome]) throws {
        // Temporary files a killed worker may have left of the files any worker writes.
        for name in [RunState.fileName, Manifest.fileName, SourceFileList.trainFile, SourceFileList.testFile, SourceFileList.skippedFile] {
            FileIO.removeTemporaries(of: dir + "/" + name)
        }
        let k = state.source.classNames.count
        var epochs: [EpochEntry] = []
        var test = SplitEntry(shards: [], stats: ShardStats(classCount: k))
        var summary = ShardStats(classCount: k)
        var sourceCopy: ShardEntry?
        for (job, o) in zip(jobs, outcomes) {
            switch job.split {
            case .source:
                sourceCopy = o.entry
            case .train:
                if epochs.last?.epoch != job.epoch {
                    epochs.append(EpochEntry(epoch: job.epoch, shards: [], stats: ShardStats(classCount: k)))
                }
                epochs[epochs.count - 1].shards.append(o.entry)
                epochs[epochs.count - 1].stats.merge(o.stats)
                summary.merge(o.stats)
            case .test:
                test.shards.append(o.entry)
                test.stats.merge(o.stats)
            }
        }
        var manifest = Manifest(pipeline: state.pipeline, source: state.source, train: epochs, test: test, summary: summary)
        manifest.formatVersion = state.formatVersion
        manifest.sourceCopy = sourceCopy
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try manifest.encoded())
    }
}

/// A shard's manifest entry and statistics.
struct ShardOutcome: Sendable {
    var entry: ShardEntry
    var stats: ShardStats
    /// What the shard's label rows say of its samples' classes (verify only; nil without provenance).
    var labels: [LabelReading]? = nil
}

/// Prints status lines to standard error unless quiet.
struct Log {
    let quiet: Bool
    func callAsFunction(_ line: String) {
        if !quiet { printError(line) }
    }
}
