import Foundation
import MixCore
import Pipeline
import ShardStore
import Prep
import Training

/// What happened to one arm × trial in this invocation.
public struct TrialOutcome: Sendable, Equatable {
    /// What training did.
    public enum Training: Sendable, Equatable {
        /// Trained from scratch.
        case trained
        /// Continued from the checkpoint after `epochs` epochs.
        case resumed(epochs: Int)
        /// The final checkpoint was already there (only the evaluation was redone).
        case alreadyTrained
        /// The run had finished and been evaluated: nothing was done at all.
        case skipped
        /// Taken from the published folder of `--import` (`ImportedRuns`): nothing was run.
        case imported
    }

    /// `<arm>-seed<k>`.
    public var name: String
    /// The arm's name.
    public var arm: String
    /// The trial's seed.
    public var seed: UInt64
    /// Shard files written (0 when every shard was kept or the prep step was skipped).
    public var shardsWritten: Int
    /// Shard files kept because they verified.
    public var shardsKept: Int
    /// `PrepRunner.run` was called (false for a skipped trial).
    public var prepRan: Bool
    /// What training did.
    public var training: Training
}

/// What `ExperimentRunner.run` did and produced.
public struct ExperimentOutcome: Sendable {
    /// What was run.
    public var plan: ExperimentPlan
    /// Per arm × trial, in the order they ran.
    public var trials: [TrialOutcome]
    /// Shard directories in which shards were written.
    public var prepared: Int { trials.filter { $0.shardsWritten > 0 }.count }
    /// Runs that trained at least one epoch in this invocation (fresh or resumed).
    public var trained: Int { trials.filter { $0.training == .trained || isResumed($0.training) }.count }
    /// Of those, the runs continued from a checkpoint.
    public var resumed: Int { trials.filter { isResumed($0.training) }.count }
    /// Runs that had finished before: no prep, no training, no evaluation.
    public var skipped: Int { trials.filter { $0.training == .skipped }.count }
    /// Runs taken from a published experiment (`--import`).
    public var imported: Int { trials.filter { $0.training == .imported }.count }
    /// The numbers of `summary.json`.
    public var summary: ExperimentSummary
    /// `OUT/report.md`.
    public var reportPath: String
    /// The report's opening answer, one line per compared arm.
    public var headline: [String]
    /// Report files (re)written because their contents changed.
    public var filesWritten: [String]

    private func isResumed(_ t: TrialOutcome.Training) -> Bool {
        if case .resumed = t { return true }
        return false
    }
}

