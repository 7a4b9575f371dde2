import Foundation
import MixCore
import ShardFormat
import TestSupport
import XCTest
@testable import Fuzzing

/// The mutators: reproducible per case, and the shard mutator's re-encoding
/// yields files whose checksums hold, so mutants reach the deeper checks.
final class MutatorTests: XCTestCase {
    static var goldenDirectory: String { TestSupport.packageRoot + "/Tests/ShardFormatTests/Golden" }

    static func goldens() throws -> [(String, [UInt8])] {
        try Scratch.files(in: goldenDirectory, suffix: ".mxs").map { ($0, try FileIO.read($0)) }
    }

    func testCasesAreReproducibleAndDiffer() throws {
        let mutator = ShardMutator(seeds: try Self.goldens().map(\.1))
        var a = FuzzRNG(seed: 4, target: "shard", case: 10), b = FuzzRNG(seed: 4, target: "shard", case: 10)
        XCTAssertEqual(mutator.mutate(rng: &a), mutator.mutate(rng: &b))
        let distinct = Set((0..<50).map { n -> [UInt8] in
            var rng = FuzzRNG(seed: 4, target: "shard", case: UInt64(n))
            return mutator.mutate(rng: &rng)
        })
        XCTAssertGreaterThan(distinct.count, 45)
    }

    /// Case 582327 of seed 2 trapped in the mutator itself (a declared raw size of a chunk
    /// shorter than 8 bytes, minus up to 8, went negative); the worker must not die making an input.
    func testShardCaseThatTrappedTheMutator() throws {
        let mutator = ShardMutator(seeds: try Self.goldens().map(\.1))
        var rng = FuzzRNG(seed: 2, target: "shard", case: 582_327)
        XCTAssertFalse(mutator.mutate(rng: &rng).isEmpty)
    }

    /// Every golden shard taken apart and re-encoded by the fuzzer's own writer reads back as the same samples.
    func testReencodedGoldensReadBack() throws {
        let goldens = try Self.goldens()
        let source = try SourceImages(path: Self.goldenDirectory + "/golden-v2-source.mxs")
        let dir = NSTemporaryDirectory() + "mixshards-mutator-\(getpid())"
        try FileIO.makeDirectories(dir)
        for (path, bytes) in goldens {
            let model = try XCTUnwrap(ShardBytes.parse(bytes), path)
            let copy = dir + "/copy.mxs"
            try FileIO.writeAtomically(copy, model.encoded())
            XCTAssertEqual(try ShardReader(path: copy, source: source).readAll(), try ShardReader(path: path, source: source).readAll(), path)
        }
    }

    /// MixShard v3: a sparse label record or the header's ε edited behind valid CRCs is caught by
    /// the record rules (7a) and the header check, not by a checksum.
    func testSparseLabelMutantsGetPastTheChecksums() throws {
        let path = Self.goldenDirectory + "/golden-v3-sparse-zlib6-delta.mxs"
        let copy = NSTemporaryDirectory() + "mixshards-mutator-sparse-\(getpid()).mxs"
        var model = try XCTUnwrap(ShardBytes.parse(try FileIO.read(path)))
        XCTAssertTrue(model.sparseLabels)
        XCTAssertEqual(model.labelBytes, 12)
        // Sample 1's classB (record at the end of chunk 0's two images) set to K.
        ByteMutator.write(&model.chunks[0].raw, 3, at: model.storedRegion(model.chunks[0]) + 12 + 4, width: 4)
        try FileIO.writeAtomically(copy, model.encoded())
        XCTAssertThrowsError(try ShardReader(path: copy).readAll()) { error in
            XCTAssertEqual("\(error)", "\(copy): chunk 0: sample 1: sparse label classB 3 is not a class of the shard (it has 3)")
        }
        model = try XCTUnwrap(ShardBytes.parse(try FileIO.read(path)))
        ByteMutator.write(&model.header, UInt64(Float.nan.bitPattern), at: ShardBytes.labelSmoothingField.offset, width: 4)
        try FileIO.writeAtomically(copy, model.encoded())
        XCTAssertThrowsError(try ShardReader(path: copy)) { error in
            XCTAssertEqual("\(error)", "\(copy): header: labelSmoothing nan is not a number from 0 to 1")
        }
    }

