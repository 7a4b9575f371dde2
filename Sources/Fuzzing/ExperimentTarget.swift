import Experiment
import MixCore
import Pipeline

/// Experiment files (`mixtrain experiment FILE`): the committed experiments in
/// `pipelines/` (those with `[[arms]]`) and two written here — inline base
/// sections with arms using every arm key, and a base pipeline file with arms
/// as an array of inline tables — mutated as TOML text with the pipeline
/// target's dictionary plus experiment lines, and read with
/// `ExperimentSpec.load` beside copies of the committed pipelines (so
/// `pipeline = "cifar10-mixup.toml"` resolves). An accepted file must also plan
/// (`ExperimentPlan`, with a dataset path supplied when the file leaves it to
/// `--data`) into one pipeline per arm × trial that `mixprep` accepts.
final class ExperimentTarget: FuzzTarget {
    static let dictionary = PipelineTarget.dictionary + [
        "[[arms]]", "[arms]", "[[arms.x]]", "arms = []", "arms = [{ name = \"x\", mode = \"none\" }]", "arms = 1",
        "name = \"baseline\"", "name = \"mixup\"", "name = \"..\"", "name = \".hidden\"", "name = \"a/b\"",
        "name = \"" + String(repeating: "n", count: 300) + "\"", "trials = [0, 1, 2]", "trials = []", "trials = [-1]",
        "trials = [0, 0]", "trials = [9223372036854775807]", "trials = [0.5]", "trials = 3", "trials = [[0]]",
        "trials = [" + (0..<2000).map(String.init).joined(separator: ", ") + "]",
        (0..<150).map { "[[arms]]\nname = \"many-\($0)\"\nmode = \"none\"" }.joined(separator: "\n"),
        "pipeline = \"cifar10-mixup.toml\"", "pipeline = \"quickstart.toml\"", "pipeline = \"article.toml\"",
        "pipeline = \"experiment.toml\"", "pipeline = \"\"", "pipeline = \".\"", "pipeline = \"/dev/null\"",
        "pipeline = \"missing.toml\"", "data = \"\"", "data = \"../data/cifar10-mini\"", "data = \"/\"", "out = \"\"",
        "out = \"../out\"", "baseline = \"nope\"", "baseline = \"mixup\"", "reference = \"the article\"", "reference = 1",
        "epochs = 0", "epochs = 100001", "epochs = 1", "seed = 1", "mode = \"none\"", "mode = \"sample\"",
        "mode = \"cutmix\"", "mode = \"batch\"", "mode = \"MIXUP\"", "p = 1", "p = 1.5", "p = -0.1", "alpha = 0",
        "alpha = 1e308", "block = 0", "block = 1000000", "smoothing = 0.1", "smoothing = 1", "crop_pad = 4",
        "crop_pad = -1", "crop_pad = 1000000", "flip = true", "flip = 1", "compare_with = \"baseline\"",
        "compare_with = \"mixup\"", "compare_with = \"none\"", "compare_with = \"crop-flip\"", "compare_with = 1",
        "reference_accuracy = 74.5", "reference_accuracy = 101", "reference_accuracy = -1", "reference_accuracy = nan",
        "reference_accuracy = inf", "unknown = 1", "[dataset]\npath = \"x\"", "[augment]", "[augment]\ncrop_pad = 4",
    ]

    /// Inline base sections; arms that use every arm key.
    static let inlineText = """
        name = "inline-arms"
        trials = [3, 1]
        epochs = 2
        data = "../data/cifar10-mini"
        out = "../out/inline"
        baseline = "none"
        reference = "a made-up paper"

        [dataset]
        train_limit = 100
        test_limit = 50

        [mix]
        mode = "sample"
        p = 0.5
        alpha = 1.0

        [shards]
        samples_per_shard = 64
        samples_per_chunk = 16

        [train]
        batch = 16
        lr = 1e-3
        widths = [4, 4, 8, 8]
        hidden = 16

        [[arms]]
        name = "none"
        mode = "none"
        reference_accuracy = 40.5

        [[arms]]
        name = "crop-flip"
        mode = "none"
        crop_pad = 4
        flip = true

        [[arms]]
        name = "crop-flip-mixup"
        crop_pad = 2
        flip = true
        mode = "sample"
        p = 0.2
        alpha = 0.2
        smoothing = 0.05
        compare_with = "crop-flip"
        reference_accuracy = 44

        [[arms]]
        name = "batch-cutmix"
        mode = "batch"
        block = 8
        p = 1
        alpha = 1
        compare_with = "crop-flip-mixup"

        """

