import MixCore
import Pipeline
import XCTest

final class PipelineTests: XCTestCase {
    func testShippedPipelinesParse() throws {
        for name in ["quickstart", "cifar10-mixup", "cifar10-baseline"] {
            let p = try Pipeline.load(PrepFixtures.repo + "/pipelines/\(name).toml")
            XCTAssertEqual(p.name, name)
        }
        let m = try Pipeline.load(PrepFixtures.repo + "/pipelines/cifar10-mixup.toml")
        XCTAssertEqual(m.mix.p, 0.2)
        XCTAssertEqual(m.mix.alpha, 0.2)
        XCTAssertEqual(m.shards.epochs, 30)
        XCTAssertEqual(m.train.batch, 128)
        XCTAssertEqual(m.train.lr, 1e-3)
        XCTAssertEqual(try Pipeline.load(PrepFixtures.repo + "/pipelines/cifar10-baseline.toml").mix.mode, .none)
    }

    func testErrorsNameTheKey() {
        let cases: [(String, String)] = [
            ("[mix]\nalpha = 0\n", "mix.alpha must be > 0"),
            ("[mix]\np = 1.5\n", "mix.p must be in [0, 1]"),
            ("[mix]\nsmoothing = 1.0\n", "mix.smoothing must be in [0, 1)"),
            ("[mix]\nmode = \"blend\"\n", "mix.mode must be one of"),
            ("[mix]\np = \"high\"\n", "mix.p must be a number"),
            ("[shards]\nlevel = 10\n", "shards.level must be from 1 to 9"),
            ("[shards]\ncodec = \"lz4\"\n", "f.toml: shards.codec must be one of none, zlib (got \"lz4\")"),
            ("[shards]\nstrategy = \"fast\"\n", "f.toml: shards.strategy must be one of default, filtered, huffman, rle (got \"fast\")"),
            ("[shards]\nfilter = \"png\"\n", "f.toml: shards.filter must be one of none, delta (got \"png\")"),
            ("[shards]\nfrobnicate = 1\n", "unknown key shards.frobnicate"),
            ("[train]\nwidths = [1, 2]\n", "train.widths must be 4"),
            // Upper limits (issue 10): sizes that would exhaust memory are refused naming the key.
            ("[train]\nbatch = 10000000\n", "train.batch must be from 1 to 4,096 (got 10000000)"),
            ("[train]\nwidths = [1, 1, 1, 1000000]\n", "train.widths must be 4 channel counts, each from 1 to 1,024 (got [1, 1, 1, 1000000])"),
            ("[train]\nhidden = 1000000000\n", "train.hidden must be from 1 to 8,192 (got 1000000000)"),
            ("[shards]\nsamples_per_chunk = 343000\n", "shards.samples_per_chunk must be from 1 to 65,536 (got 343000)"),
            ("colour = 3\n", "unknown key colour"),
            ("mix = 3\n", "mix must be a table"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Pipeline.parse(text + "\n[dataset]\npath = \"x\"\n", file: "f.toml"), text) {
                XCTAssertTrue("\($0)".hasPrefix("f.toml: "), "\($0)")
                XCTAssertTrue("\($0)".contains(expected), "\(text) → \($0)")
            }
        }
    }

    func testRelativeDatasetPathIsRelativeToTheFile() throws {
        let p = try Pipeline.load(PrepFixtures.repo + "/pipelines/quickstart.toml")
        XCTAssertTrue(FileIO.isDirectory(p.dataset.path), p.dataset.path)
    }
}