    /// The mutator reaches the v3 label checks: of a few thousand cases, some fail on a sparse
    /// record and some on the label smoothing — and some v3 mutants still read.
    func testMutantsReachTheSparseLabelChecks() throws {
        let goldens = try Self.goldens()
        let mutator = ShardMutator(seeds: goldens.map(\.1))
        let source = try SourceImages(path: Self.goldenDirectory + "/golden-v2-source.mxs")
        let dir = NSTemporaryDirectory() + "mixshards-mutator-reach-\(getpid())"
        try FileIO.makeDirectories(dir)
        var record = 0, smoothing = 0, readV3 = 0
        for n in 0..<3000 {
            var rng = FuzzRNG(seed: 11, target: "shard", case: UInt64(n))
            let bytes = mutator.mutate(rng: &rng)
            try FileIO.writeAtomically(dir + "/m.mxs", bytes)
            do {
                let r = try ShardReader(path: dir + "/m.mxs", source: source)
                _ = try r.readAll()
                if r.header.labelType == .sparse { readV3 += 1 }
            } catch {
                let text = "\(error)"
                if text.contains(": sparse label ") { record += 1 }
                if text.contains("header: labelSmoothing ") { smoothing += 1 }
            }
        }
        XCTAssertGreaterThan(record, 10)
        XCTAssertGreaterThan(smoothing, 5)
        XCTAssertGreaterThan(readV3, 10)
    }

    /// The shard mutator edits v4 op records behind valid CRCs, so the fuzzer reaches rule 7b.
    func testMutantsReachTheOpRecordChecks() throws {
        let goldens = try Self.goldens()
        let mutator = ShardMutator(seeds: goldens.map(\.1))
        let source = try SourceImages(path: Self.goldenDirectory + "/golden-v2-source.mxs")
        let dir = NSTemporaryDirectory() + "mixshards-mutator-ops-\(getpid())"
        try FileIO.makeDirectories(dir)
        var ops = 0, readV4 = 0
        for n in 0..<3000 {
            var rng = FuzzRNG(seed: 12, target: "shard", case: UInt64(n))
            let bytes = mutator.mutate(rng: &rng)
            try FileIO.writeAtomically(dir + "/m.mxs", bytes)
            do {
                let r = try ShardReader(path: dir + "/m.mxs", source: source)
                _ = try r.readAll()
                if r.header.version == 4 { readV4 += 1 }
            } catch {
                if "\(error)".contains(": ops: ") { ops += 1 }
            }
        }
        XCTAssertGreaterThan(ops, 10)
        XCTAssertGreaterThan(readV4, 10)
    }

    /// A label edited to NaN behind valid CRCs is caught by the label check (a weight must be in [0, 1]), not by a checksum.
    func testPayloadMutantsGetPastTheChecksums() throws {
        let path = Self.goldenDirectory + "/golden-v2-zlib6-none.mxs"
        var model = try XCTUnwrap(ShardBytes.parse(try FileIO.read(path)))
        let labelStart = model.storedRegion(model.chunks[0])
        ByteMutator.write(&model.chunks[0].raw, UInt64(Float.nan.bitPattern), at: labelStart, width: 4)
        let copy = NSTemporaryDirectory() + "mixshards-mutator-nan-\(getpid()).mxs"
        try FileIO.writeAtomically(copy, model.encoded())
        XCTAssertThrowsError(try ShardReader(path: copy).readAll()) { error in
            XCTAssertEqual("\(error)", "\(copy): chunk 0: sample 0: label weight nan of class 0 is not in [0, 1]")
        }
        // Bytes flipped anywhere, then fixChecksums: the header and index CRCs hold again.
        var bytes = try FileIO.read(path)
        bytes[20] ^= 0x40  // chunkCount
        ShardBytes.fixChecksums(&bytes, deep: true)
        try FileIO.writeAtomically(copy, bytes)
        XCTAssertThrowsError(try ShardReader(path: copy)) { error in
            XCTAssertFalse("\(error)".contains("CRC"), "\(error)")
        }
    }
}
