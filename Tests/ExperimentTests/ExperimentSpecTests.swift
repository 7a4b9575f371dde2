@testable import Experiment
import Foundation
import MixCore
import Mixup
import XCTest

/// Experiment files: the shipped ones, and errors that name the key.
final class ExperimentSpecTests: XCTestCase {
    typealias F = ExperimentFixtures

    func testShippedArticleFile() throws {
        let spec = try ExperimentSpec.load(F.packageRoot + "/pipelines/article.toml")
        XCTAssertEqual(spec.name, "article")
        XCTAssertEqual(spec.trials, [0, 1, 2])
        XCTAssertEqual(spec.epochs, 30)
        XCTAssertEqual(spec.base.train.epochs, 30)
        XCTAssertEqual(spec.base.shards.epochs, 30)
        XCTAssertEqual(spec.base.train.batch, 128)
        XCTAssertEqual(spec.base.train.lr, 1e-3)
        XCTAssertEqual(spec.base.train.widths, [32, 64, 128, 256])
        XCTAssertEqual(spec.base.dataset.trainLimit, 0)
        // Relative paths are normalised (pipelines/../../shared → the folder beside the package).
        XCTAssertEqual(spec.base.dataset.path, URL(fileURLWithPath: F.packageRoot).deletingLastPathComponent().path + "/shared/cifar10")
        XCTAssertEqual(spec.basePipelineFile, F.packageRoot + "/pipelines/cifar10-mixup.toml")
        XCTAssertEqual(spec.arms.map(\.name), ["baseline", "mixup"])
        XCTAssertEqual(spec.arms[0].mix.mode, .none)
        XCTAssertEqual(spec.arms[0].mix.p, 0)
        XCTAssertEqual(spec.arms[1].mix.mode, .sample)
        XCTAssertEqual(spec.arms[1].mix.p, 0.2)
        XCTAssertEqual(spec.arms[1].mix.alpha, 0.2)
        XCTAssertEqual(spec.baseline, "baseline")
        XCTAssertEqual(spec.arms.map(\.referenceAccuracy), [0.745, 0.765])
        XCTAssertEqual(spec.reference, "the article: mean of 3 trials")
        // --data and the output folder.
        let plan = try ExperimentPlan(spec: spec, options: ExperimentOptions(data: "/data/cifar-10-binary.tar.gz"))
        XCTAssertEqual(plan.outDirectory, "experiments/article")
        XCTAssertEqual(plan.trials.count, 6)
        XCTAssertEqual(plan.trials.map(\.name), ["baseline-seed0", "mixup-seed0", "baseline-seed1", "mixup-seed1",
                                                 "baseline-seed2", "mixup-seed2"])
        XCTAssertEqual(plan.trials[3].pipeline.seed, 1)
        XCTAssertEqual(plan.trials[3].pipeline.mix.p, 0.2)
        XCTAssertEqual(plan.trials[2].pipeline.mix.mode, .none)
        XCTAssertEqual(plan.trials[3].pipeline.dataset.path, "/data/cifar-10-binary.tar.gz")
        XCTAssertEqual(plan.trials[3].shardDirectory, "experiments/article/shards/mixup-seed1")
        XCTAssertEqual(plan.trials[3].runDirectory, "experiments/article/runs/mixup-seed1")
    }

    func testShippedMiniFile() throws {
        let spec = try ExperimentSpec.load(F.packageRoot + "/pipelines/article-mini.toml")
        XCTAssertEqual(spec.trials, [0, 1])
        XCTAssertEqual(spec.base.train.epochs, 1)
        XCTAssertNil(spec.basePipelineFile)
        XCTAssertEqual(spec.base.dataset.path, F.packageRoot + "/data/cifar10-mini")
        XCTAssertTrue(FileIO.exists(spec.base.dataset.path + "/test_batch.bin"))
        XCTAssertEqual(spec.arms.map(\.mixDescription), ["none", "sample, p 0.2, α 0.2"])
        let plan = try ExperimentPlan(spec: spec, options: ExperimentOptions(out: "/tmp/x", epochs: 2, trials: [5]))
        XCTAssertEqual(plan.trials.map(\.name), ["baseline-seed5", "mixup-seed5"])
        XCTAssertEqual(plan.trials[0].pipeline.train.epochs, 2)
        XCTAssertEqual(plan.trials[0].pipeline.shards.epochs, 2)
        XCTAssertEqual(plan.trials[0].finalCheckpoint, "/tmp/x/runs/baseline-seed5/checkpoint-002.ckpt")
    }