/// Runs every arm × trial of an experiment — `mixprep` (PrepRunner) then
/// `mixtrain` (Trainer) — and writes the experiment report.
///
/// Resumable after a kill at any point: shard directories keep every shard
/// that verifies, runs continue from their newest good checkpoint, finished
/// runs (`trial.json` complete and the final checkpoint present) are skipped,
/// and report files are rewritten only when their bytes change, so a rerun of
/// a finished experiment writes nothing. Several processes may run the same
/// experiment into the same folder at once: each run is claimed with a
/// `FileLock`, so they share the runs out between them.
public enum ExperimentRunner {
    /// Runs `spec` as `options` say. `log` receives status lines (standard error by default).
    public static func run(_ spec: ExperimentSpec, options: ExperimentOptions,
                           log: @escaping @Sendable (String) -> Void = { printError($0) }) throws -> ExperimentOutcome {
        let plan = try ExperimentPlan(spec: spec, options: options)
        let quiet = options.quiet
        let say: @Sendable (String) -> Void = { line in
            if !quiet { log(line) }
        }
        try FileIO.makeDirectories(plan.outDirectory)
        say("experiment \(spec.name): \(plan.spec.arms.count) arm\(plan.spec.arms.count == 1 ? "" : "s") × \(plan.seeds.count) trial\(plan.seeds.count == 1 ? "" : "s") "
            + "× \(plan.epochs) epoch\(plan.epochs == 1 ? "" : "s") into \(plan.outDirectory)")
        let imported = try options.importFrom.map { try ImportedRuns.load($0, plan: plan) }
        for warning in imported?.warnings ?? [] { printError("warning: \(warning)") }
        var outcomes: [TrialOutcome] = []
        var taken: [String: (run: RunSummary, shardBytes: Double?)] = [:]
        // Each run is claimed with a lock, so several processes (or machines
        // sharing OUT) can work through one experiment: first every run that
        // is free, then the ones other processes hold — waiting for each, and
        // taking it over if its process died.
        var busy: [(tag: String, trial: TrialPlan)] = []
        for (i, trial) in plan.trials.enumerated() {
            let tag = "[\(i + 1)/\(plan.trials.count)] \(trial.name)"
            if let imported, let run = imported.runs[trial.name], !finishedHere(trial) {
                try imported.copyFiles(of: trial, into: plan.outDirectory)
                taken[trial.name] = run
                say("\(tag): imported from \(imported.directory)")
                outcomes.append(TrialOutcome(name: trial.name, arm: trial.arm.name, seed: trial.seed, shardsWritten: 0,
                                             shardsKept: 0, prepRan: false, training: .imported))
                continue
            }
            guard let lock = try FileLock.tryAcquire(try lockPath(trial)) else {
                say("\(tag): another process is running it; coming back to it at the end")
                busy.append((tag, trial))
                continue
            }
            outcomes.append(try withExtendedLifetime(lock) { try runTrial(trial, tag: tag, options: options, say: say) })
        }
        for (tag, trial) in busy {
            say("\(tag): waiting for the other process")
            let lock = try FileLock.acquire(try lockPath(trial))
            outcomes.append(try withExtendedLifetime(lock) { try runTrial(trial, tag: tag, options: options, say: say) })
        }
        // Arm by arm for the report's tables.
        let results = try plan.spec.arms.flatMap { arm in
            try plan.trials(of: arm.name).filter { taken[$0.name] == nil }.map { try loadResult($0, plan: plan) }
        }
        // The report sums confusion matrices per arm and lays them out with one list of class names.
        if let first = results.first, let other = results.first(where: { $0.record.confusion?.count != first.record.confusion?.count }) {
            throw MixError.file(other.trial.runDirectory + "/" + TrialRecord.fileName,
                                "has \(other.record.confusion?.count ?? 0) classes, \(first.trial.runDirectory)/\(TrialRecord.fileName) "
                                + "\(first.record.confusion?.count ?? 0): the runs of one experiment share their classes")
        }
        if let imported, !taken.isEmpty {
            try imported.check(against: results.first?.record)
        }
        let summary = makeSummary(plan: plan, results: results, imported: imported.map { ($0, taken) })
        var written: [String] = []
        // One report writer at a time (they would write the same bytes).
        let reportLock = try FileLock.acquire(plan.outDirectory + "/" + reportLockName)
        try withExtendedLifetime(reportLock) {
            try ensureContactSheets(plan: plan, say: say, written: &written)
            let files = try ExperimentReport.files(summary: summary, plan: plan,
                                                   contactSheets: contactSheets(plan: plan))
            for (name, bytes) in files {
                if try writeIfChanged(plan.outDirectory + "/" + name, bytes) { written.append(name) }
            }
        }
        let headline = ExperimentReport.headline(summary)
        let outcome = ExperimentOutcome(plan: plan, trials: outcomes, summary: summary,
                                        reportPath: plan.outDirectory + "/report.md", headline: headline,
                                        filesWritten: written)
        say("runs: \(outcome.trained) trained (\(outcome.resumed) resumed), \(outcome.skipped) already finished"
            + (outcome.imported > 0 ? ", \(outcome.imported) imported" : "") + "; "
            + "shards written in \(outcome.prepared) director\(outcome.prepared == 1 ? "y" : "ies")")
        return outcome
    }

    // MARK: - One trial

    /// `OUT/runs/<arm>-seed<k>/.lock`, held while a process works on the run
    /// (creates the run folder).
    static func lockPath(_ trial: TrialPlan) throws -> String {
        try FileIO.makeDirectories("runs/" + trial.name, in: trial.experimentDirectory)
        return trial.runDirectory + "/.lock"
    }

    /// `OUT/.report.lock`: held while a process writes the report files.
    static let reportLockName = ".report.lock"

