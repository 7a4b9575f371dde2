import Experiment
import Foundation
import MixCore

/// `trial.json` of a finished experiment, mutated as JSON text, then the experiment run again
/// (issue 22): a tampered record trapped the report (`prepSeconds: 1e300`), indexed out of
/// range (a ragged confusion matrix), overflowed (Int64.max entries), or left the run "not
/// finished" on every rerun (`confusion` removed). Setup runs a tiny experiment once (one
/// arm, one trial, 1 epoch of 64 images on a 4-4-8-8 network). Each case writes the mutant
/// and reruns the experiment, which either skips the finished run and reports, refuses the
/// record by name, or redoes the run; when it succeeds, a second rerun must find the run
/// finished and do nothing.
final class TrialRecordTarget: FuzzTarget {
    static let dictionary = [
        "1e300", "-1e300", "1e-320", "-1", "0", "-0.0", "9223372036854775807", "-9223372036854775808",
        "18446744073709551615", "1.5", "null", "true", "false", "\"\"", "\"x\"", "[]", "{}", "[[]]",
        "[[1, 2], [3]]", "[[9223372036854775807, 1], [1, 1]]", "[[-1, 0], [0, 0]]",
        "[" + Array(repeating: "[0]", count: 50).joined(separator: ", ") + "]",
        "\"confusion\": null", "\"complete\": true", "\"complete\": false", "\"classNames\": [\"a\"]",
        "\"testSamples\": 0", "\"trainSamples\": -5", "\"prepSeconds\": 1e300", "\"shardsWritten\": -1",
        "\"seed\": 1", "\"arm\": \"other\"", "\"manifestSHA256\": \"00\"", String(repeating: "[", count: 2_000),
    ]

    let seeds: [[UInt8]]
    let spec: ExperimentSpec
    let options: ExperimentOptions
    let recordPath: String
    let out: String

    init(context: FuzzContext) throws {
        out = context.scratch + "/trial-experiment"
        // The experiment file's relative paths are relative to its folder, not to the root.
        let root = context.root.hasPrefix("/") ? context.root : FileManager.default.currentDirectoryPath + "/" + context.root
        let text = """
            name = "fuzz-trial"
            trials = [0]
            epochs = 1
            data = "\(FileIO.normalizedPath(root))/data/cifar10-mini"
            out = "\(out)"

            [dataset]
            train_limit = 64
            test_limit = 32

            [shards]
            samples_per_shard = 64
            samples_per_chunk = 16

            [train]
            batch = 16
            widths = [4, 4, 8, 8]
            hidden = 16

            [[arms]]
            name = "mixup"
            mode = "sample"
            p = 0.5
            alpha = 0.2
            """
        spec = try ExperimentSpec.parse(text, file: context.scratch + "/trial-experiment.toml")
        options = ExperimentOptions(threads: 1, quiet: true)
        let outcome = try ExperimentRunner.run(spec, options: options, log: { _ in })
        guard let run = outcome.plan.trials.first?.runDirectory else { throw SetupError(description: "the experiment planned no trial") }
        recordPath = run + "/trial.json"
        seeds = [try FileIO.read(recordPath)]
    }

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        var bytes = rng.pick(seeds)
        TextMutator.mutate(&bytes, rng: &rng, donors: seeds, dictionary: TrialRecordTarget.dictionary, maxStack: 4)
        return bytes
    }

    func run(_ input: [UInt8]) -> FuzzOutcome {
        Scratch.write(recordPath, input)
        var steps = Steps(naming: [recordPath, out])
        var ran = false
        steps.run {
            _ = try ExperimentRunner.run(spec, options: options, log: { _ in })
            ran = true
        }
        if ran {
            steps.run {
                let again = try ExperimentRunner.run(spec, options: options, log: { _ in })
                guard again.trials.allSatisfy({ $0.training == .skipped }) else {
                    throw FuzzInvariant("the run is not finished on the rerun after a successful one: \(again.trials.map(\.training))")
                }
            }
        }
        return steps.outcome
    }
}
