import Foundation
import MixCore
import Pipeline
import ShardStore
import Prep
import ShardFormat
import Training

/// A shard directory, made at start-up by `mixprep`'s code from the repository's
/// CIFAR-10 subset (two epochs with crop, flip, mixing and references, so it has
/// a source copy; shards of two chunks). Two targets share the pipeline:
///
/// - `manifest`: the input is `manifest.json`, mutated as JSON text (the source
///   copy uncompressed);
/// - `directory`: the input is one shard of the directory (its relative path, a
///   NUL byte, then its bytes, mutated like the `shard` target), with the
///   manifest's size and SHA-256 for it updated so the listing checks pass; the
///   source copy is compressed (v3, two images per chunk), so mutants of it reach
///   the inflate-on-demand path and its cache through the loader, `verify` and `export`.
///
/// Each case is then read as `mixtrain` and `mixprep` read a directory: the
/// manifest and its listing, `ShardDirectory` (every shard's structure and the
/// source copy), the loader over every epoch (one more than materialised, so it
/// cycles) and the test split, `mixprep verify`, and `mixprep export`.
final class DirectoryTarget: FuzzTarget {
    static let pipeline = """
        name = "fuzz"
        seed = 7
        [dataset]
        path = "%DATA%"
        train_limit = 12
        test_limit = 6
        [augment]
        crop_pad = 2
        flip = true
        [mix]
        mode = "sample"
        p = 0.5
        alpha = 0.4
        [shards]
        epochs = 2
        samples_per_shard = 6
        samples_per_chunk = 3
        codec = "zlib"
        level = 1
        filter = "delta"
        references = true
        source_codec = "%SOURCE_CODEC%"
        source_samples_per_chunk = 2
        """

    static let jsonDictionary = [
        "\"file\" : \"train/epoch-000/shard-00000.mxs\",", "\"samples\" : 1000000000000,", "\"bytes\" : -1,",
        "\"formatVersion\" : 99,", "\"formatVersion\" : 2,", "\"source_codec\" : \"zlib\",", "\"sourceCopy\" : null,", "\"trainCount\" : 0,", "\"epoch\" : 1,", "{", "}", "[", "]", ",",
    ]

    let mutateShards: Bool
    let work: String
    let exportDirectory: String

    /// `mixprep export` requests beyond the plain one (see `run`).
    static let exportVariants: [(epoch: Int?, count: Int, positions: [Int]?, mixedOnly: Bool, scale: Int, columns: Int)] = [
        (0, 1, [5, 1999, 2000, Int.max], false, 1, 3),
        (1, 1, [0, Int(Int32.max)], false, 2, 1),
        (nil, 1, [0, 0, 1], false, 1, 2),
        (0, 4, nil, true, 1, 4),
        (0, 100_000, nil, false, 32, 8),
        (0, 3, nil, false, 1, 1_000_000),
        (1, 2, nil, true, 32, 1),
    ]
    let manifestBytes: [UInt8]
    let manifest: Manifest
    /// Relative paths of the shards (directory target), parallel to their bytes.
    let files: [String]
    let fileBytes: [[UInt8]]
    let seeds: [[UInt8]]
    let shardMutator: ShardMutator?

