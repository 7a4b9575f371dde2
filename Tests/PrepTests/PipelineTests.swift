import MixCore
import Pipeline
import ShardFormat
import ShardStore
import ZlibKit
import Foundation
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
            ("[mix]\nalpha = 0\n", "mix.alpha must be from 0.001 to 1,000,000 (got 0.0)"),
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
            ("[shards]\nsource_codec = \"zstd\"\n", "f.toml: shards.source_codec must be one of none, zlib (got \"zstd\")"),
            ("[shards]\nsource_codec = 1\n", "shards.source_codec must be a string"),
            ("[shards]\nsource_samples_per_chunk = 0\n", "f.toml: shards.source_samples_per_chunk must be from 1 to 65,536 (got 0)"),
            ("[shards]\nsource_samples_per_chunk = 65537\n", "shards.source_samples_per_chunk must be from 1 to 65,536 (got 65537)"),
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

    /// `shards.source_codec` and `shards.source_samples_per_chunk` choose the source copy's
    /// encoding; unset, the defaults of `Pipeline.sourceEncoding` (compressed from 64×64); a v2
    /// directory's copy is uncompressed whatever they say. They round-trip through the manifest's
    /// JSON, absent when unset.
    func testSourceCopyKeys() throws {
        let cifarShape = SampleShape(channels: 3, height: 32, width: 32, classCount: 10)
        let plain = try Pipeline.parse("[dataset]\npath = \"x\"\n", file: "f.toml")
        XCTAssertNil(plain.shards.sourceCodec)
        XCTAssertNil(plain.shards.sourceSamplesPerChunk)
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(plain.shards), as: UTF8.self).contains("source_"))
        let cifar = plain.sourceEncoding(shape: cifarShape)
        XCTAssertEqual([cifar.codec, cifar.filter] as [AnyHashable], [Codec.none, ImageFilter.none])
        XCTAssertEqual(cifar.samplesPerChunk, (1 << 28) / 4 / (3072 + 12))  // v3: sparse label records
        XCTAssertFalse(cifar.provenance)
        for (h, w, codec) in [(63, 64, Codec.none), (64, 64, .zlib), (32, 128, .zlib), (224, 224, .zlib), (1, 4095, .none)] {
            let e = plain.sourceEncoding(shape: SampleShape(channels: 1, height: h, width: w, classCount: 10))
            XCTAssertEqual(e.codec, codec, "\(w)×\(h)")
            XCTAssertEqual(e.filter, codec == .zlib ? .delta : .none, "\(w)×\(h)")
            if codec == .zlib { XCTAssertEqual(e.samplesPerChunk, 1) }
        }
        let text = "[dataset]\npath = \"x\"\n[shards]\nsource_codec = \"zlib\"\nlevel = 3\nstrategy = \"huffman\"\n"
        let z = try Pipeline.parse(text, file: "f.toml")
        XCTAssertEqual(z.shards.sourceCodec, .zlib)
        let e = z.sourceEncoding(shape: cifarShape)
        XCTAssertEqual([e.codec, e.filter, e.strategy] as [AnyHashable], [Codec.zlib, ImageFilter.delta, DeflateStrategy.huffman])
        XCTAssertEqual([e.level, e.samplesPerChunk], [3, Pipeline.sourceSamplesPerChunkDefault])
        XCTAssertEqual(z.encoding(for: .source, shape: cifarShape), e)
        XCTAssertEqual(z.encoding(for: .train, shape: cifarShape), z.shards.encoding)
        let v2 = z.sourceEncoding(shape: SampleShape(channels: 3, height: 128, width: 128, classCount: 10), version: 2)
        XCTAssertEqual([v2.codec, v2.filter] as [AnyHashable], [Codec.none, ImageFilter.none])
        let n = try Pipeline.parse(text + "source_samples_per_chunk = 4\n", file: "f.toml")
        XCTAssertEqual(n.sourceEncoding(shape: cifarShape).samplesPerChunk, 4)
        var none = try Pipeline.parse("[dataset]\npath = \"x\"\n[shards]\nsource_codec = \"none\"\n", file: "f.toml")
        XCTAssertEqual(none.sourceEncoding(shape: SampleShape(channels: 3, height: 224, width: 224, classCount: 10)).codec, Codec.none)
        none.shards.sourceSamplesPerChunk = 9
        XCTAssertEqual(none.sourceEncoding(shape: cifarShape).samplesPerChunk, 9)
        let json = try JSONEncoder().encode(n.shards)
        XCTAssertTrue(String(decoding: json, as: UTF8.self).contains("\"source_codec\":\"zlib\""))
        XCTAssertEqual(try JSONDecoder().decode(ShardSection.self, from: json), n.shards)
        // A chunk of the source copy must fit the format's 256 MiB, named by its key.
        var big = n
        big.shards.sourceSamplesPerChunk = 60_000
        big.shards.references = true
        XCTAssertEqual(big.sourceCopyProblem(shape: SampleShape(channels: 3, height: 64, width: 64, classCount: 10)),
                       "shards.source_samples_per_chunk = 60000: a source-copy chunk of 60000 images of 12328 bytes exceeds the format's "
                       + "256 MiB per chunk; use at most 21774")
        XCTAssertNil(big.sourceCopyProblem(shape: SampleShape(channels: 3, height: 32, width: 32, classCount: 10)))
        // Readers bound a compressed copy's cache by MIXSHARDS_SOURCE_CACHE, default 1 GiB.
        XCTAssertEqual(try Manifest.sourceCacheBytes(environment: [:]), 1 << 30)
        XCTAssertEqual(try Manifest.sourceCacheBytes(environment: ["MIXSHARDS_SOURCE_CACHE": "256M"]), 256 << 20)
        XCTAssertEqual(try Manifest.sourceCacheBytes(environment: ["MIXSHARDS_SOURCE_CACHE": "1.5g"]), 3 << 29)
        for bad in ["", "0", "-1", "1e9", "12 G", "8T", "nan"] {
            XCTAssertThrowsError(try Manifest.sourceCacheBytes(environment: ["MIXSHARDS_SOURCE_CACHE": bad])) {
                XCTAssertEqual("\($0)", "MIXSHARDS_SOURCE_CACHE must be a size in bytes, optionally with K, M or G (got \(String(reflecting: bad)))")
            }
        }
        // ... or read it through an unpacked copy in MIXSHARDS_UNPACKED_SOURCE (unset or empty: none).
        XCTAssertNil(Manifest.unpackedSourceDirectory(environment: [:]))
        XCTAssertNil(Manifest.unpackedSourceDirectory(environment: ["MIXSHARDS_UNPACKED_SOURCE": ""]))
        XCTAssertEqual(Manifest.unpackedSourceDirectory(environment: ["MIXSHARDS_UNPACKED_SOURCE": "/scratch/u"]), "/scratch/u")
    }

    /// Every float key refuses TOML's nan, inf and -inf by name (issue 22), and `mix.alpha`
    /// values the Beta sampler cannot use (1e-320 gave λ = NaN and a trap) by its range.
    func testFloatKeysRefuseNaNInfinityAndUnusableAlphas() {
        let keys = [("dataset", "test_fraction"), ("mix", "p"), ("mix", "alpha"), ("mix", "smoothing"),
                    ("train", "lr"), ("train", "beta1"), ("train", "beta2"), ("train", "eps")]
        for (table, key) in keys {
            for (literal, shown) in [("nan", "nan"), ("+nan", "nan"), ("-nan", "nan"), ("inf", "inf"), ("+inf", "inf"), ("-inf", "-inf")] {
                let text = "[dataset]\npath = \"x\"\n" + (table == "dataset" ? "" : "[\(table)]\n") + "\(key) = \(literal)\n"
                XCTAssertThrowsError(try Pipeline.parse(text, file: "f.toml"), text) {
                    XCTAssertEqual("\($0)", "f.toml: \(table).\(key) must be a finite number (got \(shown))")
                }
            }
        }
        for (literal, shown) in [("1e-320", "1e-320"), ("5e-324", "5e-324"), ("0.0009", "0.0009"), ("1e7", "10000000.0")] {
            XCTAssertThrowsError(try Pipeline.parse("[dataset]\npath = \"x\"\n[mix]\nalpha = \(literal)\n", file: "f.toml"), literal) {
                XCTAssertEqual("\($0)", "f.toml: mix.alpha must be from 0.001 to 1,000,000 (got \(shown))")
            }
        }
        XCTAssertEqual(try Pipeline.parse("[dataset]\npath = \"x\"\n[mix]\nalpha = 0.001\n").mix.alpha, 0.001)
        XCTAssertEqual(try Pipeline.parse("[dataset]\npath = \"x\"\n[mix]\nalpha = 1_000_000\n").mix.alpha, 1_000_000)
        // Values that reach validation another way (a manifest's pipeline, code) are refused too.
        var p = try! Pipeline.parse("[dataset]\npath = \"x\"\n")
        p.train.eps = .infinity
        XCTAssertEqual(p.problems(), ["train.eps must be > 0 (got inf)"])
    }

    /// Issue 22: a class name is at most 256 bytes of UTF-8, in `dataset.classes` as anywhere.
    func testClassNamesAreBounded() throws {
        let text = "[dataset]\npath = \"x\"\nclasses = [\"a\", \"\(String(repeating: "b", count: 257))\"]\n"
        XCTAssertThrowsError(try Pipeline.parse(text, file: "f.toml")) {
            XCTAssertEqual("\($0)", "f.toml: dataset.classes: \"bbbbbbbbbbbbbbbbbbbbbbbb…\" is 257 bytes long; a class name is from 1 to 256 bytes of UTF-8")
        }
        let ok = "[dataset]\npath = \"x\"\nclasses = [\"a\", \"\(String(repeating: "b", count: 256))\"]\n"
        XCTAssertEqual(try Pipeline.parse(ok).dataset.classes?.last?.count, 256)
    }

    func testRelativeDatasetPathIsRelativeToTheFile() throws {
        let p = try Pipeline.load(PrepFixtures.repo + "/pipelines/quickstart.toml")
        XCTAssertTrue(FileIO.isDirectory(p.dataset.path), p.dataset.path)
    }
}
