import Foundation
import MixCore
import Pipeline

/// Runs taken from a published experiment folder (`mixtrain experiment --import DIR`): its
/// `summary.json` holds every number the report needs of each run, so a run of the same arm
/// and seed there need not be trained again here. That is how an experiment outlives the
/// machine its checkpoints were on: publish what finished (`scripts/publish-experiment.sh`),
/// and a later machine runs only the rest into one report.
///
/// A published run is taken when the experiment trains the same number of epochs with the
/// same network and batch, and its arm has the same mixing and augmentation, recipe and
/// materialised epochs; otherwise it is left out with a warning naming what differs (and is
/// run here). A run this folder has finished itself is preferred to an imported one.
struct ImportedRuns {
    /// The published folder, as given.
    let directory: String
    /// Its `summary.json`.
    let summary: ExperimentSummary
    /// By trial name (`<arm>-seed<k>`): the published run, and its shard directory's size
    /// when the published arm recorded one per run.
    let runs: [String: (run: RunSummary, shardBytes: Double?)]
    /// One line per published run of this experiment's arms and seeds that is not taken.
    let warnings: [String]

    static func load(_ directory: String, plan: ExperimentPlan) throws -> ImportedRuns {
        let path = directory + "/summary.json"
        guard FileIO.exists(path) else { throw MixError.file(directory, "holds no summary.json (publish an experiment with scripts/publish-experiment.sh)") }
        let summary: ExperimentSummary
        do {
            summary = try ExperimentSummary.decode(try FileIO.read(path))
        } catch let e as MixError {
            throw e
        } catch {
            throw MixError.file(path, "is not an experiment summary (\(error))")
        }
        let t = plan.trials[0].pipeline.train
        var differs: [String] = []
        if summary.epochs != plan.epochs { differs.append("\(summary.epochs) training epochs, this experiment \(plan.epochs)") }
        if summary.batch != t.batch { differs.append("batch \(summary.batch), this experiment \(t.batch)") }
        if summary.widths != t.widths || summary.hidden != t.hidden {
            differs.append("widths \(summary.widths) and hidden \(summary.hidden), this experiment \(t.widths) and \(t.hidden)")
        }
        if !differs.isEmpty {
            throw MixError.file(path, "was trained otherwise: \(differs.joined(separator: "; ")); nothing can be imported from it")
        }
        var runs: [String: (run: RunSummary, shardBytes: Double?)] = [:]
        var warnings: [String] = []
        for trial in plan.trials {
            guard let run = summary.runs.first(where: { $0.arm == trial.arm.name && $0.seed == trial.seed }),
                  let arm = summary.arms.first(where: { $0.name == trial.arm.name }) else { continue }
            var other: [String] = []
            if arm.mix != trial.arm.mix { other.append("mixing") }
            if arm.mixing != trial.arm.mixDescription { other.append("augmentation (\"\(arm.mixing)\", here \"\(trial.arm.mixDescription)\")") }
            if let training = arm.training, training != trial.pipeline.train.recipeDescription {
                other.append("recipe (\"\(training)\", here \"\(trial.pipeline.train.recipeDescription)\")")
            }
            if let e = arm.materialisedEpochs, e != trial.pipeline.shards.epochs {
                other.append("materialised epochs (\(e), here \(trial.pipeline.shards.epochs))")
            }
            guard other.isEmpty else {
                warnings.append("not importing \(trial.name) from \(directory): its arm differs in \(other.joined(separator: ", ")); running it here")
                continue
            }
            // The arm's per-run sizes are in its runs' order when every run had its shards.
            let mine = summary.runs.filter { $0.arm == arm.name }
            let bytes = arm.shardBytes.flatMap { s in
                s.values.count == mine.count ? mine.firstIndex(where: { $0.seed == run.seed }).map { s.values[$0] } : nil
            }
            runs[trial.name] = (run, bytes)
        }
        return ImportedRuns(directory: directory, summary: summary, runs: runs, warnings: warnings)
    }

    /// Imported runs and this folder's own must be of one dataset and one set of classes: the
    /// published source fingerprint against `record`'s (a run of this folder), and the classes.
    func check(against record: TrialRecord?) throws {
        let path = directory + "/summary.json"
        if let record, let mine = record.sourceFingerprint, !summary.sourceFingerprint.isEmpty, mine != summary.sourceFingerprint {
            throw MixError.file(path, "holds runs of another dataset (source fingerprint \(summary.sourceFingerprint.prefix(12))…, "
                                + "this experiment's \(mine.prefix(12))…): they cannot share a report")
        }
        if let classes = record?.confusion?.count, let k = runs.values.first?.run.confusion.count, k != classes {
            throw MixError.file(path, "holds runs of \(k) classes, this experiment's have \(classes)")
        }
    }

    /// Copies the published run's own files (report, metrics, curves; not its `trial.json`, which
    /// would make this folder's runner take the run for one of its own) into `runs/<name>/`, and
    /// the arm's contact sheet folder into `samples/<arm>/` when there is none, so the report's
    /// links resolve. Existing files are kept.
    func copyFiles(of trial: TrialPlan, into out: String) throws {
        let from = directory + "/runs/" + trial.name, to = trial.runDirectory
        try FileIO.makeDirectories("runs/" + trial.name, in: out)
        for name in ["report.md", "metrics.csv", "curves.svg"] where FileIO.exists(from + "/" + name) && !FileIO.exists(to + "/" + name) {
            try FileIO.writeAtomically(to + "/" + name, try FileIO.read(from + "/" + name))
        }
        let samples = directory + "/samples/" + trial.arm.name
        let target = out + "/samples/" + trial.arm.name
        guard FileIO.isDirectory(samples), !FileIO.exists(target) else { return }
        try FileIO.makeDirectories("samples/" + trial.arm.name, in: out)
        for entry in try FileIO.entries(samples) where !entry.isDirectory {
            try FileIO.writeAtomically(target + "/" + entry.name, try FileIO.read(samples + "/" + entry.name))
        }
    }
}
