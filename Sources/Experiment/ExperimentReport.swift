import Foundation
import ImageCodecs
import Imaging
import MixCore
import Training

/// The experiment folder's report: `report.md`, `summary.json`,
/// `accuracy.svg` and `confusion.png`, all pure functions of the runs'
/// records (no timestamps), so a rerun reproduces them byte for byte.
public enum ExperimentReport {
    /// The answer: with three arms or more, first the best arm against the
    /// runner-up; then one line per comparison (each arm against the baseline,
    /// then the `compare_with` pairs), e.g.
    /// `mixup: 76.10 ± 0.30 % vs baseline 74.40 ± 0.40 % final test accuracy (3 trials each, 30 epochs): +1.70 points`.
    public static func headline(_ s: ExperimentSummary) -> [String] { answers(s).map(\.line) }

    /// `headline`'s lines, each with the comparison it states and how its verdict words
    /// the outcome (none for a lone arm's line).
    static func answers(_ s: ExperimentSummary) -> [(line: String, comparison: Comparison?, wording: Wording)] {
        let epochs = "\(s.epochs) epoch\(s.epochs == 1 ? "" : "s")"
        guard let base = s.arms.first(where: { $0.name == s.baseline }) else { return [] }
        if s.comparisons.isEmpty {
            let n = base.finalTestAccuracy.n
            return [("\(base.name): \(meanStd(base.finalTestAccuracy)) final test accuracy (\(n) trial\(n == 1 ? "" : "s"), \(epochs))", nil, .helps)]
        }
        func trials(_ a: ArmSummary, _ b: ArmSummary) -> String {
            let (na, nb) = (a.finalTestAccuracy.n, b.finalTestAccuracy.n)
            return na == nb ? "\(na) trial\(na == 1 ? "" : "s") each" : "\(na) and \(nb) trials"
        }
        var out: [(line: String, comparison: Comparison?, wording: Wording)] = []
        if let l = s.leader, let best = s.arms.first(where: { $0.name == l.arm }), let next = s.arms.first(where: { $0.name == l.baseline }) {
            out.append(("Best: \(best.name), \(meanStd(best.finalTestAccuracy)) final test accuracy (\(trials(best, next)), \(epochs)"
                + (meanInterval(best.finalTestAccuracy).map { "; 95% interval of its mean \($0)" } ?? "") + "); "
                + "ahead of the runner-up, \(next.name) (\(meanStd(next.finalTestAccuracy))), by \(points(l.difference)) points", l, .wins))
        }
        for c in s.comparisons {
            let arm = s.arms.first { $0.name == c.arm }!
            let other = s.arms.first { $0.name == c.baseline }!
            out.append(("\(arm.name): \(meanStd(arm.finalTestAccuracy)) vs \(other.name) \(meanStd(other.finalTestAccuracy)) "
                + "final test accuracy (\(trials(arm, other)), \(epochs)): \(points(c.difference)) points",
                c, c.baseline == s.baseline ? .helps : .beats))
        }
        return out
    }

    /// The reference accuracies next to this experiment's, e.g. `Reference (the article): baseline
    /// 74.50 %, mixup 76.50 % — mixup +2.00 points; here: mixup +1.80 points.`
    static func referenceLine(_ s: ExperimentSummary) -> String {
        let given = s.arms.filter { $0.referenceAccuracy != nil }
        var line = "Reference (\(s.reference ?? "reference_accuracy in the experiment file")): "
            + given.map { "\($0.name) \(pct($0.referenceAccuracy!)) %" }.joined(separator: ", ")
        if let base = s.arms.first(where: { $0.name == s.baseline }), let b = base.referenceAccuracy {
            let compared = s.comparisons.filter { $0.baseline == s.baseline }.compactMap { c -> (String, Double, Double)? in
                guard let r = s.arms.first(where: { $0.name == c.arm })?.referenceAccuracy else { return nil }
                return (c.arm, r - b, c.difference)
            }
            if !compared.isEmpty {
                line += " — " + compared.map { "\($0.0) \(points($0.1)) points" }.joined(separator: ", ")
                    + "; here: " + compared.map { "\($0.0) \(points($0.2)) points" }.joined(separator: ", ")
            }
        }
        return line + ".\n"
    }

