import Datasets
import Foundation
import MixCore
import Pipeline
import ShardStore
import ShardFormat

/// `mixprep verify`: every shard against the manifest — presence, size,
/// SHA-256, structure, every chunk's CRC and label rows, every record and label
/// row against the pipeline and the source labels (DESIGN.md, "Rules for records
/// and labels"), statistics.
public enum Verifier {
    public struct Result: Sendable {
        /// Human-readable statistics.
        public var report: String
        /// One line per problem; empty when the directory is sound.
        public var problems: [String]
    }

    public static func verify(directory dir: String, threads: Int) throws -> Result {
        let manifest = try Manifest.load(directory: dir)
        let p = manifest.pipeline
        let shape = SampleShape(channels: manifest.source.channels, height: manifest.source.height,
                                width: manifest.source.width, classCount: manifest.source.classNames.count)
        let listed = (manifest.sourceCopy.map { [$0] } ?? []) + manifest.train.flatMap(\.shards) + manifest.test.shards
        var problems = manifest.listingProblems(path: dir + "/" + Manifest.fileName)
        if let problem = manifest.sourceShapeProblem(path: dir + "/" + Manifest.fileName) {
            return Result(report: "", problems: problems + [problem])  // the checks below size and divide by it
        }
        problems += settingProblems(manifest, path: dir + "/" + Manifest.fileName)
        let files = sourceFiles(manifest, directory: dir)
        problems += files.problems
        // The plan is built only when its size, computed first, matches the listing (the numbers are the manifest's).
        let sourceCopy = manifest.formatVersion >= 2 && p.usesReferences
        let planned = ShardPlan.fileCount(trainCount: manifest.source.trainCount, testCount: manifest.source.testCount,
                                          epochs: manifest.train.count, samplesPerShard: p.shards.samplesPerShard, sourceCopy: sourceCopy)
        let jobs = planned == listed.count
            ? ShardPlan.jobs(trainCount: manifest.source.trainCount, testCount: manifest.source.testCount, epochs: manifest.train.count,
                             samplesPerShard: p.shards.samplesPerShard, sourceCopy: sourceCopy)
            : []
        guard planned == listed.count, listed.map(\.file) == jobs.map(\.file) else {
            return Result(report: "", problems: problems + ["\(dir)/manifest.json: its shard list does not match the pipeline's plan"])
        }
        let source: SourceImages?
        do {
            source = try ShardCheck.openSource(directory: dir, jobs: jobs)
        } catch {
            return Result(report: "", problems: problems + ["\(error) (every reference sample depends on it)"])
        }
        let checks = SampleChecks(rules: RecordRules(trainCount: manifest.source.trainCount, testCount: manifest.source.testCount,
                                                     augment: p.augment, mix: p.mix, width: shape.width, height: shape.height),
                                  smoothing: p.mix.smoothing)
        let ledger = Locked(LabelMerge(ledger: LabelLedger(trainCount: manifest.source.trainCount, testCount: manifest.source.testCount,
                                                           classNames: manifest.source.classNames, train: files.train, test: files.test)))
        let progress = Progress("verify", total: jobs.reduce(0) { $0 + $1.count }, unit: "images")
        let outcomes = Locked([Int: ShardOutcome]())
        let failures = Locked([Int: String]())
        try Parallel.forEach(count: jobs.count, threads: threads) { i in
            let path = dir + "/" + jobs[i].file
            var labels: LabelMerge.Shard?
            do {
                // Every shard is of the manifest's version (checked by Manifest.load to be one this build reads).
                let encoding = p.encoding(for: jobs[i].split, shape: shape, version: UInt16(manifest.formatVersion))
                var o = try ShardCheck.check(path: path, job: jobs[i], shape: shape, encoding: encoding, smoothing: p.mix.smoothing,
                                             source: source, samples: checks)
                labels = o.labels.map {
                    LabelMerge.Shard(readings: $0, split: jobs[i].split, smoothing: jobs[i].split == .train ? p.mix.smoothing : 0,
                                     samplesPerChunk: encoding.samplesPerChunk, file: jobs[i].file, path: path)
                }
                o.labels = nil
                outcomes.withLock { $0[i] = o }
            } catch {
                failures.withLock { $0[i] = "\(error)" }
            }
            ledger.withLock { $0.post(i, labels) }
            progress.advance(by: jobs[i].count)
        }
        progress.finish()
        let got = outcomes.withLock { $0 }
        let failed = failures.withLock { $0 }
        let labelProblems = ledger.withLock { $0.problems }
        var summary = ShardStats(classCount: shape.classCount)
        var splitStats: [Int: ShardStats] = [:]   // by epoch; -1 is the test split
        for i in jobs.indices {
            if let f = failed[i] { problems.append(f); continue }
            guard let o = got[i] else { continue }
            if o.entry.sha256 != listed[i].sha256 {
                problems.append("\(dir)/\(jobs[i].file): SHA-256 \(o.entry.sha256.prefix(16))… differs from the manifest's \(listed[i].sha256.prefix(16))…")
            }
            if o.entry.samples != listed[i].samples {
                problems.append("\(dir)/\(jobs[i].file): \(o.entry.samples) samples, the manifest says \(listed[i].samples)")
            }
            if o.entry.bytes != listed[i].bytes {
                problems.append("\(dir)/\(jobs[i].file): \(o.entry.bytes) bytes, the manifest says \(listed[i].bytes)")
            }
            if let problem = labelProblems[i] { problems.append(problem) }
            if jobs[i].split == .train { summary.merge(o.stats) }
            if jobs[i].split == .train || jobs[i].split == .test {
                splitStats[jobs[i].split == .train ? jobs[i].epoch : -1, default: ShardStats(classCount: shape.classCount)].merge(o.stats)
            }
        }
        if problems.isEmpty {
            for e in manifest.train where splitStats[e.epoch] != e.stats {
                problems.append("\(dir)/manifest.json: statistics of train epoch \(e.epoch) differ from its shards' contents")
            }
            if splitStats[-1] != manifest.test.stats {
                problems.append("\(dir)/manifest.json: statistics of the test split differ from its shards' contents")
            }
            if summary != manifest.summary {
                problems.append("\(dir)/manifest.json: summary statistics differ from the shards' contents")
            }
        }
        let fileCount = jobs.count
        let bytes = got.values.reduce(0) { $0 + $1.entry.bytes }
        var lines: [String] = []
        lines.append("\(dir): \(fileCount - failed.count)/\(fileCount) shards verified (\(problems.isEmpty ? "OK" : "\(problems.count) problem(s)")), \(bytes) bytes")
        lines.append("source: \(manifest.source.name), fingerprint \(manifest.source.fingerprint)")
        lines.append("pipeline: \(p.name), augment \(p.augment.summary), mode \(p.mix.mode.rawValue), p \(p.mix.p), alpha \(p.mix.alpha), "
                     + "seed \(p.seed), \(manifest.train.count) epoch(s)"
                     + (manifest.sourceCopy == nil ? "" : ", unmixed samples stored as references to \(MixShardLayout.sourceFile)"))
        lines.append(StatsText.describe(summary, classNames: manifest.source.classNames))
        return Result(report: lines.joined(separator: "\n"), problems: problems)
    }
}