    static func runTrial(_ trial: TrialPlan, tag: String, options: ExperimentOptions,
                         say: @escaping @Sendable (String) -> Void) throws -> TrialOutcome {
        let run = trial.runDirectory
        var outcome = TrialOutcome(name: trial.name, arm: trial.arm.name, seed: trial.seed, shardsWritten: 0, shardsKept: 0,
                                   prepRan: false, training: .skipped)
        // A trial.json that does not decode or holds impossible numbers (edited, or damaged) is
        // not trusted: the trial is redone as if it had none. Shards and checkpoints are not
        // lost with it: prep keeps the shards that verify, training resumes from (or keeps) the
        // checkpoints, and the final checkpoint is evaluated again. Only the prep time, which a
        // rerun that keeps the shards cannot measure, is lost.
        var record: TrialRecord?
        switch try TrialRecord.load(directory: run) {
        case nil:
            record = nil
        case .success(let r)?:
            record = r
        case .failure(let e)?:
            printError("warning: \(e.message); redoing this trial (shards and checkpoints that verify are kept, its prep time is lost)")
            record = nil
        }
        if let r = record {
            let diff = r.differences(from: trial)
            guard diff.isEmpty else {
                throw MixError.file(run, "holds a run made with other settings (differs in: \(diff.joined(separator: ", "))); "
                                    + "delete it (and \(trial.shardDirectory)) or choose another --out")
            }
        }
        if let r = record, r.complete, let ckpt = readableCheckpoint(trial.finalCheckpoint) {
            // The record's results must be those of this checkpoint; if not, its evaluation is redone.
            let classes = ckpt.header.config.classes
            if r.confusion?.count == classes && r.manifestSHA256 == ckpt.header.manifestSHA256 {
                say("\(tag): finished; skipped")
                return outcome
            }
            printError("warning: \(run)/\(TrialRecord.fileName): "
                       + (r.confusion?.count != classes ? "its confusion matrix has \(r.confusion?.count ?? 0) classes, the final checkpoint \(classes)"
                                                        : "it records other shards than the final checkpoint was trained on")
                       + "; evaluating the final checkpoint again")
        }

        // mixprep
        try FileIO.makeDirectories("runs/" + trial.name, in: trial.experimentDirectory)
        try FileIO.makeDirectories("shards/" + trial.name, in: trial.experimentDirectory)
        if record == nil {
            record = TrialRecord(trial: trial)
            try record!.write(directory: run)
        }
        say("\(tag): mixprep → \(trial.shardDirectory)")
        let prepStart = Progress.now()
        let prep = try PrepRunner.run(trial.pipeline, options: PrepOptions(outDirectory: trial.shardDirectory,
                                                                            threads: options.threads, quiet: options.quiet))
        outcome.prepRan = true
        outcome.shardsWritten = prep.written
        outcome.shardsKept = prep.kept
        if !prep.alreadyComplete {
            record!.prepSeconds += Progress.now() - prepStart
            record!.shardsWritten += prep.written
            try record!.write(directory: run)
        }

        // mixtrain
        if readableCheckpoint(trial.finalCheckpoint) == nil {
            // Resume when there are checkpoints; the experiment owns its run directories,
            // so when none of them is usable it starts the run over (with a warning).
            let resume = !Checkpoint.list(in: run).isEmpty
            say("\(tag): mixtrain → \(run)\(resume ? " (resuming)" : "")")
            let settings = TrainSettings(shardDirectory: trial.shardDirectory, runDirectory: run, train: trial.pipeline.train,
                                         pipelineName: trial.pipeline.name, seed: trial.seed, threads: options.threads,
                                         resume: resume, startOver: resume, quiet: options.quiet)
            let result = try Trainer.run(settings) { line in say("\(trial.name): \(line)") }
            outcome.training = result.resumedEpochs > 0 ? .resumed(epochs: result.resumedEpochs) : .trained
        } else {
            outcome.training = .alreadyTrained
        }

        // The final model's confusion matrix.
        let ckpt = try Checkpoint.read(trial.finalCheckpoint)
        try check(ckpt.header, trial: trial)
        let dir = try ShardDirectory(path: trial.shardDirectory)
        guard ckpt.header.manifestSHA256 == dir.manifestSHA256 else {
            throw MixError.file(trial.finalCheckpoint, "was trained on other shards than \(trial.shardDirectory) holds; delete \(run) to redo the run")
        }
        setTrainingThreads(options.threads)
        let model = try ckpt.makeModel()
        let loader = try ShardLoader(directory: dir, options: LoaderOptions(batch: trial.pipeline.train.batch, seed: trial.seed,
                                                                            normalizer: ckpt.normalizer))
        let eval = try Evaluation.run(model: model, loader: loader,
                                      progress: Progress("\(trial.name) confusion", total: dir.testSampleCount,
                                                         unit: "images", quiet: options.quiet))
        guard eval.confusion.count == dir.shape.classCount else {
            throw MixError.file(trial.shardDirectory, "holds \(dir.shape.classCount) classes; an experiment's report shows confusion "
                                + "matrices, which are kept up to \(Evaluation.maxConfusionClasses) classes: train on it with mixtrain train")
        }
        record!.confusion = eval.confusion
        record!.classNames = dir.classNames
        record!.trainSamples = dir.trainSampleCount(epoch: 0)
        record!.testSamples = dir.testSampleCount
        record!.sourceName = dir.manifest.source.name
        record!.sourceFingerprint = dir.manifest.source.fingerprint
        record!.manifestSHA256 = dir.manifestSHA256
        record!.complete = true
        try record!.write(directory: run)
        say("\(tag): done, final test accuracy \(String(format: "%.2f", 100 * (ckpt.header.metrics.last?.testAccuracy ?? 0)))%")
        return outcome
    }

