import Foundation
import MixCore
import Pipeline
import Prep
import TestSupport
import XCTest

/// `docs/manifest.schema.json` against the manifests mixprep writes, in every
/// mode and encoding, and against manifests broken on purpose.
final class ManifestSchemaTests: XCTestCase {
    func testEveryModeAndEncodingConforms() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let variants: [(String, String)] = [
            ("sample", "[mix]\nmode = \"sample\"\np = 0.5"),
            ("batch", "[mix]\nmode = \"batch\"\nblock = 16\nsmoothing = 0.1"),
            ("cutmix", "[mix]\nmode = \"cutmix\"\np = 1.0\nalpha = 1.0"),
            ("none", "[mix]\nmode = \"none\"\n[shards]\ncodec = \"none\"\nfilter = \"none\"\nprovenance = false\nsamples_per_shard = 70"),
            ("recipe", "[train]\nepochs = 4\nlr_schedule = \"cosine\"\nwarmup_epochs = 1\nmin_lr = 1e-5\nweight_decay = 0.05\nema = 0.999"),
            ("step", "[train]\nlr_schedule = \"step\"\nstep_epochs = 3\nstep_gamma = 0.5"),
        ]
        for (name, section) in variants {
            let p = try Pipeline.parse("""
                name = "\(name)"
                seed = 9223372036854775807
                [dataset]
                path = "\(PrepFixtures.mini)"
                train_limit = 150
                test_limit = 40
                \(section)
                """)
            let dir = base + "/" + name
            _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 1, quiet: true))
            XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir), [], name)
        }
    }

    func testViolationsAreReported() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        _ = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, trainLimit: 100),
                               options: PrepOptions(outDirectory: dir, threads: 1, quiet: true))
        let schema = try TestSupport.manifestSchema()
        let text = String(decoding: try FileIO.read(dir + "/manifest.json"), as: UTF8.self)
        let broken: [(String, String, String)] = [
            ("\"formatVersion\" : 3", "\"formatVersion\" : 5", "$.formatVersion: int(5) is not one of the allowed values"),
            ("\"mode\" : \"sample\"", "\"mode\" : \"mixup\"", "$.pipeline.mix.mode: "),
            ("\"provenance\" : true", "\"provenance\" : 1", "$.pipeline.shards.provenance: expected boolean, got integer"),
            ("\"file\" : \"test/shard-00000.mxs\"", "\"file\" : \"../shard-0.mxs\"", "$.test.shards[0].file: "),
            ("\"trainCount\" : 100", "\"trainCount\" : 100, \"extra\" : 0", "$.source: unexpected key extra"),
            ("\"samples\" : 100,", "", "missing required key samples"),
        ]
        for (from, to, expected) in broken {
            XCTAssertTrue(text.contains(from), from)
            let problems = schema.problems(try JSONValue.parse(Data(text.replacingOccurrences(of: from, with: to).utf8)))
            XCTAssertTrue(problems.contains { $0.contains(expected) }, "\(expected) not in \(problems)")
        }
        XCTAssertEqual(schema.problems(try JSONValue.parse(Data(text.utf8))), [])
    }
}
