import Foundation
import MixCore
import Pipeline
import ShardFormat

/// `manifest.json`: the table of contents of a complete shard directory,
/// written last and atomically. A directory without one is incomplete.
///
/// It holds no timestamps or host details, so equal inputs give equal bytes.
public struct Manifest: Sendable, Equatable, Codable {
    public static let fileName = "manifest.json"
    public static let formatName = "MixShard"
    public static let toolVersion = "mixshards 0.4.0"

    public var format = Manifest.formatName
    public var formatVersion = Int(MixShardLayout.version)
    public var tool = Manifest.toolVersion
    /// The resolved pipeline (file values with command-line overrides applied).
    public var pipeline: Pipeline
    public var seed: UInt64
    public var source: SourceInfo
    public var train: [EpochEntry]
    public var test: SplitEntry
    /// The source copy that reference samples point into (`source/train.mxs`), when there is one (v2).
    public var sourceCopy: ShardEntry?
    /// Statistics over all training epochs.
    public var summary: ShardStats

    public init(pipeline: Pipeline, source: SourceInfo, train: [EpochEntry], test: SplitEntry, summary: ShardStats) {
        self.pipeline = pipeline
        self.seed = pipeline.seed
        self.source = source
        self.train = train
        self.test = test
        self.summary = summary
    }

    /// Reads `DIR/manifest.json`; a missing one means an incomplete directory.
    public static func load(directory: String) throws -> Manifest {
        try loadWithBytes(directory: directory).manifest
    }

    /// `load`, and the bytes it decoded: one read, so that a digest of them (a checkpoint's
    /// `manifestSHA256`) is of the very manifest in use.
    public static func loadWithBytes(directory: String) throws -> (manifest: Manifest, bytes: [UInt8]) {
        let path = directory + "/" + fileName
        guard FileIO.exists(path) else {
            throw MixError.file(directory, "no \(fileName): the shard directory is incomplete (finish it with `mixprep run` or `mixprep finalize`)")
        }
        let manifest: Manifest, bytes: [UInt8]
        do {
            bytes = try FileIO.read(path, limit: Manifest.maxFileBytes, what: "a manifest")
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch let e as MixError {
            throw e
        } catch {
            throw MixError.file(path, "not a valid manifest: \(MixError.describe(decoding: error))")
        }
        let versions = MixShardLayout.readableVersions
        guard manifest.format == formatName, versions.contains(where: { Int($0) == manifest.formatVersion }) else {
            throw MixError.file(path, "format \(String(reflecting: manifest.format)) version \(manifest.formatVersion) is not supported "
                                + "(this build reads \(formatName) versions \(Wording.range(Int(versions.lowerBound), Int(versions.upperBound))))")
        }
        guard manifest.sourceCopy == nil || manifest.formatVersion >= 2 else {
            throw MixError.file(path, "a version 1 manifest cannot list a sourceCopy")
        }
        if let problem = manifest.source.classNameProblem { throw MixError.file(path, problem) }
        if let problem = manifest.source.channelStatsProblem { throw MixError.file(path, problem) }
        return (manifest, bytes)
    }

    /// The most samples a manifest may list for one shard: a shard header counts
    /// them in 32 bits. With it, sums of listed counts cannot overflow.
    public static let maxShardSamples = Int(UInt32.max)

    /// The largest `manifest.json` (and `prep.json`) read, as in the Python reader: a
    /// manifest of 100 epochs of ImageNet-1k shards is a few megabytes.
    public static let maxFileBytes = 256 << 20

    /// Problems with the shard listing itself, each naming the manifest at
    /// `path`: training epochs numbered 0, 1, … in order; every shard a
    /// relative path of safe names (nothing outside the directory), listed
    /// once, with from 1 to `maxShardSamples` samples and a non-negative size.
    public func listingProblems(path: String) -> [String] {
        var out: [String] = []
        for (i, e) in train.enumerated() where e.epoch != i {
            out.append("\(path): train[\(i)] is numbered epoch \(e.epoch), expected \(i)")
        }
        var seen = Set<String>()
        for entry in listedFiles {
            let parts = entry.file.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.allSatisfy({ FileIO.isSafeName(String($0)) }) else {
                out.append("\(path): shard \(String(reflecting: entry.file)) is not a path inside the directory")
                continue
            }
            if !seen.insert(entry.file).inserted { out.append("\(path): shard \(entry.file) is listed twice") }
            if !(1...Manifest.maxShardSamples).contains(entry.samples) || entry.bytes < 0 {
                out.append("\(path): shard \(entry.file) is listed with \(entry.samples) samples and \(entry.bytes) bytes "
                           + "(a shard holds \(Wording.range(1, Manifest.maxShardSamples)) samples)")
            }
            // Echoed in messages, so never a newline in one (found by the Python reader's fuzzer).
            if entry.sha256.utf8.count != 64 || !entry.sha256.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
                out.append("\(path): shard \(entry.file) is listed with a sha256 that is not 64 lowercase hex digits")
            }
        }
        return out
    }