    init(context: FuzzContext, mutateShards: Bool) throws {
        self.mutateShards = mutateShards
        let work = context.scratch + "/shards"
        self.work = work
        exportDirectory = context.scratch + "/export"
        let data = context.root + "/data/cifar10-mini"
        guard FileIO.isDirectory(data) else { throw SetupError(description: "no \(data) (the repository's CIFAR-10 subset)") }
        let text = DirectoryTarget.pipeline.replacingOccurrences(of: "%DATA%", with: data)
            .replacingOccurrences(of: "%SOURCE_CODEC%", with: mutateShards ? "zlib" : "none")
        let pipeline = try Pipeline.parse(text, file: "<fuzz pipeline>")
        _ = try PrepRunner.run(pipeline, options: PrepOptions(outDirectory: work, threads: 1, quiet: true))
        manifestBytes = try FileIO.read(work + "/" + Manifest.fileName)
        manifest = try Manifest.load(directory: work)
        let files = manifest.listedFiles.map(\.file)
        self.files = files
        let fileBytes = try files.map { try FileIO.read(work + "/" + $0) }
        self.fileBytes = fileBytes
        if mutateShards {
            shardMutator = ShardMutator(seeds: fileBytes)
            seeds = zip(files, fileBytes).map { Array($0.utf8) + [0] + $1 }
        } else {
            shardMutator = nil
            seeds = [manifestBytes]
        }
    }

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        guard let shardMutator else {
            var bytes = manifestBytes
            TextMutator.mutate(&bytes, rng: &rng, donors: [], dictionary: DirectoryTarget.jsonDictionary)
            return bytes
        }
        // ShardMutator picks the seed; recover which file it came from by drawing the same index first.
        var pickRNG = rng
        let k = pickRNG.below(fileBytes.count)
        let bytes = shardMutator.mutate(rng: &rng)
        return Array(files[k].utf8) + [0] + bytes
    }

    func run(_ input: [UInt8]) -> FuzzOutcome {
        var steps = Steps(naming: [work])
        var restore: [(String, [UInt8])] = [(work + "/" + Manifest.fileName, manifestBytes)]
        if mutateShards {
            guard let nul = input.firstIndex(of: 0), let k = files.firstIndex(of: String(decoding: input[..<nul], as: UTF8.self)) else {
                return .namedError("input names no shard of the directory")
            }
            let shard = Array(input[(nul + 1)...])
            var m = manifest
            func update(_ e: inout ShardEntry) {
                if e.file == files[k] {
                    e.bytes = shard.count
                    e.sha256 = SHA256.hex(SHA256.hash(shard))
                }
            }
            if var s = m.sourceCopy { update(&s); m.sourceCopy = s }
            for i in m.train.indices { for j in m.train[i].shards.indices { update(&m.train[i].shards[j]) } }
            for j in m.test.shards.indices { update(&m.test.shards[j]) }
            Scratch.write(work + "/" + files[k], shard)
            Scratch.write(work + "/" + Manifest.fileName, (try? m.encoded()) ?? manifestBytes)
            restore.append((work + "/" + files[k], fileBytes[k]))
        } else {
            Scratch.write(work + "/" + Manifest.fileName, input)
        }
        defer { for (path, bytes) in restore { Scratch.write(path, bytes) } }

        let skipCorrupt = input.count % 2 == 1
        steps.run {
            let directory = try ShardDirectory(path: work)
            let loader = try ShardLoader(directory: directory, options: LoaderOptions(batch: 5, seed: 3, skipCorrupt: skipCorrupt, prefetch: 2))
            loader.warn = { _ in }
            for epoch in 0...directory.materialisedEpochs {
                let stream = loader.trainBatches(epoch: epoch)
                var samples = 0
                while let batch = try stream.next() {
                    samples += batch.count
                    stream.recycle(batch)
                }
                if !skipCorrupt && samples != directory.trainSampleCount(epoch: epoch) {
                    throw FuzzInvariant("loader delivered \(samples) samples of epoch \(epoch), expected \(directory.trainSampleCount(epoch: epoch))")
                }
            }
            let test = loader.testBatches()
            while let batch = try test.next() { test.recycle(batch) }
        }
        steps.run {
            let result = try Verifier.verify(directory: work, threads: 1)
            if let problem = result.problems.first { throw MixError(problem) }
        }
        for epoch in [0, nil] as [Int?] {
            steps.run {
                _ = try Exporter.export(ExportRequest(directory: work, outDirectory: exportDirectory, epoch: epoch, count: 3,
                                                      positions: nil, mixedOnly: false, scale: 1, columns: 3))
            }
        }
        // Export as users also call it (issue 22): positions at the end of an epoch and far
        // beyond it, mixed samples only, and sheets too large to allocate, which must be
        // refused before anything is. One request per case, chosen by the input's length.
        let request = DirectoryTarget.exportVariants[input.count % DirectoryTarget.exportVariants.count]
        steps.run {
            _ = try Exporter.export(ExportRequest(directory: work, outDirectory: exportDirectory, epoch: request.epoch,
                                                  count: request.count, positions: request.positions,
                                                  mixedOnly: request.mixedOnly, scale: request.scale, columns: request.columns))
        }
        return steps.outcome
    }
}