    /// A base pipeline file; arms as an array of inline tables.
    static let fileText = """
        name = "file-arms"
        pipeline = "cifar10-mixup.toml"
        trials = [0]
        arms = [
          { name = "baseline", mode = "none", reference_accuracy = 74.5 },
          { name = "mixup", mode = "sample", p = 0.2, alpha = 0.2, reference_accuracy = 76.5 },
          { name = "cutmix", mode = "cutmix", p = 0.5, alpha = 1, crop_pad = 4, flip = true, compare_with = "mixup" },
        ]
        reference = "the article"

        """

    let seeds: [[UInt8]]
    let donors: [[UInt8]]
    let path: String
    let directory: String
    let scratch: String

    init(context: FuzzContext) throws {
        let files = Scratch.files(in: context.root + "/pipelines", suffix: ".toml")
        guard !files.isEmpty else { throw SetupError(description: "no pipelines in \(context.root)/pipelines") }
        scratch = context.scratch
        directory = context.scratch + "/experiments"
        try FileIO.makeDirectories(directory)
        var experiments: [[UInt8]] = [], pipelines: [[UInt8]] = []
        for file in files {
            let bytes = try FileIO.read(file)
            Scratch.write(directory + "/" + (file.split(separator: "/").last.map(String.init) ?? file), bytes)
            if String(decoding: bytes, as: UTF8.self).contains("[[arms]]") { experiments.append(bytes) } else { pipelines.append(bytes) }
        }
        guard !experiments.isEmpty else { throw SetupError(description: "no experiments ([[arms]]) in \(context.root)/pipelines") }
        seeds = experiments + [Array(ExperimentTarget.inlineText.utf8), Array(ExperimentTarget.fileText.utf8)]
        donors = seeds + pipelines
        path = directory + "/experiment.toml"
    }

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        var bytes = rng.pick(seeds)
        TextMutator.mutate(&bytes, rng: &rng, donors: donors, dictionary: ExperimentTarget.dictionary, maxStack: 5)
        return bytes
    }

    func run(_ input: [UInt8]) -> FuzzOutcome {
        Scratch.write(path, input)
        // A base pipeline's own errors name that file: one in the scratch directory (pipeline = "..": the
        // directory itself), or one named by absolute path in the dictionaries.
        var steps = Steps(naming: [path, scratch, "/dev/null", "/etc/passwd", "/: "])
        steps.run {
            let spec = try ExperimentSpec.load(path)
            guard spec.arms.contains(where: { $0.name == spec.baseline }) else { throw FuzzInvariant("baseline \(spec.baseline) is no arm") }
            let options = ExperimentOptions(data: spec.base.dataset.path.isEmpty ? "fuzz-data" : nil, threads: 1, quiet: true)
            let plan = try ExperimentPlan(spec: spec, options: options)
            // Each arm runs its own seeds (`arms.trials`) or the file's.
            let expected = spec.arms.reduce(0) { $0 + ($1.trials ?? spec.trials).count }
            guard plan.trials.count == expected else {
                throw FuzzInvariant("\(plan.trials.count) trials planned for \(spec.arms.count) arms with \(expected) runs between them")
            }
            // mixprep validates each trial's pipeline: an accepted experiment must not fail there, arms in.
            for trial in plan.trials {
                if let problem = trial.pipeline.problems().first {
                    throw FuzzInvariant("trial \(trial.name): mixprep would refuse its pipeline: \(problem)")
                }
            }
        }
        return steps.outcome
    }
}
