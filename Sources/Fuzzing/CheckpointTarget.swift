import MixCore
import Training

/// `mixtrain` checkpoints: the golden checkpoints under
/// `Tests/TrainingTests/Golden` (`*.ckpt`), mutated mostly with their SHA-256
/// recomputed (and the JSON header's length kept right), so mutants reach the
/// header and size checks; read with `Checkpoint.read`, then turned into a
/// model and an optimiser as `--resume` and `eval` do.
final class CheckpointTarget: FuzzTarget {
    static let goldenDirectory = "Tests/TrainingTests/Golden"

    static let dictionary = [
        "\"widths\":[1024,1024,1024,1024,1024,1024,1024,1024],", "\"parameterCount\":4611686018427387904,", "\"epoch\":-1,",
        "\"hidden\":1000000000,", "\"batch\":10000000,", "\"inputHeight\":0,", "\"inputWidth\":40,", "\"inputSize\":32,", "\"std\":[0,0,0]", "\"mean\":[]", "\"metrics\":[],", "\"classes\":1,",
    ]

    let seeds: [[UInt8]]
    let path: String

    init(context: FuzzContext) throws {
        let files = Scratch.files(in: context.root + "/" + CheckpointTarget.goldenDirectory, suffix: ".ckpt")
        guard !files.isEmpty else { throw SetupError(description: "no golden checkpoints in \(context.root)/\(CheckpointTarget.goldenDirectory)") }
        seeds = try files.map { try FileIO.read($0) }
        path = context.scratch + "/checkpoint-001.ckpt"
    }

    /// Recomputes the trailing SHA-256 over everything before it.
    static func fixDigest(_ b: inout [UInt8]) {
        guard b.count >= 32 else { return }
        let body = b.count - 32
        let digest = b.withUnsafeBytes { SHA256.hash(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
        b.replaceSubrange(body..., with: digest)
    }

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        var b = rng.pick(seeds)
        let jsonLength = b.count >= 16 ? Int(ByteMutator.read(b, at: 12, width: 4)) : 0
        let jsonEnd = 16 + jsonLength
        switch rng.below(10) {
        case 0..<4: // the JSON header as text, its length kept right
            guard jsonEnd <= b.count else { break }
            var json = Array(b[16..<jsonEnd])
            TextMutator.mutate(&json, rng: &rng, donors: [], dictionary: CheckpointTarget.dictionary)
            b.replaceSubrange(16..<jsonEnd, with: json)
            if rng.chance(0.9) { ByteMutator.write(&b, UInt64(UInt32(truncatingIfNeeded: json.count)), at: 12, width: 4) }
            CheckpointTarget.fixDigest(&b)
        case 4, 5: // version, header length or parameter count at interesting values
            let fields = [(8, 4), (12, 4)] + (jsonEnd + 8 <= b.count ? [(jsonEnd, 8), (jsonEnd, 8)] : [])
            let (at, width) = rng.pick(fields)
            ByteMutator.write(&b, rng.chance(0.8) ? rng.pick(ByteMutator.interesting) : rng.next(), at: at, width: width)
            if rng.chance(0.9) { CheckpointTarget.fixDigest(&b) }
        case 6: // parameters and moments: NaN, infinities
            guard jsonEnd + 12 < b.count - 32 else { break }
            for _ in 0..<rng.smallCount(max: 8) {
                let at = jsonEnd + 8 + 4 * rng.below((b.count - 32 - jsonEnd - 8) / 4)
                ByteMutator.write(&b, UInt64(rng.pick(ShardMutator.floats).bitPattern), at: at, width: 4)
            }
            CheckpointTarget.fixDigest(&b)
        default: // bytes anywhere, the digest usually recomputed
            ByteMutator.mutate(&b, rng: &rng, donors: seeds)
            if rng.chance(0.8) { CheckpointTarget.fixDigest(&b) }
        }
        return b
    }

    func run(_ input: [UInt8]) -> FuzzOutcome {
        Scratch.write(path, input)
        var steps = Steps(naming: [path])
        steps.run {
            let checkpoint = try Checkpoint.read(path)
            let model = try checkpoint.makeModel()
            let optimizer = checkpoint.makeOptimizer()
            guard model.parameterCount == checkpoint.header.parameterCount, optimizer.m.count == model.parameterCount else {
                throw FuzzInvariant("checkpoint of \(checkpoint.header.parameterCount) parameters made a model of \(model.parameterCount)")
            }
        }
        return steps.outcome
    }
}