    /// What is wrong with the source's image shape and class count for a shard
    /// directory (the format limits, `MixShardLayout`), naming the manifest at
    /// `path`; nil when they are fine. Readers that size buffers or draw images
    /// from these numbers check them first.
    public func sourceShapeProblem(path: String) -> String? {
        typealias L = MixShardLayout
        let s = source
        guard (1...L.maxChannels).contains(s.channels), (1...L.maxSide).contains(s.height), (1...L.maxSide).contains(s.width),
              (1...L.maxClasses).contains(s.classNames.count) else {
            return "\(path): source shape \(Wording.image(channels: s.channels, height: s.height, width: s.width)) with \(s.classNames.count) classes is outside the format limits "
                + "(\(Wording.range(1, L.maxChannels)) channels, sides \(Wording.range(1, L.maxSide)), \(Wording.range(1, L.maxClasses)) classes)"
        }
        return nil
    }

    /// `listingProblems`, then each listed shard's presence and size in `directory`
    /// (what a reader checks before trusting the listing, short of hashing).
    public func checkListing(directory: String) throws {
        if let first = listingProblems(path: directory + "/" + Manifest.fileName).first { throw MixError(first) }
        for entry in listedFiles {
            let file = directory + "/" + entry.file
            guard let size = try FileIO.regularFileSize(file) else { throw MixError.file(file, "missing (listed in \(Manifest.fileName))") }
            guard size == entry.bytes else { throw MixError.file(file, "\(size) bytes, \(Manifest.fileName) says \(entry.bytes)") }
        }
    }

    /// The source copy of the shard directory at `directory`, opened and checked
    /// (structure, and an uncompressed copy's CRCs), or nil when the manifest lists none.
    public func openSourceCopy(directory: String) throws -> SourceImages? {
        guard let entry = sourceCopy else { return nil }
        let file = directory + "/" + entry.file
        guard FileIO.exists(file) else { throw MixError.file(file, "missing (listed in \(Manifest.fileName))") }
        let unpacked = Manifest.unpackedSourceDirectory().map { (directory: $0, key: entry.sha256) }
        let source = try SourceImages(path: file, cacheBytes: Manifest.sourceCacheBytes(), unpacked: unpacked)
        guard source.count == entry.samples, source.count == self.source.trainCount else {
            throw MixError.file(file, "holds \(source.count) images, the manifest says \(entry.samples) (source: \(self.source.trainCount) training images)")
        }
        return source
    }

