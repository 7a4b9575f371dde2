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

    func generate(rng: inout FuzzRNG) -> [UInt8] { pipelines.generate(rng: &rng) }

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
