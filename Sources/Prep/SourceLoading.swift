import Datasets
import Foundation
import ImageCodecs
import MixCore
import Pipeline
import ShardFormat
import ShardStore

/// Turns a pipeline's `[dataset]` into images ready to mix: recognises the layout
/// (`DatasetSource.open`), then, for image files, decodes them at the pipeline's size
/// into a scratch file of the output directory.
enum SourceLoading {
    /// The listing options `[dataset]` gives.
    static func listingOptions(_ d: DatasetSection) -> ListingOptions {
        ListingOptions(classes: d.classes, testFraction: d.testFraction, splitSeed: d.splitSeed ?? 0)
    }

    /// The size policy `[dataset]` gives.
    static func sizePolicy(_ d: DatasetSection) -> SizePolicy {
        let filter = d.resample.flatMap(ResampleFilter.init(rawValue:)) ?? .bicubic
        let mode = d.resize.flatMap(SizePolicy.Mode.init(rawValue:)) ?? .none
        guard let (h, w) = d.heightWidth else { return SizePolicy(width: nil, height: nil, mode: .none, filter: filter) }
        return SizePolicy(width: w, height: h, mode: mode, filter: filter)
    }

    /// The run's first line: what was found where.
    static func describe(_ source: DatasetSource, pipeline: Pipeline) -> String {
        func limited(_ n: Int, _ limit: Int) -> Int { limit > 0 ? min(n, limit) : n }
        let (trainLimit, testLimit) = (pipeline.dataset.trainLimit, pipeline.dataset.testLimit)
        switch source {
        case .records(let d):
            return "source: \(d.name) at \(d.path): \(limited(d.train.count, trainLimit)) train, \(limited(d.test.count, testLimit)) test images, "
                + "\(d.classCount) classes, fingerprint \(d.fingerprint.prefix(16))…"
        case .files(let l):
            let policy = sizePolicy(pipeline.dataset)
            let size: String
            if let w = policy.width, let h = policy.height {
                size = policy.mode == .none ? "each \(w)×\(h) as stored"
                    : "to \(w)×\(h) (resize \(policy.mode.rawValue)" + (policy.mode == .shorter ? ", crop center" : "") + ", \(policy.filter.rawValue))"
            } else {
                size = "at the size of the first image, every image as stored"
            }
            return "source: \(l.layout) at \(l.root): \(limited(l.train.count, trainLimit)) train, \(limited(l.test.count, testLimit)) test files, "
                + "\(l.classNames.count) classes; "
                + "decoding \(size)"
        }
    }

    /// The source at its final size; image files decode into a scratch file in `scratch`.
    static func prepare(_ source: DatasetSource, pipeline: Pipeline, scratch: String?, threads: Int, quiet: Bool) throws -> PreparedSource {
        let d = pipeline.dataset
        switch source {
        case .records(let dataset):
            if d.heightWidth != nil || (d.resize ?? "none") != "none" {
                throw MixError("dataset.size and dataset.resize apply to image files; \(dataset.path) holds \(dataset.name) records of 32×32")
            }
            return PreparedSource(dataset, trainLimit: d.trainLimit, testLimit: d.testLimit)
        case .files(let listing):
            let decoding = ImageFileDecoding(policy: sizePolicy(d), skipBad: d.skipBad ?? false, threads: threads,
                                             scratchDirectory: scratch, quiet: quiet)
            return try PreparedSource(listing, trainLimit: d.trainLimit, testLimit: d.testLimit, decoding: decoding)
        }
    }