    /// How a verdict names the outcome: an arm against the baseline "helps" or
    /// "hurts"; against another arm (a `compare_with` pair) it "beats" it or
    /// not; the best arm against the runner-up "wins".
    enum Wording { case helps, beats, wins }

    /// What the interval says, in words. `arm` and `baseline` are the two arms' final test
    /// accuracies: when only one of them has several trials, the other's single trial is judged
    /// against the range another trial of it would fall in.
    static func verdict(_ c: Comparison, _ wording: Wording = .helps,
                        arm: TrialStatistic? = nil, baseline: TrialStatistic? = nil) -> String {
        guard let se = c.standardError else {
            if let a = arm, let b = baseline, (a.n == 1) != (b.n == 1) {
                return singleTrialVerdict(one: a.n == 1 ? (c.arm, a) : (c.baseline, b), many: a.n == 1 ? (c.baseline, b) : (c.arm, a))
            }
            return "One trial per arm: there is no trial-to-trial spread to judge the difference against; run more trials (`trials = [0, 1, 2]`)."
        }
        guard let lo = c.ci95Low, let hi = c.ci95High, let df = c.degreesOfFreedom else {
            return "Every trial of both arms scored the same (standard error \(pp(se)) points)."
        }
        let interval = "95% confidence interval of \(c.arm) − \(c.baseline): \(points(lo)) to \(points(hi)) points "
            + "(Welch t, \(String(format: "%.1f", df)) degrees of freedom)"
        if lo > 0 {
            switch wording {
            case .helps: return interval + " — above zero: **\(c.arm) helps** in this setting."
            case .beats: return interval + " — above zero: **\(c.arm) beats \(c.baseline)**."
            case .wins: return interval + " — above zero: **\(c.arm) wins**."
            }
        }
        if hi < 0 {
            return interval + (wording == .helps ? " — below zero: **\(c.arm) hurts** in this setting." : " — below zero: **\(c.baseline) beats \(c.arm)**.")
        }
        return interval + " — it includes zero: the difference is within the trial-to-trial spread; more trials would tell."
    }

    /// One arm's single trial against another arm's several: inside or outside the 95% range in
    /// which one more trial of the latter would fall (Student t prediction interval,
    /// mean ± t(n − 1) · sd · √(1 + 1/n)), e.g. `e5 has one trial, e30 3: its 84.70 % lies inside
    /// the 95% range of another e30 trial, 84.21 to 85.35 % — within the trial-to-trial spread.`
    static func singleTrialVerdict(one: (name: String, stat: TrialStatistic), many: (name: String, stat: TrialStatistic)) -> String {
        let x = one.stat.mean, m = many.stat
        let head = "\(one.name) has one trial, \(many.name) \(m.n): "
        guard let sd = m.std, sd > 0 else {
            return head + "every trial of \(many.name) scored \(pct(m.mean)) %, so there is no spread to judge \(one.name)'s \(pct(x)) % against; run more trials."
        }
        let half = studentT975(Double(m.n - 1)) * sd * (1 + 1 / Double(m.n)).squareRoot()
        let (lo, hi) = (m.mean - half, m.mean + half)
        let range = "the 95% range of another \(many.name) trial, \(pct(lo)) to \(pct(hi)) % (Student t prediction interval)"
        if x < lo || x > hi {
            return head + "its \(pct(x)) % lies \(x > hi ? "above" : "below") \(range) — outside the trial-to-trial spread; "
                + "more trials of \(one.name) would say by how much."
        }
        return head + "its \(pct(x)) % lies inside \(range) — within the trial-to-trial spread."
    }

    /// The files, by name relative to the experiment folder.
    static func files(summary s: ExperimentSummary, plan: ExperimentPlan,
                      contactSheets: [(arm: String, path: String)]) throws -> [(String, [UInt8])] {
        let png = try PNG.encode(ExperimentFigures.confusionImage(s))
        return [
            ("summary.json", try s.encoded()),
            ("accuracy.svg", Array(ExperimentFigures.curvesSVG(s).utf8)),
            ("confusion.png", png),
            ("report.md", Array(markdown(s, plan: plan, contactSheets: contactSheets).utf8)),
        ]
    }