    /// The checkpoint at `path` if it exists and verifies (a corrupt one is reported and treated as missing).
    static func readableCheckpoint(_ path: String) -> Checkpoint? {
        guard FileIO.exists(path) else { return nil }
        do {
            return try Checkpoint.read(path)
        } catch {
            printError("warning: \(error); training resumes from an earlier checkpoint")
            return nil
        }
    }

    /// A final checkpoint must belong to this trial.
    static func check(_ h: Checkpoint.Header, trial: TrialPlan) throws {
        let t = trial.pipeline.train
        var diff: [String] = []
        if h.seed != trial.seed { diff.append("seed (\(h.seed) vs \(trial.seed))") }
        if h.epoch != t.epochs { diff.append("epochs (\(h.epoch) vs \(t.epochs))") }
        if h.batch != t.batch { diff.append("batch (\(h.batch) vs \(t.batch))") }
        if h.widths != t.widths || h.hidden != t.hidden { diff.append("network (widths \(h.widths), hidden \(h.hidden) vs \(t.widths), \(t.hidden))") }
        if h.learningRate != t.lr { diff.append("lr (\(h.learningRate) vs \(t.lr))") }
        if h.recipe != CheckpointRecipe(t) { diff.append("training recipe (\(h.trainRecipe.recipeDescription) vs \(t.recipeDescription))") }
        if h.metrics.count != t.epochs { diff.append("metrics of \(h.metrics.count) epochs") }
        guard diff.isEmpty else {
            throw MixError.file(trial.finalCheckpoint, "does not belong to this trial (differs in: \(diff.joined(separator: ", "))); delete \(trial.runDirectory) to redo it")
        }
    }

    // MARK: - Results

    /// A finished trial's numbers: its record and its final checkpoint's metrics.
    struct TrialResult {
        var trial: TrialPlan
        var record: TrialRecord
        var metrics: [EpochMetrics]
    }

    static func loadResult(_ trial: TrialPlan, plan: ExperimentPlan) throws -> TrialResult {
        // runTrial has just redone any trial whose record was missing, invalid or incomplete.
        guard let record = try TrialRecord.load(directory: trial.runDirectory)?.get(), record.complete, record.confusion != nil else {
            throw MixError.file(trial.runDirectory, "has not finished (no complete \(TrialRecord.fileName))")
        }
        let ckpt = try Checkpoint.read(trial.finalCheckpoint)
        try check(ckpt.header, trial: trial)
        if let sha = record.manifestSHA256, sha != ckpt.header.manifestSHA256 {
            throw MixError.file(trial.finalCheckpoint, "was trained on other shards than \(TrialRecord.fileName) records; delete \(trial.runDirectory) to redo the run")
        }
        return TrialResult(trial: trial, record: record, metrics: ckpt.header.metrics)
    }

