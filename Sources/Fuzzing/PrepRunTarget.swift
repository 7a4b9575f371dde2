import MixCore
import Pipeline
import Prep
import ShardStore

/// `mixprep run` on fuzzed pipeline files (the pipeline target's mutants) through to the
/// manifest (issue 22): parsing alone never reaches the mixer, the augmentations, chunking or
/// the codecs with hostile settings (`mix.alpha = 1e-320` passed validation and trapped in the
/// mixer). An accepted pipeline runs kept small — the embedded CIFAR-10 subset, or the
/// `folders` image layout when it sets image-file keys; at most 96 training and 48 test images
/// and 2 epochs — and the directory it writes must verify.
final class PrepRunTarget: FuzzTarget {
    let pipelines: PipelineTarget
    let cifar: String
    let images: String
    let out: String

    init(context: FuzzContext) throws {
        pipelines = try PipelineTarget(context: context)
        cifar = context.root + "/data/cifar10-mini"
        images = context.root + "/Tests/DatasetsTests/Fixtures/layouts/folders"
        guard FileIO.isDirectory(cifar), FileIO.isDirectory(images) else {
            throw SetupError(description: "no \(cifar) or \(images)")
        }
        out = context.scratch + "/prep-out"
    }

    var seeds: [[UInt8]] { pipelines.seeds }

    /// The pipeline target's lines, and values that parse but reach the mixer at its edges.
    static let dictionary = PipelineTarget.dictionary + [
        "alpha = 1e-320", "alpha = 5e-324", "alpha = 0.001", "alpha = 1000000", "smoothing = 1e-320", "p = 1e-320",
        "p = 1", "crop_pad = 31", "crop_pad = 32", "flip = true", "samples_per_chunk = 1", "samples_per_shard = 1",
        "level = 9", "codec = \"none\"", "mode = \"cutmix\"", "mode = \"batch\"", "block = 1", "block = 97",
        "references = false", "provenance = false", "epochs = 2", "train_limit = 1", "test_limit = 1",
    ]

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        var bytes = rng.pick(pipelines.seeds)
        TextMutator.mutate(&bytes, rng: &rng, donors: pipelines.seeds, dictionary: PrepRunTarget.dictionary, maxStack: 5)
        return bytes
    }

    func run(_ input: [UInt8]) -> FuzzOutcome {
        let path = pipelines.path
        Scratch.write(path, input)
        Scratch.removeTree(out)
        defer { Scratch.removeTree(out) }
        var steps = Steps(naming: [path, out, cifar, images])
        var written = false
        steps.run {
            var p = try Pipeline.load(path)
            let d = p.dataset
            let imageKeys = d.size != nil || d.resize != nil || d.crop != nil || d.resample != nil || d.classes != nil
                || d.testFraction != nil
            p.dataset.path = imageKeys ? images : cifar
            p.dataset.trainLimit = p.dataset.trainLimit > 0 ? min(p.dataset.trainLimit, 96) : 96
            p.dataset.testLimit = p.dataset.testLimit > 0 ? min(p.dataset.testLimit, 48) : 48
            p.shards.epochs = min(max(p.shards.epochs, 1), 2)
            do { try p.validate() } catch let e as MixError { throw MixError("\(path): \(e.message)") }
            _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: out, threads: 1, quiet: true))
            written = true
        }
        if written {
            steps.run {
                let result = try Verifier.verify(directory: out, threads: 1)
                if let problem = result.problems.first { throw FuzzInvariant("an accepted pipeline wrote shards that do not verify: \(problem)") }
            }
        }
        return steps.outcome
    }
}