    /// `report.md`: the answer first, then trials, curves, confusion, samples, time, settings.
    static func markdown(_ s: ExperimentSummary, plan: ExperimentPlan, contactSheets: [(arm: String, path: String)]) -> String {
        let mixing = s.arms.filter { $0.name != s.baseline }.map(\.name)
        let question = mixing.count == 1 ? "Does \(mixing[0]) help, and by how much?"
            : s.leader != nil ? "Which arm wins, and by how much?" : "Which arm helps, and by how much?"
        var md = "# \(question)\n\nExperiment `\(s.experiment)` (`\(s.file)`).\n\n"
        for answer in answers(s) {
            md += "**\(answer.line).**"
            if let c = answer.comparison {
                md += " " + verdict(c, answer.wording, arm: s.arms.first { $0.name == c.arm }?.finalTestAccuracy,
                                    baseline: s.arms.first { $0.name == c.baseline }?.finalTestAccuracy)
                if !c.perSeed.isEmpty {
                    md += " Per seed (same initialisation and sample order; only the arms' augmentation and mixing differ): "
                    md += c.perSeed.map { "\(points($0.difference)) (seed \($0.seed))" }.joined(separator: ", ") + "."
                }
            }
            md += "\n\n"
        }
        if s.leader != nil {
            md += "Ranking by mean final test accuracy: " + ExperimentSummary.ranking(s.arms).enumerated()
                .map { "\($0.offset + 1). \($0.element.name) \(pct($0.element.finalTestAccuracy.mean)) %" }.joined(separator: ", ") + ".\n\n"
        }
        let hasReference = s.arms.contains { $0.referenceAccuracy != nil }
        // The recipe and the materialised epochs get columns when the arms differ in them;
        // the disk a run's shards take, whenever it is known.
        let recipes = Set(s.arms.map { $0.training ?? "" }), materialised = Set(s.arms.map { $0.materialisedEpochs ?? s.epochs })
        let hasTraining = recipes.count > 1, hasMaterialised = materialised.count > 1
        let hasDisk = s.arms.contains { $0.shardBytes != nil }
        md += "| arm | mixing |" + (hasTraining ? " training |" : "") + " trials | final test accuracy | best test accuracy | final test loss | vs \(s.baseline) |"
            + (hasMaterialised ? " epochs materialised |" : "") + (hasDisk ? " disk per run |" : "")
            + (hasReference ? " reference |\n" : "\n")
        md += "|---|---|" + (hasTraining ? "---|" : "") + "---:|---:|---:|---:|---:|" + (hasMaterialised ? "---:|" : "")
            + (hasDisk ? "---:|" : "") + (hasReference ? "---:|\n" : "\n")
        for a in s.arms {
            let diff = s.comparisons.first { $0.arm == a.name }.map { "\(points($0.difference)) points" } ?? "—"
            md += "| \(a.name) | \(a.mixing) |" + (hasTraining ? " \(a.training ?? "—") |" : "")
                + " \(a.finalTestAccuracy.n) | \(meanStd(a.finalTestAccuracy)) | \(meanStd(a.bestTestAccuracy)) | "
                + "\(meanStd(a.finalTestLoss, percent: false)) | \(diff) |"
                + (hasMaterialised ? " \(a.materialisedEpochs.map(String.init) ?? "—") |" : "")
                + (hasDisk ? " \(a.shardBytes.map { ByteSize.describe(Int($0.mean)) } ?? "—") |" : "")
                + (hasReference ? " \(a.referenceAccuracy.map { "\(pct($0)) %" } ?? "—") |\n" : "\n")
        }
        let intervals = s.arms.compactMap { a in meanInterval(a.finalTestAccuracy).map { "\(a.name) \($0)" } }
        if !intervals.isEmpty {
            md += "\n95% intervals of the mean final test accuracy (Student t, n − 1 degrees of freedom): "
                + intervals.joined(separator: "; ") + ".\n"
        }
        if hasReference { md += "\n" + referenceLine(s) }
        md += "\nMean over trials ± sample standard deviation. \(s.source): \(grouped(s.trainSamples)) training / "
            + "\(grouped(s.testSamples)) test images; \(s.epochs) epoch\(s.epochs == 1 ? "" : "s"), batch \(s.batch), "
            + "Adam lr \(shortNumber(s.learningRate)), conv widths \(s.widths), hidden \(s.hidden).\n\n"
        md += "![Test accuracy and test loss per epoch of every run](accuracy.svg)\n\n"

        md += "## Trials\n\n"
        md += "| arm | seed | final test accuracy | best test accuracy (epoch) | final test loss | final train loss | train time | threads | BLAS kernel | run |\n"
        md += "|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n"
        for r in s.runs {
            let t = r.seconds.loading + r.seconds.training + r.seconds.evaluation
            md += "| \(r.arm) | \(r.seed) | \(pct(r.finalTestAccuracy)) % | \(pct(r.bestTestAccuracy)) % (\(r.bestEpoch)) | "
                + "\(String(format: "%.4f", r.finalTestLoss)) | \(String(format: "%.4f", r.finalTrainLoss)) | \(duration(t)) | "
                + "\(threadsText(r.threads)) | \(kernelsText(r.blasKernels ?? [])) | "
                + "[\(r.run)](\(r.run)/report.md) |\n"
        }
        md += "\nTrain time: loading + training + evaluation of the run (see Wall time). Threads: what training ran "
            + "with, by epochs where it changed (— where the checkpoint did not record it); it changes the speed, not the "
            + "numbers (runs of mixshards 0.1 were the exception: their float sums depended on it). BLAS kernel: the OpenBLAS "
            + "kernel family the epochs ran on. Each run's `metrics.csv`, `curves.svg` and `report.md` are in its folder.\n\n"

        md += "## Test accuracy per epoch\n\nThe curves are in the figure at the top (`accuracy.svg`). "
            + "Mean test accuracy over trials (%):\n\n| epoch | " + s.arms.map(\.name).joined(separator: " | ") + " |\n"
        md += "|---:|" + String(repeating: "---:|", count: s.arms.count) + "\n"
        for e in 0..<s.epochs {
            md += "| \(e + 1) |"
            for a in s.arms {
                let runs = s.runs.filter { $0.arm == a.name && $0.testAccuracy.count > e }
                let mean = runs.reduce(0.0) { $0 + $1.testAccuracy[e] } / Double(max(1, runs.count))
                md += " \(pct(mean)) |"
            }
            md += "\n"
        }

        md += "\n## Per-class accuracy\n\nFinal models, all trials pooled (%):\n\n| class | "
            + s.arms.map(\.name).joined(separator: " | ")
            + s.comparisons.map { " | \($0.arm) − \($0.baseline)" }.joined() + " |\n"
        md += "|---|" + String(repeating: "---:|", count: s.arms.count + s.comparisons.count) + "\n"
        let base = s.arms.first { $0.name == s.baseline }!
        for (k, name) in s.classNames.enumerated() where k < base.perClassAccuracy.count {
            md += "| \(name) |" + s.arms.map { " \(pct($0.perClassAccuracy[k])) |" }.joined()
            for c in s.comparisons {
                let arm = s.arms.first { $0.name == c.arm }!, other = s.arms.first { $0.name == c.baseline }!
                md += " \(points(arm.perClassAccuracy[k] - other.perClassAccuracy[k])) |"
            }
            md += "\n"
        }

        md += "\n## Confusion matrices\n\nFinal models on the test split, summed over each arm's trials; rows: true class, "
            + "columns: predicted class.\n\n![Confusion matrices](confusion.png)\n\n"
        for a in s.arms {
            let total = a.confusion.reduce(0) { $0 + $1.reduce(0, +) }
            md += "### \(a.name)\n\n\(a.finalTestAccuracy.n) trial\(a.finalTestAccuracy.n == 1 ? "" : "s"), \(grouped(total)) test predictions.\n\n"
            guard a.confusion.count <= ExperimentFigures.maxLabelledClasses else {
                let ranked = a.perClassAccuracy.enumerated().sorted { $0.element != $1.element ? $0.element < $1.element : $0.offset < $1.offset }
                func item(_ r: (offset: Int, element: Double)) -> String {
                    "\(r.offset < s.classNames.count ? s.classNames[r.offset] : "class \(r.offset)") \(String(format: "%.1f", 100 * r.element)) %"
                }
                md += "\(a.confusion.count) classes: the figure shows the matrix. Lowest accuracy: "
                    + ranked.prefix(5).map(item).joined(separator: ", ") + "; highest: "
                    + ranked.suffix(5).reversed().map(item).joined(separator: ", ") + ".\n\n"
                continue
            }
            md += "| true \\ predicted | " + s.classNames.joined(separator: " | ") + " |\n"
            md += "|---|" + String(repeating: "---:|", count: s.classNames.count) + "\n"
            for (i, row) in a.confusion.enumerated() {
                let name = i < s.classNames.count ? s.classNames[i] : "class \(i)"
                md += "| **\(name)** |" + row.enumerated().map { j, v in i == j ? " **\(v)** |" : " \(v) |" }.joined() + "\n"
            }
            md += "\n"
        }

        md += "## Training samples\n\n"
        if contactSheets.isEmpty {
            md += "No arm mixes or augments samples, or its shards were removed before a contact sheet was made.\n\n"
        }
        for sheet in contactSheets {
            let arm = plan.spec.arms.first { $0.name == sheet.arm }!
            let trial = plan.trials(of: arm.name).first!
            let dir = (sheet.path as NSString).deletingLastPathComponent
            md += "Arm `\(arm.name)` (\(arm.mixDescription)), seed \(trial.seed), epoch 0: the first \(arm.mixes ? "mixed " : "")samples. "
                + "Under each image: a bar of its soft label in class colours, λ and the two classes"
                + (arm.augment.isActive ? "; then the position and the primary's crop shift (dx,dy), with `flip` when mirrored. " : ". ")
                + "[Index](\(dir)/index.md) of positions, source indices and labels."
            if arm.mixes && arm.mix.alpha < 1 {
                md += " With α = \(shortNumber(arm.mix.alpha)), λ ~ Beta(α, α) is mostly near 0 or 1, so many mixed images "
                    + "look like one picture with a faint second one; the label bar shows the mix."
            }
            md += "\n\n![Mixed samples of \(arm.name)](\(sheet.path))\n\n"
        }

        md += "## Wall time\n\n| arm | prep | loading | training | evaluation | total |\n|---|---:|---:|---:|---:|---:|\n"
        for a in s.arms {
            md += "| \(a.name) | \(duration(a.seconds.prep)) | \(duration(a.seconds.loading)) | \(duration(a.seconds.training)) | "
                + "\(duration(a.seconds.evaluation)) | \(duration(a.seconds.total)) |\n"
        }
        let t = s.seconds
        md += "| **all** | \(duration(t.prep)) | \(duration(t.loading)) | \(duration(t.training)) | \(duration(t.evaluation)) | **\(duration(t.total))** |\n\n"
        if t.total > 0 {
            md += "Shares of the total: prep \(share(t.prep, t.total)), loading \(share(t.loading, t.total)), "
                + "training \(share(t.training, t.total)), evaluation \(share(t.evaluation, t.total)).\n\n"
        }
        md += "*Prep*: `mixprep` (reading the source, mixing, compressing, checksumming and writing every epoch's shards), "
            + "measured when shards were written. *Loading*: time the training loop waited for the loader's next batch "
            + "(decoding runs ahead on a background thread; this is the part it did not hide). *Training*: forward, backward "
            + "and Adam steps. *Evaluation*: the test split after every epoch. Summed over runs and epochs (an epoch "
            + "interrupted by a kill and redone counts once).\n\n"

        if let from = s.importedFrom, let names = s.importedRuns, !names.isEmpty {
            md += "Imported from `\(from)` (published earlier; not run again here): " + names.joined(separator: ", ") + ".\n\n"
        }
        md += "## Settings\n\n| setting | value |\n|---|---|\n"
        md += "| experiment file | `\(s.file)` |\n"
        if let f = plan.spec.basePipelineFile { md += "| base pipeline | `\(f)` |\n" } else { md += "| base pipeline | inline in the experiment file |\n" }
        md += "| dataset | `\(plan.trials[0].pipeline.dataset.path)` |\n"
        md += "| source | \(s.source), fingerprint `\(s.sourceFingerprint)` |\n"
        md += "| images | \(grouped(s.trainSamples)) training, \(grouped(s.testSamples)) test; classes \(s.classNames.joined(separator: ", ")) |\n"
        md += "| arms | " + s.arms.map { "\($0.name): \($0.mixing)" }.joined(separator: "; ") + " |\n"
        md += "| seeds (trials) | \(s.seeds.map(String.init).joined(separator: ", ")) — seed the mixing, the initialisation and the sample order |\n"
        let p = plan.trials[0].pipeline
        md += "| epochs | \(s.epochs) trained, " + (!hasMaterialised ? "\(p.shards.epochs) materialised per run"
            : "materialised per arm as the table says (training cycles through them)") + " |\n"
        md += "| training | batch \(s.batch), Adam lr \(shortNumber(p.train.lr)), β1 \(shortNumber(p.train.beta1)), β2 \(shortNumber(p.train.beta2)), ε \(shortNumber(p.train.eps))"
            + (hasTraining ? "; recipe per arm: " + s.arms.map { "\($0.name): \($0.training ?? "—")" }.joined(separator: "; ")
                : CheckpointRecipe(p.train) == nil ? "" : "; recipe: \(p.train.recipeDescription)") + " |\n"
        md += "| network | conv widths \(s.widths), hidden \(s.hidden) |\n"
        md += "| shards, runs | `shards/<arm>-seed<k>/`, `runs/<arm>-seed<k>/` |\n\n"
        md += "Numbers: `summary.json` (accuracies as fractions). Reproduce: `mixtrain experiment \(s.file)`; "
            + "rerunning skips finished runs and resumes interrupted ones.\n"
        return md
    }