    /// Whether this folder holds the finished run of `trial` (complete record, final checkpoint),
    /// which is then preferred to an imported one.
    static func finishedHere(_ trial: TrialPlan) -> Bool {
        guard let record = try? TrialRecord.load(directory: trial.runDirectory)?.get(), record.complete else { return false }
        return readableCheckpoint(trial.finalCheckpoint) != nil
    }

    /// The summary of the finished runs: `results`, this folder's own, and the runs taken from
    /// `imported` (arm by arm, each arm's trials in plan order).
    static func makeSummary(plan: ExperimentPlan, results: [TrialResult],
                            imported: (runs: ImportedRuns, taken: [String: (run: RunSummary, shardBytes: Double?)])? = nil) -> ExperimentSummary {
        let prefix = plan.outDirectory + "/"
        func relative(_ p: String) -> String { p.hasPrefix(prefix) ? String(p.dropFirst(prefix.count)) : p }
        let local: [RunSummary] = results.map { r in
            let m = r.metrics
            let best = m.indices.max { m[$0].testAccuracy < m[$1].testAccuracy || (m[$0].testAccuracy == m[$1].testAccuracy && $0 > $1) }!
            var split = TimeSplit(prep: r.record.prepSeconds)
            for e in m {
                let loading = e.loaderSeconds ?? 0, evaluation = e.evalSeconds ?? 0
                split.loading += loading
                split.evaluation += evaluation
                split.training += max(0, e.seconds - loading - evaluation)
            }
            return RunSummary(arm: r.trial.arm.name, seed: r.trial.seed, run: relative(r.trial.runDirectory),
                              shards: relative(r.trial.shardDirectory), finalTestAccuracy: m.last!.testAccuracy,
                              bestTestAccuracy: m[best].testAccuracy, bestEpoch: m[best].epoch,
                              finalTestLoss: m.last!.testLoss, finalTrainLoss: m.last!.trainLoss,
                              testAccuracy: m.map(\.testAccuracy), testLoss: m.map(\.testLoss), trainLoss: m.map(\.trainLoss),
                              threads: m.map(\.threads), blasKernels: m.map(\.blasKernel), seconds: split,
                              confusion: r.record.confusion!)
        }
        let taken = imported?.taken ?? [:]
        let ordered = plan.spec.arms.flatMap { plan.trials(of: $0.name) }
        let runs: [RunSummary] = ordered.compactMap { t in taken[t.name]?.run ?? local.first { $0.arm == t.arm.name && $0.seed == t.seed } }
        let arms: [ArmSummary] = plan.spec.arms.map { arm in
            let mine = runs.filter { $0.arm == arm.name }
            let trials = plan.trials(of: arm.name)
            // Shard directories deleted after training (to save disk) count as unknown, and so
            // do imported runs whose published arm did not record theirs.
            let bytes = trials.compactMap { t in
                taken[t.name].map { $0.shardBytes }
                    ?? (try? Manifest.load(directory: t.shardDirectory)).map { Double($0.listedFiles.reduce(0) { $0 + $1.bytes }) }
            }
            let k = mine[0].confusion.count
            var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
            for r in mine {
                for i in 0..<k { for j in 0..<k { confusion[i][j] += r.confusion[i][j] } }
            }
            let perClass = confusion.indices.map { i in
                let n = confusion[i].reduce(0, +)
                return n > 0 ? Double(confusion[i][i]) / Double(n) : 0
            }
            return ArmSummary(name: arm.name, mix: arm.mix, mixing: arm.mixDescription,
                              finalTestAccuracy: TrialStatistic(mine.map(\.finalTestAccuracy)),
                              bestTestAccuracy: TrialStatistic(mine.map(\.bestTestAccuracy)),
                              finalTestLoss: TrialStatistic(mine.map(\.finalTestLoss)),
                              confusion: confusion, perClassAccuracy: perClass,
                              seconds: mine.reduce(TimeSplit()) { $0 + $1.seconds },
                              referenceAccuracy: arm.referenceAccuracy, training: trials[0].pipeline.train.recipeDescription,
                              materialisedEpochs: trials[0].pipeline.shards.epochs,
                              shardBytes: bytes.isEmpty ? nil : TrialStatistic(bytes))
        }
        let baseline = arms.first { $0.name == plan.spec.baseline }!
        let pairs = Dictionary(uniqueKeysWithValues: plan.spec.arms.compactMap { a in a.compareWith.map { (a.name, $0) } })
        let comparisons = ExperimentSummary.comparisons(arms: arms, baseline: baseline.name, compareWith: pairs, runs: runs)
        let t = plan.trials[0].pipeline.train
        var summary = ExperimentSummary(experiment: plan.spec.name, file: plan.spec.file, baseline: baseline.name, epochs: plan.epochs,
                                        seeds: plan.seeds, source: "", sourceFingerprint: "", trainSamples: 0, testSamples: 0,
                                        classNames: [], batch: t.batch, learningRate: t.lr,
                                        widths: t.widths, hidden: t.hidden, arms: arms, comparisons: comparisons,
                                        leader: ExperimentSummary.leader(arms: arms, runs: runs), runs: runs,
                                        seconds: runs.reduce(TimeSplit()) { $0 + $1.seconds }, reference: plan.spec.reference)
        if let first = results.first {
            summary.source = first.record.sourceName ?? ""
            summary.sourceFingerprint = first.record.sourceFingerprint ?? ""
            summary.trainSamples = first.record.trainSamples ?? 0
            summary.testSamples = first.record.testSamples ?? 0
            summary.classNames = first.record.classNames ?? []
        } else if let published = imported?.runs.summary {
            summary.source = published.source
            summary.sourceFingerprint = published.sourceFingerprint
            summary.trainSamples = published.trainSamples
            summary.testSamples = published.testSamples
            summary.classNames = published.classNames
        }
        if let imported, !taken.isEmpty {
            summary.importedFrom = imported.runs.directory
            summary.importedRuns = ordered.map(\.name).filter { taken[$0] != nil }
        }
        return summary
    }

