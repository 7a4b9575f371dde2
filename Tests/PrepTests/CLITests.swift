import Foundation
import MixCore
import ShardFormat
import TestSupport
import XCTest

/// `mixprep` end to end, as a user runs it.
final class CLITests: XCTestCase {
    func testRunVerifyInspectExport() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let dir = base + "/shards"
        var (status, out, err) = try PrepFixtures.run(["run", PrepFixtures.repo + "/pipelines/quickstart.toml", "--out", dir, "--epochs", "1", "--limit", "600"])
        XCTAssertEqual(status, 0, err)
        XCTAssertTrue(out.contains("images/s"), out)
        XCTAssertTrue(out.contains("stored bytes/sample"), out)
        XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir), [])

        (status, out, err) = try PrepFixtures.run(["verify", dir])
        XCTAssertEqual(status, 0, err)
        XCTAssertTrue(out.contains("shards verified (OK)"), out)
        XCTAssertTrue(out.contains("λ histogram"), out)

        (status, out, err) = try PrepFixtures.run(["inspect", dir + "/train/epoch-000/shard-00000.mxs"])
        XCTAssertEqual(status, 0, err)
        XCTAssertTrue(out.contains("samples 600 in 3 chunks of ≤ 256"), out)
        XCTAssertTrue(out.contains(": MixShard v3, ") && out.contains(" 10 classes, labels sparse (smoothing 0), provenance yes"), out)

        // --dump: every sample decoded, as flat arrays (images, float32 labels, 32-byte v2 provenance).
        (status, _, err) = try PrepFixtures.run(["inspect", dir + "/train/epoch-000/shard-00000.mxs", "--dump", base + "/dump.bin"])
        XCTAssertEqual(status, 0, err)
        let dump = try FileIO.read(base + "/dump.bin")
        XCTAssertEqual(dump.count, 600 * (3072 + 4 * 10 + 32))
        let block = try ShardReader(path: dir + "/train/epoch-000/shard-00000.mxs").readAll()
        XCTAssertEqual(Array(dump[0..<(600 * 3072)]), block.images)

        (status, out, err) = try PrepFixtures.run(["export", dir, "--count", "12", "--mixed-only", "--out", base + "/export"])
        XCTAssertEqual(status, 0, err)
        let files = try FileIO.list(base + "/export")
        XCTAssertEqual(files.filter { $0.hasPrefix("sample-") }.count, 12)
        XCTAssertTrue(files.contains("contact-sheet.png") && files.contains("index.md"))
        let index = String(decoding: try FileIO.read(base + "/export/index.md"), as: UTF8.self)
        XCTAssertEqual(index.components(separatedBy: "\n").filter { $0.hasPrefix("| ") && $0.contains("png") }.count, 12)

        // Damage a shard: verify fails with a line naming file and chunk.
        let victim = dir + "/train/epoch-000/shard-00000.mxs"
        var bytes = try FileIO.read(victim)
        bytes[200] ^= 0x40
        try FileIO.writeAtomically(victim, bytes)
        (status, out, err) = try PrepFixtures.run(["verify", dir])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(err.contains("shard-00000.mxs: chunk 0:"), err)
    }

    func testBadInputIsOneLineAndNonZero() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        try FileIO.writeAtomically(base + "/bad.toml", "name = \"x\"\n[dataset]\npath = \"d\"\n[mix]\nalpha = -1\n")
        try FileIO.writeAtomically(base + "/unknown.toml", "[mix]\nbeta = 2\n")
        try FileIO.writeAtomically(base + "/syntax.toml", "[mix\n")
        let cases: [([String], String)] = [
            (["run", base + "/bad.toml"], "mix.alpha must be from 0.001 to 1,000,000 (got -1.0)"),
            (["run", base + "/unknown.toml"], "unknown key mix.beta"),
            (["run", base + "/syntax.toml"], "syntax.toml: line 1"),
            (["run", base + "/missing.toml"], "missing.toml: cannot open"),
            (["run", PrepFixtures.repo + "/pipelines/quickstart.toml", "--data", base + "/nowhere", "--out", base + "/o"], "nowhere: no such file"),
            (["verify", base], "no manifest.json"),
            (["inspect", base + "/bad.toml"], "bad.toml: header"),
        ]
        for (args, expected) in cases {
            let (status, _, err) = try PrepFixtures.run(args)
            XCTAssertNotEqual(status, 0, "\(args)")
            XCTAssertTrue(err.contains(expected), "\(args): \(err)")
            XCTAssertEqual(err.trimmingCharacters(in: .newlines).components(separatedBy: "\n").count, 1, "\(args): \(err)")
        }
        let (status, _, _) = try PrepFixtures.run(["run", "x.toml", "--worker", "3/2"])
        XCTAssertNotEqual(status, 0)
    }
}
