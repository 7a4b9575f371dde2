import Foundation
import MixCore
import Pipeline
import ShardStore

/// Pipeline files: the committed `pipelines/*.toml`, mutated as TOML text
/// (values, keys, tables, lines from a dictionary of hostile ones), read with
/// `Pipeline.load`; an accepted pipeline must also encode into a manifest
/// (JSON) and decode back unchanged, as `mixprep run` relies on.
final class PipelineTarget: FuzzTarget {
    static let dictionary = [
        "[train]", "[mix]", "[shards]", "[dataset]", "[augment]", "[[mix]]", "[train.widths]", "widths = [1, 1, 1, 1000000]",
        "hidden = 1000000000", "batch = 10000000", "name = \"../../x\"", "name = \"\"", "name = \"a\\nb\"", "seed = -1",
        "seed = 18446744073709551615", "a.b.c = 1", "x = 1979-05-27T07:32:00Z", "alpha = inf", "p = nan", "lr = -0.0",
        "samples_per_chunk = 65537", "samples_per_shard = 0", "epochs = 100001", "crop_pad = 1000", "codec = \"lz4\"",
        "level = 0", "strategy = \"fast\"", "filter = \"png\"", "mode = \"mixup\"", "smoothing = 1.5", "block = 0",
        "train_limit = -5", "path = \"\"", "widths = []", "widths = [[1]]", "deep = " + String(repeating: "[", count: 300)
            + String(repeating: "]", count: 300), "x = { a = { b = { c = 1 } } }", "key = '''multi\nline'''",
        "\"quoted key\" = 1", "provenance = \"yes\"", "references = true", "beta1 = 1", "eps = 0",
        // Every kind of TOML value, so mutants reach toml++'s value parsers.
        "x = 1979-05-27T07:32:00Z", "x = [1979-05-27T07:32:00.999999-07:00, 07:32:00, 1979-05-27]", "x = 1979-05-27 07:32:00",
        "x = { a = [1, { b = 2 }], c.d = \"e\" }", "x = [[1], [2.5], [\"s\"], { a = 1 }]", "x = 0x7fffffffffffffff",
        "x = 0o777", "x = 0b1010", "x = 1_000.5e+3", "x = +inf", "x = -nan", "x = \"\\u00e9\\U0001F600\\t\"",
        "x = '''\nraw\n'''", "a.\"b\".'c' = 1", "x = [ ]", "x = 07:32:00.5", "x = 1e-7", "x = -0.0",
    ]

    let seeds: [[UInt8]]
    let path: String

    init(context: FuzzContext) throws {
        let files = Scratch.files(in: context.root + "/pipelines", suffix: ".toml")
        guard !files.isEmpty else { throw SetupError(description: "no pipelines in \(context.root)/pipelines") }
        seeds = try files.map { try FileIO.read($0) }
        try FileIO.makeDirectories(context.scratch + "/pipelines")
        path = context.scratch + "/pipelines/fuzz.toml"
    }

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        var bytes = rng.pick(seeds)
        TextMutator.mutate(&bytes, rng: &rng, donors: seeds, dictionary: PipelineTarget.dictionary, maxStack: 5)
        return bytes
    }

    func run(_ input: [UInt8]) -> FuzzOutcome {
        Scratch.write(path, input)
        var steps = Steps(naming: [path])
        steps.run {
            let pipeline = try Pipeline.load(path)
            let json = try Manifest.canonicalJSON(pipeline)
            let back = try JSONDecoder().decode(Pipeline.self, from: Data(json))
            guard back == pipeline else { throw FuzzInvariant("pipeline changed in a JSON round trip") }
        }
        return steps.outcome
    }
}
