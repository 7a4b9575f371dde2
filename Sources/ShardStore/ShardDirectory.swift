import MixCore
import Pipeline
import ShardFormat

/// A complete shard directory opened for reading: its manifest, and every
/// shard it lists memory-mapped through `ShardReader` (structure checked at open).
///
/// A directory without `manifest.json` is refused (it is incomplete).
public final class ShardDirectory: @unchecked Sendable {
    /// The directory path as given.
    public let path: String
    public let manifest: Manifest
    /// SHA-256 (hex) of the `manifest.json` bytes: identifies the exact shard set.
    public let manifestSHA256: String
    /// Image and label shape shared by every shard.
    public let shape: SampleShape
    /// The source copy reference samples resolve from (nil when the directory has none).
    public let sourceCopy: SourceImages?
    /// Training shards per materialised epoch, in manifest order.
    package let trainReaders: [[ShardReader]]
    /// Test shards, in manifest order.
    package let testReaders: [ShardReader]
    /// The SHA-256 the manifest lists for each shard, by path.
    let listedSHA256: [String: String]
    /// Shards whose SHA-256 has been checked: nil when it matched, else the error.
    private let hashChecks = Locked([String: MixError?]())

    /// Opens `path`: reads the manifest, checks its listing (epochs in order, paths
    /// inside the directory, no duplicates, sizes of the files, each shard named as its
    /// place in the listing names it), maps and checks the structure of every listed shard,
    /// and checks that shard headers agree with the manifest (split, epoch, shard index,
    /// sample count, classes, the source's image shape).
    /// Each shard's SHA-256 is checked when the loader first reads it (`checkSHA256`).
    public init(path: String) throws {
        self.path = path
        let (manifest, bytes) = try Manifest.loadWithBytes(directory: path)
        self.manifest = manifest
        manifestSHA256 = SHA256.hex(SHA256.hash(bytes))
        let manifestPath = path + "/" + Manifest.fileName
        // A shape beyond the format limits is the manifest's fault, named before any shard is held to it.
        if let problem = manifest.sourceShapeProblem(path: manifestPath) { throw MixError(problem) }
        try manifest.checkListing(directory: path)
        guard !manifest.train.isEmpty, manifest.train.allSatisfy({ !$0.shards.isEmpty }) else {
            throw MixError.file(manifestPath, "lists no training shards")
        }
        guard !manifest.test.shards.isEmpty else {
            throw MixError.file(manifestPath, "lists no test shards")
        }
        let classCount = manifest.source.classNames.count
        guard classCount >= 2 else { throw MixError.file(manifestPath, "source.classNames must name at least 2 classes") }
        var shape: SampleShape?
        let source = try manifest.openSourceCopy(directory: path)
        sourceCopy = source
        // Every reference depends on the source copy: it is hashed at open (an uncompressed copy has its
        // chunks' CRCs checked then too; a compressed one each chunk's when it is first inflated).
        if let entry = manifest.sourceCopy, let reader = source?.reader {
            let digest = withExtendedLifetime(reader) { SHA256.hexDigest(of: reader.bytes) }
            guard digest == entry.sha256 else { throw Self.hashMismatch(reader, digest: digest, listed: entry.sha256) }
        }
        func open(_ entry: ShardEntry, split: Split, epoch: UInt32, index: Int) throws -> ShardReader {
            let name = (split == .test ? "test/" : "train/" + ShardPlan.epochDirectory(Int(epoch)) + "/") + ShardPlan.shardName(index)
            guard entry.file == name else {
                throw MixError.file(manifestPath, "lists \(entry.file) as shard \(index) of "
                                    + (split == .test ? "the test split" : "train epoch \(epoch)") + ", whose name is \(name)")
            }
            let file = path + "/" + entry.file
            guard FileIO.exists(file) else { throw MixError.file(file, "missing (listed in \(Manifest.fileName))") }
            let reader = try ShardReader(path: file, source: split == .train ? source : nil)
            guard reader.sampleCount == entry.samples else {
                throw MixError.file(file, "holds \(reader.sampleCount) samples, the manifest says \(entry.samples)")
            }
            guard reader.header.split == split, reader.header.epoch == epoch else {
                throw MixError.file(file, "header says split \(reader.header.split) epoch \(reader.header.epoch), the manifest lists it under \(split) epoch \(epoch)")
            }
            guard reader.header.shardIndex == UInt32(index) else {
                throw MixError.file(file, "header says shard \(reader.header.shardIndex), the manifest lists it as shard \(index)")
            }
            let s = reader.shape
            guard s.classCount == classCount else {
                throw MixError.file(file, "has \(s.classCount) classes, the manifest names \(classCount)")
            }
            // Held to the manifest's source shape, which export sizes its sheets by (as the Python reader holds them).
            let src = manifest.source
            guard s.channels == src.channels, s.height == src.height, s.width == src.width else {
                throw MixError.file(file, "image shape \(Wording.image(channels: s.channels, height: s.height, width: s.width)) differs from the manifest's "
                                    + Wording.image(channels: src.channels, height: src.height, width: src.width))
            }
            shape = s
            return reader
        }
        listedSHA256 = Dictionary(manifest.listedFiles.map { (path + "/" + $0.file, $0.sha256) }, uniquingKeysWith: { a, _ in a })
        trainReaders = try manifest.train.map { e in
            try e.shards.enumerated().map { try open($1, split: .train, epoch: UInt32(e.epoch), index: $0) }
        }
        testReaders = try manifest.test.shards.enumerated().map { try open($1, split: .test, epoch: MixShardLayout.testEpoch, index: $0) }
        self.shape = shape!
    }