extension Verifier {
    /// The file lists of a directory made from image files: each present, of the listed
    /// size and SHA-256, with one row per source image, and — recomputed from their rows —
    /// the manifest's source fingerprint. Returns the problems, and when there are none,
    /// the labels the lists give the training and test images.
    static func sourceFiles(_ m: Manifest, directory dir: String) -> (problems: [String], train: [Int32]?, test: [Int32]?) {
        guard let files = m.source.files else { return ([], nil, nil) }
        var out: [String] = []
        for entry in files.entries {
            let path = dir + "/" + entry.file
            do {
                let bytes = try FileIO.read(path)
                if bytes.count != entry.bytes { out.append("\(path): \(bytes.count) bytes, the manifest says \(entry.bytes)") }
                let digest = bytes.withUnsafeBytes { SHA256.hexDigest(of: $0) }
                if digest != entry.sha256 { out.append("\(path): SHA-256 \(digest.prefix(16))… differs from the manifest's \(entry.sha256.prefix(16))…") }
            } catch {
                out.append("\(error)")
            }
        }
        guard out.isEmpty else { return (out, nil, nil) }
        do {
            let names = m.source.classNames
            let train = try SourceFileList.rows(dir + "/" + files.train.file, classNames: names)
            let test = try SourceFileList.rows(dir + "/" + files.test.file, classNames: names)
            let skipped = try files.skipped.map { try SourceFileList.skipped(dir + "/" + $0.file) } ?? []
            if train.count != m.source.trainCount || test.count != m.source.testCount || skipped.count != (m.source.skippedFiles ?? 0) {
                out.append("\(dir): the file lists hold \(train.count) train, \(test.count) test and \(skipped.count) skipped files; "
                           + "the manifest says \(m.source.trainCount), \(m.source.testCount) and \(m.source.skippedFiles ?? 0)")
            }
            let fingerprint = SourceFingerprint.of(classNames: names, train: train, test: test, skipped: skipped)
            if fingerprint != m.source.fingerprint {
                out.append("\(dir)/\(Manifest.fileName): source.fingerprint \(m.source.fingerprint.prefix(16))… is not the one of the file lists (\(fingerprint.prefix(16))…)")
            }
            if out.isEmpty { return ([], train.map(\.label), test.map(\.label)) }
        } catch {
            out.append("\(error)")
        }
        return (out, nil, nil)
    }