    /// The bound on the inflated chunks of a compressed source copy that a reader keeps:
    /// `MIXSHARDS_SOURCE_CACHE` (bytes, or with a K, M or G suffix) when set, else
    /// `SourceImages.defaultCacheBytes` (1 GiB).
    public static func sourceCacheBytes(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
        guard let text = environment["MIXSHARDS_SOURCE_CACHE"] else { return SourceImages.defaultCacheBytes }
        guard let bytes = ByteSize.parse(text), bytes < Double(Int.max) else {
            throw MixError("MIXSHARDS_SOURCE_CACHE must be a size in bytes, optionally with K, M or G (got \(String(reflecting: text)))")
        }
        return Int(bytes)
    }

    /// Where compressed source copies are kept unpacked (`UnpackedSource`):
    /// `MIXSHARDS_UNPACKED_SOURCE` when set and not empty, else nil (inflated in memory).
    public static func unpackedSourceDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let dir = environment["MIXSHARDS_UNPACKED_SOURCE"], !dir.isEmpty else { return nil }
        return dir
    }

    /// The source copy a lone shard file resolves its references from: the one of
    /// the shard directory two levels up (`DIR/train/epoch-NNN/shard-NNNNN.mxs`),
    /// or nil when the shard has no references.
    public static func sourceCopy(forShard path: String, header: ShardHeader) throws -> SourceImages? {
        guard header.hasReferences else { return nil }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast(3)
        let dir = parts.isEmpty ? "." : (parts.count == 1 && parts[0].isEmpty ? "/" : parts.joined(separator: "/"))
        guard FileIO.exists(dir + "/" + fileName) else {
            throw MixError.file(path, "holds reference samples, and no shard directory (\(fileName)) two levels up holds their source copy")
        }
        return try load(directory: dir).openSourceCopy(directory: dir)
    }

    /// Every file the manifest lists: the source copy, the training shards epoch by epoch, the test shards.
    public var listedFiles: [ShardEntry] {
        (sourceCopy.map { [$0] } ?? []) + train.flatMap(\.shards) + test.shards
    }

    /// The canonical JSON bytes (sorted keys, pretty-printed).
    public func encoded() throws -> [UInt8] {
        try Manifest.canonicalJSON(self)
    }

    public static func canonicalJSON<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [0x0A]
    }
}

/// Where the samples came from.
public struct SourceInfo: Sendable, Equatable, Codable {
    public var name: String
    public var path: String
    /// SHA-256 of the source's canonical records (see `Dataset.fingerprint`).
    public var fingerprint: String
    public var classNames: [String]
    public var trainCount: Int
    public var testCount: Int
    public var channels: Int
    public var height: Int
    public var width: Int
    /// How the source was recognised (`class folders train/ + val/`, `CSV lists …`); nil
    /// for directories made before mixshards 0.4, which read CIFAR and PNG folders only.
    public var layout: String?
    /// For image files: the file lists and what decoded the files; nil for CIFAR records.
    public var files: SourceFilesInfo?
    /// Files skipped as undecodable (`dataset.skip_bad`); nil when none was.
    public var skippedFiles: Int?
    /// The training split's per-channel mean and standard deviation, what readers normalise
    /// with; nil for directories made before mixprep recorded them (readers then use the
    /// CIFAR-10 constants) and for an empty training split.
    public var channelStats: ChannelStats?

    /// The first class name that breaks `ClassNames`' limit, naming it as
    /// `source.classNames[i]`; nil when all are fine. Checked when a manifest or
    /// `prep.json` is loaded, before any report or image lays the names out.
    public var classNameProblem: String? { ClassNames.problem(classNames, what: "source.classNames") }

    /// What is wrong with `channelStats` for `channels` planes, naming the key; nil when it is
    /// absent or fine. Checked when a manifest or `prep.json` is loaded, before a reader
    /// normalises with it.
    public var channelStatsProblem: String? { channelStats?.problem(channels: channels) }

    public init(name: String, path: String, fingerprint: String, classNames: [String], trainCount: Int, testCount: Int,
                channels: Int, height: Int, width: Int) {
        self.name = name
        self.path = path
        self.fingerprint = fingerprint
        self.classNames = classNames
        self.trainCount = trainCount
        self.testCount = testCount
        self.channels = channels
        self.height = height
        self.width = width
    }
}