    /// Checks the shard `reader` maps against the SHA-256 that manifest.json lists
    /// for it; hashes each file once per process. The loader calls it before it
    /// first reads a shard, so `train`, `eval` and `bench-loader` check what
    /// `mixprep verify` checks of each file (chunk CRCs are checked on every read too).
    public func checkSHA256(_ reader: ShardReader) throws {
        if let done = hashChecks.withLock({ $0[reader.path] }) {
            if let error = done { throw error }
            return
        }
        let digest = withExtendedLifetime(reader) { SHA256.hexDigest(of: reader.bytes) }
        let listed = listedSHA256[reader.path] ?? ""
        let error = digest == listed ? nil : Self.hashMismatch(reader, digest: digest, listed: listed)
        hashChecks.withLock { $0[reader.path] = error }
        if let error { throw error }
    }

    /// The one-line error for a shard whose SHA-256 is not the listed one, naming
    /// the first chunk that fails its checks, if one does.
    static func hashMismatch(_ reader: ShardReader, digest: String, listed: String) -> MixError {
        MixError.file(reader.path, "SHA-256 \(digest.prefix(16))… differs from the \(listed.prefix(16))… that \(Manifest.fileName) lists"
                      + (firstBadChunk(reader).map { " (\($0))" } ?? ""))
    }

    /// The problem of the first chunk of `reader` that fails its checks, without the
    /// file name (`chunk 2: …`), or nil: what a hash mismatch comes from, when a chunk shows it.
    static func firstBadChunk(_ reader: ShardReader) -> String? {
        var chunk = DecodedChunk()
        for i in 0..<reader.index.count {
            do { try reader.readChunk(i, into: &chunk) } catch {
                let text = "\(error)", prefix = reader.path + ": "
                return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
            }
        }
        return nil
    }

    /// Class names, in label order.
    public var classNames: [String] { manifest.source.classNames }
    /// Number of training epochs materialised on disk.
    public var materialisedEpochs: Int { trainReaders.count }
    /// The materialised epoch that training epoch `epoch` reads (`epoch mod E`).
    public func materialisedEpoch(for epoch: Int) -> Int { epoch % trainReaders.count }
    /// Training samples of training epoch `epoch` (after cycling).
    public func trainSampleCount(epoch: Int) -> Int {
        trainReaders[materialisedEpoch(for: epoch)].reduce(0) { $0 + $1.sampleCount }
    }
    /// Samples in the test split.
    public var testSampleCount: Int { testReaders.reduce(0) { $0 + $1.sampleCount } }
    /// Paths of the training shards of training epoch `epoch` (after cycling).
    public func trainShardPaths(epoch: Int) -> [String] { trainReaders[materialisedEpoch(for: epoch)].map(\.path) }
    /// Paths of the test shards.
    public var testShardPaths: [String] { testReaders.map(\.path) }
}