    /// Each bad file gives one line naming the file and the key.
    /// An arm may turn on issue 20's [augment] keys.
    func testArmsTakeThePolicyKeys() throws {
        let text = F.tinyExperimentText().replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nrandom_erasing = {p = 0.25, value = \"random\"}\ntrivial_augment = true")
        let spec = try ExperimentSpec.parse(text, file: "e.toml")
        let arm = try XCTUnwrap(spec.arms.first { $0.name == "mixup" })
        XCTAssertEqual(arm.augment.randomErasing, ErasingConfig(p: 0.25, random: true))
        XCTAssertEqual(arm.augment.trivialAugment, true)
        XCTAssertEqual(spec.arms.first { $0.name == "baseline" }?.augment.recordsOps, false)

        // The base pipeline sets every table-valued policy; an arm turns each off with `false`,
        // the other arm keeps them.
        let base = "[augment]\nrandom_resized_crop = {scale = [0.5, 1.0]}\ncolor_jitter = {brightness = 0.4}\n"
            + "rand_augment = {ops = 1}\nrandom_erasing = {p = 0.5}\n\n[train]"
        let off = F.tinyExperimentText().replacingOccurrences(of: "[train]", with: base)
            .replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nrandom_resized_crop = false\ncolor_jitter = false\n"
                                  + "rand_augment = false\nrandom_erasing = false")
        let both = try ExperimentSpec.parse(off, file: "e.toml")
        let plain = try XCTUnwrap(both.arms.first { $0.name == "mixup" }).augment
        XCTAssertNil(plain.randomResizedCrop)
        XCTAssertNil(plain.colorJitter)
        XCTAssertNil(plain.randAugment)
        XCTAssertNil(plain.randomErasing)
        XCTAssertFalse(plain.recordsOps)
        let kept = try XCTUnwrap(both.arms.first { $0.name == "baseline" }).augment
        XCTAssertEqual(kept.randomResizedCrop, ResizedCropConfig(scale: [0.5, 1.0]))
        XCTAssertEqual(kept.randAugment?.ops, 1)
        XCTAssertEqual(kept.randomErasing, ErasingConfig(p: 0.5))
        XCTAssertThrowsError(try ExperimentSpec.parse(off.replacingOccurrences(of: "random_erasing = false", with: "random_erasing = true"),
                                                      file: "e.toml")) {
            XCTAssertEqual("\($0)", "e.toml: arms.mixup.random_erasing must be a table ({…}) or false")
        }
    }

    func testErrorsNameTheKey() throws {
        let good = F.tinyExperimentText()
        let cases: [(String, String)] = [
            (good.replacingOccurrences(of: "trials = [0, 1]", with: "trails = [0, 1]"), "trials must be set"),
            ("trails = 3\n" + good, "unknown key trails"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpah = 0.2"), "unknown key arms.mixup.alpah"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = -1"), "arms.mixup.alpha must be from 0.001 to 1,000,000 (got -1.0)"),
            (good.replacingOccurrences(of: "p = 0.2", with: "p = 1.5"), "arms.mixup.p must be in [0, 1] (got 1.5)"),
            // Issue 22: an arm with α = 1e-320 trapped its prep (λ NaN); nan and inf are no numbers for any key.
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 1e-320"), "arms.mixup.alpha must be from 0.001 to 1,000,000 (got 1e-320)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = nan"), "arms.mixup.alpha must be a finite number (got nan)"),
            (good.replacingOccurrences(of: "p = 0.2", with: "p = -inf"), "arms.mixup.p must be a finite number (got -inf)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nsmoothing = inf"), "arms.mixup.smoothing must be a finite number (got inf)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nreference_accuracy = nan"),
             "arms.mixup.reference_accuracy must be a finite number (got nan)"),
            (good.replacingOccurrences(of: "[mix]", with: "[mix]\nalpha = 1e-320"), "mix.alpha must be from 0.001 to 1,000,000 (got 1e-320)"),
            (good.replacingOccurrences(of: "mode = \"none\"", with: "mode = \"nothing\""), "arms.baseline.mode must be one of sample, batch, cutmix, none (got \"nothing\")"),
            (good.replacingOccurrences(of: "p = 0.2", with: "p = \"high\""), "arms.mixup.p must be a number"),
            (good.replacingOccurrences(of: "trials = [0, 1]", with: "trials = 3"), "trials must be an array of integers"),
            (good.replacingOccurrences(of: "trials = [0, 1]", with: "trials = [0, 0]"), "trials lists seed 0 twice"),
            (good.replacingOccurrences(of: "trials = [0, 1]", with: "trials = [-1]"), "trials must be seeds ≥ 0 (got -1)"),
            (good.replacingOccurrences(of: "trials = [0, 1]", with: "trials = []"), "trials must list at least one seed"),
            (good.replacingOccurrences(of: "epochs = 1", with: "epochs = 0"), "epochs must be from 1 to 100,000 (got 0)"),
            (good.replacingOccurrences(of: "name = \"mixup\"", with: "name = \"baseline\""), "arms[2].name \"baseline\" is used twice"),
            (good.replacingOccurrences(of: "name = \"mixup\"", with: "name = \"a/b\""), "arms[2].name must be letters, digits"),
            (good.replacingOccurrences(of: "name = \"mixup\"\n", with: ""), "arms[2].name must be set"),
            (good.replacingOccurrences(of: "[[arms]]", with: "[[armz]]"), "no arms"),
            (good.replacingOccurrences(of: "[mix]", with: "[mix]\nfoo = 1"), "unknown key mix.foo"),
            // Issue 20's [augment] keys in an arm, checked as in a pipeline.
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nrandom_erasing = {p = 2}"),
             "arms.mixup.random_erasing.p must be a number from 0 to 1 (got 2)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nrand_augment = {ops = 9}"),
             "arms.mixup.rand_augment.ops must be from 1 to 4 (got 9)"),
            (good.replacingOccurrences(of: "hidden = 32", with: "hidden = 0"), "train.hidden must be from 1 to 8,192 (got 0)"),
            ("pipeline = \"cifar10-mixup.toml\"\n" + good, "give either pipeline = \"…\" or inline sections, not both (found [dataset])"),
            ("name = \"x\"\npipeline = \"missing.toml\"\ntrials = [0]\n[[arms]]\nname = \"a\"\n", "pipeline: no such file"),
            ("seed = 3\n" + good, "seed is not an experiment key"),
            ("baseline = \"control\"\n" + good, "baseline names no arm (got \"control\"; arms: baseline, mixup)"),
            ("epochs = 2\n" + good, "line "),
            ("arms = 3\n" + F.tinyExperimentText(arms: ""), "arms must be an array of tables ([[arms]])"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nreference_accuracy = 120"),
             "arms.mixup.reference_accuracy must be a percentage in [0, 100] (got 120.0)"),
            ("reference = \"the paper\"\n" + good, "reference is set but no arm has a reference_accuracy"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\ncompare_with = \"control\""),
             "arms.mixup.compare_with must name another arm (got \"control\"; arms: baseline, mixup)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\ncompare_with = \"mixup\""),
             "arms.mixup.compare_with must name another arm (got \"mixup\""),
            // An arm's recipe keys and materialised epochs (issue 20).
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nlr_schedule = \"linear\""),
             "arms.mixup.lr_schedule must be one of constant, cosine, step (got \"linear\")"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nweight_decay = -1"), "arms.mixup.weight_decay must be ≥ 0 (got -1.0)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nwarmup_epochs = 1"),
             "arms.mixup.warmup_epochs must be from 0 to 0, fewer than train.epochs (got 1)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nema = 1"), "arms.mixup.ema must be in [0, 1), 0 = off (got 1.0)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nlr = 0"), "arms.mixup.lr must be > 0 (got 0.0)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\nshards_epochs = 2"),
             "arms.mixup.shards_epochs must be from 1 to 1, at most the epochs trained (got 2)"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\ntrials = [2, 2]"), "arms.mixup.trials lists seed 2 twice"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\ntrials = []"), "arms.mixup.trials must list at least one seed"),
            (good.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\ntrials = [-3]"), "arms.mixup.trials must be seeds ≥ 0 (got -3)"),
        ]
        for (text, expected) in cases {
            let file = try F.writeFile(text, name: "bad.toml")
            XCTAssertThrowsError(try ExperimentSpec.load(file), expected) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(file + ": "), message)
                XCTAssertTrue(message.contains(expected), "expected “\(expected)” in: \(message)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }

    /// A 54 KB file of 1,000 arms × 3,000 trials made `ExperimentPlan` allocate 1.5 GB at
    /// once and trap (found reviewing what the `experiment` fuzz target reaches): arms ×
    /// trials is bounded in the file and with --trials, before anything is allocated per run.
    func testRunsAreBounded() throws {
        func text(arms: Int, trials: Int) -> String {
            F.tinyExperimentText(trials: "[" + (0..<trials).map(String.init).joined(separator: ", ") + "]",
                                 arms: (0..<arms).map { "[[arms]]\nname = \"a\($0)\"\nmode = \"none\"\n" }.joined())
        }
        let file = try F.writeFile(text(arms: 1000, trials: 3000))
        XCTAssertGreaterThan(FileIO.fileSize(file) ?? 0, 50_000)
        XCTAssertThrowsError(try ExperimentSpec.load(file)) {
            XCTAssertEqual("\($0)", "\(file): arms × trials must be at most 10,000 runs (got 1000 arms × 3000 trials)")
        }
        let many = try F.writeFile(text(arms: 20_000, trials: 1))
        XCTAssertThrowsError(try ExperimentSpec.load(many)) {
            XCTAssertEqual("\($0)", "\(many): arms × trials must be at most 10,000 runs (got 20000 arms × 1 trial)")
        }
        // At the bound: accepted and planned.
        let spec = try ExperimentSpec.load(try F.writeFile(text(arms: 100, trials: 100)))
        XCTAssertEqual(try ExperimentPlan(spec: spec, options: ExperimentOptions()).trials.count, ExperimentSpec.maxRuns)
        XCTAssertThrowsError(try ExperimentPlan(spec: spec, options: ExperimentOptions(trials: (0..<101).map(UInt64.init)))) {
            XCTAssertEqual("\($0)", "\(spec.file): arms × trials must be at most 10,000 runs (got 100 arms × 101 trials from --trials)")
        }
    }

    func testCommandLineOverridesAreChecked() throws {
        let spec = try ExperimentSpec.load(try F.writeFile(F.tinyExperimentText()))
        XCTAssertThrowsError(try ExperimentPlan(spec: spec, options: ExperimentOptions(epochs: 0))) {
            XCTAssertEqual("\($0)", "--epochs must be from 1 to 100,000 (got 0)")
        }
        XCTAssertThrowsError(try ExperimentPlan(spec: spec, options: ExperimentOptions(trials: [1, 1]))) {
            XCTAssertTrue("\($0)".hasPrefix("--trials lists a seed twice"))
        }
        XCTAssertThrowsError(try ExperimentPlan(spec: spec, options: ExperimentOptions(threads: 0)))
        // Inline sections without a dataset path need data or --data.
        let noPath = F.tinyExperimentText().replacingOccurrences(of: "path = \"\(F.miniCIFAR)\"\n", with: "")
        let file = try F.writeFile(noPath)
        let s = try ExperimentSpec.load(file)
        XCTAssertThrowsError(try ExperimentPlan(spec: s, options: ExperimentOptions())) {
            XCTAssertEqual("\($0)", "\(file): dataset.path must be set (in the pipeline, as data = \"…\", or with --data)")
        }
        XCTAssertEqual(try ExperimentPlan(spec: s, options: ExperimentOptions(data: F.miniCIFAR)).trials[0].pipeline.dataset.path,
                       F.miniCIFAR)
    }

    /// Item 4's question: the same policy and recipe with 30, 10 and 5 materialised epochs;
    /// training is 30 epochs in every arm and cycles through what was written.
    func testShippedMaterialisedEpochsFile() throws {
        let spec = try ExperimentSpec.load(F.packageRoot + "/pipelines/materialised-epochs.toml")
        XCTAssertEqual(spec.baseline, "epochs-30")
        let plan = try ExperimentPlan(spec: spec, options: ExperimentOptions(data: "/data"))
        // Seed by seed: every arm's seed 0 runs before any seed 1.
        XCTAssertEqual(plan.trials.map(\.name), ["epochs-30-seed0", "epochs-10-seed0", "epochs-5-seed0", "epochs-30-seed1"])
        let byName = Dictionary(uniqueKeysWithValues: plan.trials.filter { $0.seed == 0 }.map { ($0.arm.name, $0.pipeline) })
        XCTAssertEqual(byName.mapValues(\.shards.epochs), ["epochs-30": 30, "epochs-10": 10, "epochs-5": 5])
        let thirty = try XCTUnwrap(byName["epochs-30"])
        XCTAssertEqual(thirty.train.lrSchedule, "cosine")
        XCTAssertEqual(thirty.train.warmupEpochs, 1)
        XCTAssertEqual(thirty.mix.mode, .cutmix)
        XCTAssertEqual(thirty.augment.cropPad, 4)
        // --arms: those arms and the baseline, seeds as the file gives them.
        let five = try ExperimentPlan(spec: spec, options: ExperimentOptions(data: "/data", arms: ["epochs-5"]))
        XCTAssertEqual(five.spec.arms.map(\.name), ["epochs-30", "epochs-5"])
        XCTAssertEqual(five.trials.map(\.name), ["epochs-30-seed0", "epochs-5-seed0", "epochs-30-seed1"])
        XCTAssertThrowsError(try ExperimentPlan(spec: spec, options: ExperimentOptions(data: "/data", arms: ["epochs-6"]))) {
            XCTAssertEqual("\($0)", "--arms: \(spec.file) has no arm \"epochs-6\" (its arms: epochs-30, epochs-10, epochs-5)")
        }
        // The same policy as policy-search's best arm, cutmix-cosine.
        let search = try ExperimentPlan(spec: try ExperimentSpec.load(F.packageRoot + "/pipelines/policy-search.toml"),
                                        options: ExperimentOptions(data: "/data"))
        let best = try XCTUnwrap(search.trials.first { $0.arm.name == "cutmix-cosine" }).pipeline
        for arm in byName.values {
            XCTAssertEqual(arm.train, best.train)
            XCTAssertEqual(arm.mix, best.mix)
            XCTAssertEqual(arm.augment, best.augment)
        }
    }

    /// The policy search screens every arm once and gives chosen arms more seeds; arms
    /// set their own recipe and materialised epochs, the rest keep the base pipeline's.
    func testShippedPolicySearchFile() throws {
        let spec = try ExperimentSpec.load(F.packageRoot + "/pipelines/policy-search.toml")
        XCTAssertEqual(spec.baseline, "crop-flip-cutmix")
        XCTAssertEqual(spec.arms[0].name, "crop-flip-cutmix")
        XCTAssertTrue(spec.arms[0].train.isEmpty)
        let plan = try ExperimentPlan(spec: spec, options: ExperimentOptions(data: "/data"))
        let byName = Dictionary(uniqueKeysWithValues: plan.trials.filter { $0.seed == 0 }.map { ($0.arm.name, $0.pipeline) })
        XCTAssertEqual(byName.count, spec.arms.count)
        XCTAssertEqual(byName["crop-flip-cutmix"]?.train, spec.base.train)
        XCTAssertEqual(byName["crop-flip-cutmix"]?.shards.epochs, 30)
        let wd = try XCTUnwrap(byName["cutmix-cosine-wd"])
        XCTAssertEqual(wd.train.lrSchedule, "cosine")
        XCTAssertEqual(wd.train.warmupEpochs, 1)
        XCTAssertEqual(wd.train.weightDecay, 0.05)
        XCTAssertEqual(wd.train.lr, 1e-3)
        XCTAssertEqual(wd.train.epochs, 30)
        XCTAssertEqual(wd.shards.epochs, 30)
        let cosine = try XCTUnwrap(byName["cutmix-cosine"])
        let five = try XCTUnwrap(byName["cutmix-cosine-e5"])
        XCTAssertEqual(five.train, cosine.train)
        XCTAssertEqual(five.shards.epochs, 5)
        XCTAssertEqual(five.mix, cosine.mix)
        XCTAssertEqual(five.augment, cosine.augment)
        XCTAssertEqual(byName["cutmix-cosine-ta"]?.augment.trivialAugment, true)
        XCTAssertNotNil(byName["cutmix-cosine-ra"]?.augment.randAugment)
        XCTAssertEqual(byName["cutmix-cosine-re"]?.augment.randomErasing?.p, 0.25)
        // The mixing arms change only the mixing: CutMix on every sample, or mixup in its place.
        let p1 = try XCTUnwrap(byName["cutmix-cosine-p1"]), mixup = try XCTUnwrap(byName["mixup-cosine"])
        XCTAssertEqual([p1.mix.mode, mixup.mix.mode], [.cutmix, .sample])
        XCTAssertEqual([p1.mix.p, mixup.mix.p], [1.0, 0.5])
        XCTAssertEqual([p1.mix.alpha, mixup.mix.alpha], [cosine.mix.alpha, cosine.mix.alpha])
        for arm in [p1, mixup] {
            XCTAssertEqual(arm.train, cosine.train)
            XCTAssertEqual(arm.augment, cosine.augment)
        }
        // The screens' best two run three seeds; the others one.
        XCTAssertEqual(plan.trials(of: "cutmix-cosine").map(\.seed), [0, 1, 2])
        XCTAssertEqual(plan.trials(of: "cutmix-cosine-wd").map(\.seed), [0, 1, 2])
        XCTAssertEqual(plan.trials(of: "cutmix-cosine-ta").map(\.seed), [0])
    }

    /// `arms.trials` adds seeds to one arm (the file's seeds run first, then the added ones,
    /// every arm of a seed together); --trials runs every arm with its seeds; --epochs below an
    /// arm's `shards_epochs` materialises only what is trained.
    func testArmTrialsRecipeAndMaterialisedEpochs() throws {
        let text = F.tinyExperimentText(epochs: 4)
            .replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.2\ntrials = [1, 2]\nshards_epochs = 2\nlr_schedule = \"cosine\"\nweight_decay = 0.01")
        let spec = try ExperimentSpec.load(try F.writeFile(text))
        XCTAssertEqual(spec.arms[1].trials, [1, 2])
        let plan = try ExperimentPlan(spec: spec, options: ExperimentOptions())
        XCTAssertEqual(plan.seeds, [0, 1, 2])
        XCTAssertEqual(plan.trials.map(\.name), ["baseline-seed0", "baseline-seed1", "mixup-seed1", "mixup-seed2"])
        XCTAssertEqual(plan.trials.map(\.pipeline.shards.epochs), [4, 4, 2, 2])
        XCTAssertEqual(plan.trials.map(\.pipeline.train.lrSchedule), ["constant", "constant", "cosine", "cosine"])
        XCTAssertEqual(plan.trials.map(\.pipeline.train.weightDecay), [0, 0, 0.01, 0.01])
        XCTAssertEqual(plan.trials(of: "mixup").map(\.seed), [1, 2])
        let all = try ExperimentPlan(spec: spec, options: ExperimentOptions(epochs: 1, trials: [7]))
        XCTAssertEqual(all.trials.map(\.name), ["baseline-seed7", "mixup-seed7"])
        XCTAssertEqual(all.trials.map(\.pipeline.shards.epochs), [1, 1])
        XCTAssertEqual(all.trials.map(\.pipeline.train.epochs), [1, 1])
        // The arm round-trips through JSON with its new keys; an arm without them encodes as before.
        let data = try JSONEncoder().encode(spec.arms[1])
        XCTAssertEqual(try JSONDecoder().decode(ExperimentArm.self, from: data), spec.arms[1])
        let plain = String(decoding: try JSONEncoder().encode(spec.arms[0]), as: UTF8.self)
        XCTAssertFalse(plain.contains("train") || plain.contains("trials") || plain.contains("shardsEpochs"), plain)
    }

    func testShippedAblationFile() throws {
        let spec = try ExperimentSpec.load(F.packageRoot + "/pipelines/augment-ablation.toml")
        XCTAssertEqual(spec.arms.map(\.name), ["none", "mixup", "crop-flip", "crop-flip-mixup", "crop-flip-cutmix"])
        XCTAssertEqual(spec.arms.map(\.mixDescription), [
            "none", "sample, p 0.2, α 0.2", "crop (pad 4) + flip", "crop (pad 4) + flip, then sample, p 0.2, α 0.2",
            "crop (pad 4) + flip, then cutmix, p 0.5, α 1",
        ])
        XCTAssertEqual(spec.baseline, "none")
        XCTAssertEqual(spec.arms.map(\.compareWith), [nil, nil, nil, "crop-flip", "crop-flip"])
        XCTAssertEqual(spec.trials, [0, 1, 2])
        XCTAssertEqual(spec.epochs, 30)
    }

    /// Three arms or more: the best arm against the runner-up leads, then every arm against
    /// the baseline, then the `compare_with` pairs, each with its own interval and wording.
    func testLeaderAndComparePairs() {
        func arm(_ name: String, _ v: [Double]) -> ArmSummary {
            ArmSummary(name: name, mix: .init(), mixing: "", finalTestAccuracy: TrialStatistic(v), bestTestAccuracy: TrialStatistic(v),
                       finalTestLoss: TrialStatistic(v), confusion: [], perClassAccuracy: [], seconds: TimeSplit())
        }
        let arms = [arm("none", [0.70, 0.72, 0.74]), arm("a", [0.80, 0.81, 0.82]), arm("b", [0.83, 0.84, 0.85]),
                    arm("c", [0.60, 0.61, 0.62]), arm("d", [0.80, 0.81, 0.82])]
        let comparisons = ExperimentSummary.comparisons(arms: arms, baseline: "none", compareWith: ["b": "a", "c": "none"], runs: [])
        XCTAssertEqual(comparisons.map { "\($0.arm)-\($0.baseline)" }, ["a-none", "b-none", "c-none", "d-none", "b-a"])
        XCTAssertEqual(comparisons[4].difference, 0.03, accuracy: 1e-12)
        // Ties keep file order: a before d.
        XCTAssertEqual(ExperimentSummary.ranking(arms).map(\.name), ["b", "a", "d", "none", "c"])
        let leader = ExperimentSummary.leader(arms: arms, runs: [])!
        XCTAssertEqual([leader.arm, leader.baseline], ["b", "a"])
        XCTAssertNil(ExperimentSummary.leader(arms: Array(arms.prefix(2)), runs: []))

        let s = ExperimentSummary(experiment: "x", file: "x.toml", baseline: "none", epochs: 30, seeds: [0, 1, 2], source: "", sourceFingerprint: "",
                                  trainSamples: 0, testSamples: 0, classNames: [], batch: 128, learningRate: 1e-3, widths: [], hidden: 0,
                                  arms: arms, comparisons: comparisons, leader: leader, runs: [], seconds: TimeSplit())
        let lines = ExperimentReport.headline(s)
        XCTAssertEqual(lines.count, 6)
        // t(2) = 4.303: 84 ± 4.303 · 1 / √3 = 84 ± 2.48.
        XCTAssertEqual(lines[0], "Best: b, 84.00 ± 1.00 % final test accuracy (3 trials each, 30 epochs; 95% interval of its mean 81.52 to 86.48 %); "
                       + "ahead of the runner-up, a (81.00 ± 1.00 %), by +3.00 points")
        XCTAssertEqual(lines[5], "b: 84.00 ± 1.00 % vs a 81.00 ± 1.00 % final test accuracy (3 trials each, 30 epochs): +3.00 points")
        XCTAssertTrue(ExperimentReport.verdict(leader, .wins).hasSuffix("above zero: **b wins**."))
        XCTAssertTrue(ExperimentReport.verdict(comparisons[4], .beats).hasSuffix("above zero: **b beats a**."))
        XCTAssertTrue(ExperimentReport.verdict(comparisons[2], .helps).hasSuffix("below zero: **c hurts** in this setting."))
        XCTAssertTrue(ExperimentReport.verdict(Comparison(arm: arms[3], baseline: arms[1], runs: []), .beats)
            .hasSuffix("below zero: **a beats c**."))
        XCTAssertTrue(ExperimentReport.verdict(Comparison(arm: arms[1], baseline: arms[4], runs: []), .beats)
            .hasSuffix("it includes zero: the difference is within the trial-to-trial spread; more trials would tell."))
    }

    /// At 1,000 classes the confusion figure is a heat map of 1 pixel a cell, not 34-pixel
    /// labelled cells (a 34,000-pixel square per arm); at 10 classes cells keep their counts.
    func testConfusionFigureStaysSmallAtManyClasses() {
        func summary(classes k: Int) -> ExperimentSummary {
            var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
            for i in 0..<k { confusion[i][i] = 3; confusion[i][(i + 1) % k] = 1 }
            let v = TrialStatistic([0.75])
            let arm = ArmSummary(name: "a", mix: .init(), mixing: "", finalTestAccuracy: v, bestTestAccuracy: v, finalTestLoss: v,
                                 confusion: confusion, perClassAccuracy: [Double](repeating: 0.75, count: k), seconds: TimeSplit())
            return ExperimentSummary(experiment: "x", file: "x.toml", baseline: "a", epochs: 1, seeds: [0], source: "", sourceFingerprint: "",
                                     trainSamples: 0, testSamples: 4 * k, classNames: (0..<k).map { "c\($0)" }, batch: 128,
                                     learningRate: 1e-3, widths: [], hidden: 0, arms: [arm], comparisons: [], leader: nil,
                                     runs: [], seconds: TimeSplit())
        }
        let big = ExperimentFigures.confusionImage(summary(classes: 1000))
        XCTAssertEqual(big.width, 16 * 2 + 1000)
        XCTAssertLessThan(big.height, 1200)
        let small = ExperimentFigures.confusionImage(summary(classes: 10))
        XCTAssertGreaterThanOrEqual(small.width, 16 * 2 + 10 * 34)
    }

    func testStatistics() {
        let s = TrialStatistic([0.70, 0.72, 0.74])
        XCTAssertEqual(s.mean, 0.72, accuracy: 1e-12)
        XCTAssertEqual(s.std!, 0.02, accuracy: 1e-12)
        XCTAssertEqual(s.min, 0.70)
        XCTAssertEqual(s.max, 0.74)
        XCTAssertNil(TrialStatistic([0.5]).std)
        XCTAssertEqual(studentT975(4), 2.776, accuracy: 1e-9)
        XCTAssertEqual(studentT975(30), 2.042, accuracy: 1e-9)
        XCTAssertEqual(studentT975(1e9), 1.960, accuracy: 1e-6)
        XCTAssertGreaterThan(studentT975(3.5), studentT975(4))
        XCTAssertLessThan(studentT975(3.5), studentT975(3))

        // Welch: equal spreads and counts give df = 2(n − 1).
        func arm(_ name: String, _ v: [Double]) -> ArmSummary {
            ArmSummary(name: name, mix: .init(), mixing: "", finalTestAccuracy: TrialStatistic(v), bestTestAccuracy: TrialStatistic(v),
                       finalTestLoss: TrialStatistic(v), confusion: [], perClassAccuracy: [], seconds: TimeSplit())
        }
        let c = Comparison(arm: arm("mixup", [0.76, 0.78, 0.80]), baseline: arm("baseline", [0.70, 0.72, 0.74]), runs: [])
        XCTAssertEqual(c.difference, 0.06, accuracy: 1e-12)
        let se = (2 * 0.02 * 0.02 / 3).squareRoot()
        XCTAssertEqual(c.standardError!, se, accuracy: 1e-12)
        XCTAssertEqual(c.degreesOfFreedom!, 4, accuracy: 1e-9)
        XCTAssertEqual(c.ci95Low!, 0.06 - 2.776 * se, accuracy: 1e-9)
        XCTAssertEqual(c.ci95High!, 0.06 + 2.776 * se, accuracy: 1e-9)
        XCTAssertTrue(ExperimentReport.verdict(c).contains("above zero: **mixup helps**"))
        let single = Comparison(arm: arm("mixup", [0.8]), baseline: arm("baseline", [0.7]), runs: [])
        XCTAssertNil(single.standardError)
        XCTAssertTrue(ExperimentReport.verdict(single).hasPrefix("One trial per arm"))
        XCTAssertTrue(ExperimentReport.verdict(single, arm: TrialStatistic([0.8]), baseline: TrialStatistic([0.7])).hasPrefix("One trial per arm"))
        // One trial against three: judged against where another trial of the three-trial arm would fall,
        // 0.72 ± t(2) · 0.02 · √(4/3) = 0.72 ± 0.09937.
        let one = arm("e5", [0.80]), three = arm("e30", [0.70, 0.72, 0.74])
        let inside = Comparison(arm: one, baseline: three, runs: [])
        XCTAssertNil(inside.standardError)
        XCTAssertEqual(ExperimentReport.verdict(inside, arm: one.finalTestAccuracy, baseline: three.finalTestAccuracy),
                       "e5 has one trial, e30 3: its 80.00 % lies inside the 95% range of another e30 trial, 62.06 to 81.94 % "
                       + "(Student t prediction interval) — within the trial-to-trial spread.")
        let far = arm("e5", [0.83]), reversed = Comparison(arm: three, baseline: far, runs: [])
        XCTAssertEqual(ExperimentReport.verdict(reversed, arm: three.finalTestAccuracy, baseline: far.finalTestAccuracy),
                       "e5 has one trial, e30 3: its 83.00 % lies above the 95% range of another e30 trial, 62.06 to 81.94 % "
                       + "(Student t prediction interval) — outside the trial-to-trial spread; more trials of e5 would say by how much.")
        let flat = arm("e30", [0.72, 0.72])
        XCTAssertTrue(ExperimentReport.verdict(Comparison(arm: one, baseline: flat, runs: []), arm: one.finalTestAccuracy,
                                               baseline: flat.finalTestAccuracy)
            .hasPrefix("e5 has one trial, e30 2: every trial of e30 scored 72.00 %"))
        XCTAssertEqual(ExperimentReport.duration(42.04), "42.0 s")
        XCTAssertEqual(ExperimentReport.duration(245), "4 min 05 s")
        XCTAssertEqual(ExperimentReport.duration(7380), "2 h 03 min")
        XCTAssertEqual(ExperimentReport.grouped(50000), "50,000")
    }
}