/// One shard file in the manifest.
public struct ShardEntry: Sendable, Equatable, Codable {
    /// Path relative to the shard directory.
    public var file: String
    public var samples: Int
    public var bytes: Int
    public var sha256: String

    public init(file: String, samples: Int, bytes: Int, sha256: String) {
        self.file = file
        self.samples = samples
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// The shards of one split (test) or epoch (train), with their statistics.
public struct SplitEntry: Sendable, Equatable, Codable {
    public var shards: [ShardEntry]
    public var stats: ShardStats

    public init(shards: [ShardEntry], stats: ShardStats) {
        self.shards = shards
        self.stats = stats
    }

    public var samples: Int { shards.reduce(0) { $0 + $1.samples } }
}

public struct EpochEntry: Sendable, Equatable, Codable {
    public var epoch: Int
    public var shards: [ShardEntry]
    public var stats: ShardStats

    public init(epoch: Int, shards: [ShardEntry], stats: ShardStats) {
        self.epoch = epoch
        self.shards = shards
        self.stats = stats
    }
}

/// `source.channelStats`: the per-channel mean and population standard deviation of the
/// training split's pixels as `mixprep` read them (bytes/255, after resizing, before any
/// augmentation or mixing), each rounded to `places` (4) decimal places — the precision
/// torchvision users write, so CIFAR-10's are exactly the published (0.4914, 0.4822, 0.4465)
/// and (0.2470, 0.2435, 0.2616). `mixtrain` and the Python reader normalise with them.
///
/// A channel whose standard deviation rounds to 0 (constant, or nearly) is recorded as 0;
/// readers divide it by 1 instead (`PixelNormalizer`, `mixshards.normalize`), so it is only
/// centred, as scikit-learn's scalers treat a zero scale.
public struct ChannelStats: Sendable, Equatable, Codable {
    /// Decimal places of every figure.
    public static let places = 4

    public var mean: [Double]
    public var std: [Double]

    public init(mean: [Double], std: [Double]) {
        self.mean = mean
        self.std = std
    }

    /// The rounded figures of `statistics`; nil when it counted no pixel (an empty training split).
    public init?(_ statistics: ChannelStatistics) {
        let c = 0..<statistics.channels
        guard statistics.pixelsPerChannel > 0 else { return nil }
        mean = c.map { statistics.roundedMean($0, places: Self.places)! }
        std = c.map { statistics.roundedStd($0, places: Self.places)! }
    }

    /// The channels whose standard deviation is 0 to `places` decimals.
    public var constantChannels: [Int] { std.indices.filter { std[$0] == 0 } }

    /// `mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)`.
    public var description: String {
        "mean (\(mean.map(Self.figure).joined(separator: ", "))), std (\(std.map(Self.figure).joined(separator: ", ")))"
    }

    /// A figure with 4 decimals when it has at most 4 (`0.2470`), else in full.
    public static func figure(_ x: Double) -> String {
        (x * 10_000).rounded() / 10_000 == x ? String(format: "%.4f", x) : "\(x)"
    }

    /// What is wrong with these figures for `channels` planes, naming `source.channelStats`; nil when fine:
    /// one mean from 0 to 1 and one standard deviation from 0 to 0.5 (the largest a value in [0, 1] can have) per channel.
    public func problem(channels: Int) -> String? {
        for (key, values, top) in [("mean", mean, 1.0), ("std", std, 0.5)]
        where values.count != channels || !values.allSatisfy({ (0...top).contains($0) }) {
            return "source.channelStats.\(key) must hold \(channels) number\(channels == 1 ? "" : "s") from 0 to \(top == 1 ? "1" : "0.5"), "
                + "one per channel (got \(values.count == channels ? "\(values)" : "\(values.count)"))"
        }
        return nil
    }
}