    // MARK: - Formatting

    /// The threads of each stretch of epochs: `1`, or `2 (1–2), 1 (3–30)`, with `—` where unrecorded.
    static func threadsText(_ perEpoch: [Int?]) -> String { RunOutputs.byStretches(perEpoch) }

    /// The distinct kernels of a run's epochs (`Zen`), `—` where none was recorded.
    static func kernelsText(_ perEpoch: [String?]) -> String {
        let names = perEpoch.compactMap { $0.map(RunOutputs.kernelName) }
        let distinct = names.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return distinct.isEmpty ? "—" : distinct.joined(separator: ", ")
    }

    /// The 95% confidence interval of the mean of `s`'s values (Student t, n − 1 degrees of
    /// freedom), e.g. `84.02 to 85.61 %`; nil for one trial.
    static func meanInterval(_ s: TrialStatistic) -> String? {
        guard let sd = s.std, s.n > 1 else { return nil }
        let half = studentT975(Double(s.n - 1)) * sd / Double(s.n).squareRoot()
        return "\(pct(s.mean - half)) to \(pct(s.mean + half)) %"
    }

    static func pct(_ x: Double) -> String { String(format: "%.2f", 100 * x) }

    /// `76.10 ± 0.30 %`, or `76.10 %` for one trial; losses without the percent.
    static func meanStd(_ s: TrialStatistic, percent: Bool = true) -> String {
        if percent {
            return s.std.map { "\(pct(s.mean)) ± \(pct($0)) %" } ?? "\(pct(s.mean)) %"
        }
        return s.std.map { String(format: "%.4f ± %.4f", s.mean, $0) } ?? String(format: "%.4f", s.mean)
    }

    /// A difference of fractions as signed percentage points: `+1.70`.
    static func points(_ d: Double) -> String { String(format: "%+.2f", 100 * d) }

    static func pp(_ d: Double) -> String { String(format: "%.2f", 100 * d) }

    static func share(_ part: Double, _ total: Double) -> String { String(format: "%.0f %%", 100 * part / total) }

    /// `12.3 s`, `4 min 05 s`, `2 h 03 min`.
    static func duration(_ s: Double) -> String {
        // Checkpoints' epoch times are summed in too: whatever they say is printed, never converted to Int.
        guard s.isFinite, s < 1e12 else { return String(format: "%g s", s) }
        if s < 100 { return String(format: "%.1f s", s) }
        let t = Int(s.rounded())
        if t < 3600 { return String(format: "%d min %02d s", t / 60, t % 60) }
        return String(format: "%d h %02d min", t / 3600, t / 60 % 60)
    }

    /// `50,000`.
    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return out
    }
}
