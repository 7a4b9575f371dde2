import MixCore
import Prep
import ShardFormat

/// MixShard files: every golden file under `Tests/ShardFormatTests/Golden`
/// (found by listing, so golden files added later are fuzzed too), mutated by
/// `ShardMutator`, then read through every public reader path: `ShardReader`
/// (header, index, footer), each chunk in reverse order into one reused buffer,
/// `readAll` and `ShardStats`, `SourceImages` (the source-copy reader) and its
/// images, and `mixprep inspect --samples` and `dump`.
final class ShardTarget: FuzzTarget {
    static let goldenDirectory = "Tests/ShardFormatTests/Golden"

    let seeds: [[UInt8]]
    let mutator: ShardMutator
    let path: String
    let dumpPath: String
    /// The golden source copy: what the golden shards' references resolve against.
    let source: SourceImages?

    init(context: FuzzContext) throws {
        let files = Scratch.files(in: context.root + "/" + ShardTarget.goldenDirectory, suffix: ".mxs")
        guard !files.isEmpty else { throw SetupError(description: "no golden shards in \(context.root)/\(ShardTarget.goldenDirectory)") }
        seeds = try files.map { try FileIO.read($0) }
        mutator = ShardMutator(seeds: seeds)
        source = files.lazy.compactMap { try? SourceImages(path: $0) }.first
        try FileIO.makeDirectories(context.scratch + "/train/epoch-000")
        path = context.scratch + "/train/epoch-000/shard-00000.mxs"
        dumpPath = context.scratch + "/dump.bin"
    }

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        mutator.mutate(rng: &rng)
    }

    func run(_ input: [UInt8]) -> FuzzOutcome {
        Scratch.write(path, input)
        var steps = Steps(naming: [path])
        steps.run {
            let reader = try ShardReader(path: path, source: source)
            var chunk = DecodedChunk()
            for i in reader.index.indices.reversed() { try reader.readChunk(i, into: &chunk) }
            let block = try reader.readAll()
            let stats = ShardStats(of: block)
            guard stats.samples == reader.sampleCount else {
                throw FuzzInvariant("ShardStats counted \(stats.samples) samples of \(reader.sampleCount)")
            }
        }
        steps.run {
            let images = try SourceImages(path: path)
            var sum = 0
            for k in 0..<images.count { sum &+= try images.withImage(k) { Int($0.pointee) } }
            _ = sum
        }
        steps.run { _ = try Inspector.describe(path: path, samples: true) }
        steps.run { try Inspector.dump(path: path, to: dumpPath) }
        return steps.outcome
    }
}

/// A broken expectation of a reader that accepted the input (counted as an unnamed error).
struct FuzzInvariant: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