    /// The manifest's settings that no shard can contradict: a valid pipeline,
    /// and the seed it names. (The format and version are checked by `Manifest.load`;
    /// the source, counts and shape through the shards and the plan.)
    static func settingProblems(_ m: Manifest, path: String) -> [String] {
        var out = m.pipeline.problems().map { "\(path): pipeline: \($0)" }
        if m.seed != m.pipeline.seed { out.append("\(path): seed \(m.seed) differs from the pipeline's seed \(m.pipeline.seed)") }
        if m.source.classNames.count < 2 { out.append("\(path): source.classNames must name at least 2 classes") }
        return out
    }
}

/// The label rows of verified shards, checked against the source labels in manifest
/// order as the shards finish in any order: a shard waits until those before it are done.
struct LabelMerge: Sendable {
    /// One shard's readings and what its messages need.
    struct Shard: Sendable {
        var readings: [LabelReading]
        var split: Split
        var smoothing: Double
        var samplesPerChunk: Int
        /// Relative to the directory, and as given.
        var file: String
        var path: String
    }

    var ledger: LabelLedger
    /// The first label problem of each shard that has one, by job.
    var problems: [Int: String] = [:]
    private var next = 0
    /// Shards done out of order (nil: failed or without labels to check).
    private var waiting: [Int: Shard?] = [:]

    init(ledger: LabelLedger) {
        self.ledger = ledger
    }

    /// Job `i` is done; checks it and every waiting job after it whose turn has come.
    mutating func post(_ i: Int, _ shard: Shard?) {
        waiting[i] = .some(shard)
        while let entry = waiting.removeValue(forKey: next) {
            if let s = entry, let problem = ledger.check(s.readings, split: s.split, smoothing: s.smoothing,
                                                                   samplesPerChunk: s.samplesPerChunk, file: s.file) {
                problems[next] = s.path + ": " + problem
            }
            next += 1
        }
    }
}

/// Text renderings of `ShardStats`.
public enum StatsText {
    public static func describe(_ s: ShardStats, classNames: [String]) -> String {
        var lines: [String] = []
        lines.append(String(format: "train samples: %d, mixed: %d (%.2f%%)", s.samples, s.mixed, 100 * s.fractionMixed))
        func share(_ n: Int) -> String { String(format: "%d (%.2f%%)", n, s.samples == 0 ? 0 : 100 * Double(n) / Double(s.samples)) }
        lines.append("primary flipped: \(share(s.flipped)), shifted by a crop: \(share(s.shifted)), stored as references: \(share(s.references))")
        lines.append("λ histogram of mixed samples (10 bins over [0, 1]):")
        let peak = max(s.lambdaHistogram.max() ?? 1, 1)
        for (i, n) in s.lambdaHistogram.enumerated() {
            let bar = String(repeating: "#", count: Int((40.0 * Double(n) / Double(peak)).rounded()))
            lines.append(String(format: "  [%.1f, %.1f%@ %7d %@", Double(i) / 10, Double(i + 1) / 10, i == 9 ? "]" : ")", n, bar))
        }
        lines.append("label mass per class:")
        let total = max(s.labelMass.reduce(0, +), 1e-12)
        let names = s.labelMass.indices.map { $0 < classNames.count ? classNames[$0] : "class \($0)" }
        // Padded in Swift: String(format:)'s %-12@ does not pad on Linux.
        let width = max(12, names.map(\.count).max() ?? 0)
        for (c, m) in s.labelMass.enumerated() {
            let name = names[c].padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("  " + name + String(format: " %10.2f  %5.2f%%", m, 100 * m / total))
        }
        return lines.joined(separator: "\n")
    }
}