    // MARK: - Contact sheets

    /// The contact sheet of each arm that mixes or augments: `samples/<arm>/contact-sheet.png`, from its first trial's epoch 0.
    static func contactSheets(plan: ExperimentPlan) -> [(arm: String, path: String)] {
        plan.spec.arms.filter(\.transformsImages).compactMap { arm in
            let rel = "samples/\(arm.name)/contact-sheet.png"
            return FileIO.exists(plan.outDirectory + "/" + rel) ? (arm.name, rel) : nil
        }
    }

    /// Exports the mixed (or, for an arm that only augments, the first) samples of each arm's first trial, once.
    static func ensureContactSheets(plan: ExperimentPlan, say: (String) -> Void, written: inout [String]) throws {
        for arm in plan.spec.arms where arm.transformsImages {
            let out = plan.outDirectory + "/samples/" + arm.name
            guard !FileIO.exists(out + "/contact-sheet.png"), let trial = plan.trials(of: arm.name).first else { continue }
            guard FileIO.exists(trial.shardDirectory + "/" + Manifest.fileName) else {
                printError("warning: no contact sheet for \(arm.name): \(trial.shardDirectory) is gone")
                continue
            }
            do {
                // 3× for images up to 170 pixels (CIFAR's 32 as 96-pixel tiles), 2× up to 256, else 1×:
                // 24 tiles of 1,024 pixels at 3× would be above export's limit (`ContactSheetSize.maxPixels`).
                let source = try Manifest.load(directory: trial.shardDirectory).source
                let scale = max(1, min(3, 512 / max(source.height, source.width, 1)))
                _ = try Exporter.export(ExportRequest(directory: trial.shardDirectory, outDirectory: out, epoch: 0, count: 24,
                                                      positions: nil, mixedOnly: arm.mixes, scale: scale, columns: 8))
                written.append("samples/\(arm.name)/contact-sheet.png")
                say("contact sheet of \(arm.name)'s \(arm.mixes ? "mixed " : "")samples: \(out)/contact-sheet.png")
            } catch {
                printError("warning: no contact sheet for \(arm.name): \(error)")
            }
        }
    }

    /// Writes `bytes` atomically unless the file already holds exactly them; true if written.
    static func writeIfChanged(_ path: String, _ bytes: [UInt8]) throws -> Bool {
        if FileIO.exists(path), let old = try? FileIO.read(path), old == bytes { return false }
        try FileIO.writeAtomically(path, bytes)
        return true
    }
}