    /// The source at its final size, checked against the format limits and `[augment]`,
    /// with the warnings about it (skipped files, a shape the CNN cannot take). Image
    /// files decode into a scratch file of `directory`, or of the system's temporary
    /// folder when the directory is read-only (a published, complete copy).
    static func prepareChecked(_ opened: DatasetSource, pipeline: Pipeline, directory dir: String,
                               options: PrepOptions) throws -> (PreparedSource, [String]) {
        let scratch = FileIO.isWritableDirectory(dir) ? dir : (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")
        let dataset = try prepare(opened, pipeline: pipeline, scratch: scratch, threads: options.threads, quiet: options.quiet)
        if case .files = opened, !options.quiet {
            printError("decoded: \(dataset.train.count) train, \(dataset.test.count) test images of \(dataset.train.width)×\(dataset.train.height), "
                       + "fingerprint \(dataset.fingerprint.prefix(16))…")
        }
        let shape = SampleShape(channels: dataset.train.channels, height: dataset.train.height, width: dataset.train.width,
                                classCount: dataset.classCount)
        if let problem = MixShardLayout.limitProblem(shape: shape, samplesPerChunk: pipeline.shards.samplesPerChunk,
                                                     samplesPerShard: pipeline.shards.samplesPerShard,
                                                     provenance: pipeline.shards.provenance,
                                                     version: RunState.version(recordingOps: pipeline.augment.recordsOps,
                                                                               requested: options.formatVersion)) {
            throw MixError.file(dataset.path, problem)
        }
        if let problem = pipeline.sourceCopyProblem(shape: shape) { throw MixError.file(dataset.path, problem) }
        if let problem = pipeline.augment.shapeProblem(height: shape.height, width: shape.width) {
            throw MixError.file(dataset.path, problem)
        }
        var warnings = dataset.warnings
        if let problem = pipeline.train.imageShapeProblem(height: shape.height, width: shape.width) {
            warnings.append("\(dataset.path): \(problem); the shards can be verified, inspected and exported, but `mixtrain train` will refuse them")
        }
        return (dataset, warnings)
    }

    /// Writes the file lists (name → bytes) into the shard directory `dir`, leaving alone those already there with these bytes.
    static func writeFileLists(_ lists: [String: [UInt8]], into dir: String) throws {
        for (name, bytes) in lists.sorted(by: { $0.key < $1.key }) {
            let path = dir + "/" + name
            if let slash = name.lastIndex(of: "/") { try FileIO.makeDirectories(String(name[..<slash]), in: dir) }
            if FileIO.fileSize(path) != bytes.count || (try? FileIO.read(path)) != bytes { try FileIO.writeAtomically(path, bytes) }
        }
    }

    /// The training split's channel statistics (`source.channelStats`: exact sums over the images
    /// as read, before any augmentation or mixing, rounded to 4 decimals), with a warning for each
    /// channel whose standard deviation rounds to 0; nil for an empty training split.
    static func channelStats(_ s: PreparedSource, threads: Int) -> (ChannelStats?, [String]) {
        guard let stats = ChannelStats(ChannelStatistics(s.train, threads: threads)) else { return (nil, []) }
        let constant = stats.constantChannels
        guard !constant.isEmpty else { return (stats, []) }
        let names = constant.count == 1 ? "channel \(constant[0]) is" : "channels \(constant.map(String.init).joined(separator: ", ")) are"
        return (stats, ["\(s.path): \(names) constant in the training images (standard deviation 0 to \(ChannelStats.places) decimals); "
                        + "mixtrain and the Python reader divide \(constant.count == 1 ? "it" : "them") by 1 instead, only centring \(constant.count == 1 ? "it" : "them")"])
    }

    /// What `prep.json` and the manifest record of the source; the file lists' entries
    /// when the source is image files.
    static func info(_ s: PreparedSource, fileLists: [String: [UInt8]], channelStats: ChannelStats?) -> SourceInfo {
        var info = SourceInfo(name: s.name, path: s.path, fingerprint: s.fingerprint, classNames: s.classNames,
                              trainCount: s.train.count, testCount: s.test.count,
                              channels: s.train.channels, height: s.train.height, width: s.train.width)
        info.channelStats = channelStats
        if let files = s.files {
            info.layout = s.layout
            func entry(_ name: String, rows: Int) -> ShardEntry? {
                fileLists[name].map { ShardEntry(file: name, samples: rows, bytes: $0.count, sha256: $0.withUnsafeBytes { SHA256.hexDigest(of: $0) }) }
            }
            info.files = SourceFilesInfo(train: entry(SourceFileList.trainFile, rows: files.train.count)!,
                                         test: entry(SourceFileList.testFile, rows: files.test.count)!,
                                         skipped: entry(SourceFileList.skippedFile, rows: files.skipped.count),
                                         libraries: files.libraries)
            info.skippedFiles = files.skipped.isEmpty ? nil : files.skipped.count
        }
        return info
    }

    /// The file lists of an image-file source (name in the shard directory → bytes); empty for records.
    static func fileLists(_ s: PreparedSource) -> [String: [UInt8]] {
        guard let files = s.files else { return [:] }
        var out = [SourceFileList.trainFile: SourceFileList.encode(files.train, classNames: s.classNames),
                   SourceFileList.testFile: SourceFileList.encode(files.test, classNames: s.classNames)]
        if !files.skipped.isEmpty { out[SourceFileList.skippedFile] = SourceFileList.encode(files.skipped) }
        return out
    }
}
