import MixCore
import ShardFormat
import ShardTestSupport
import ZlibKit
import XCTest

/// MixShard v4 op records (DESIGN.md, "Op record"): the golden file field by field, round trips,
/// and rule 7b, each refusal one line naming file, chunk and sample.
final class OpRecordTests: XCTestCase {
    static let path = ShardFixtures.goldenDirectory + "/golden-v4-ops.mxs"

    /// The v4 golden read field by field against DESIGN.md's op-record table, independently of the writer.
    func testV4GoldenLayoutFieldByField() throws {
        let b = try FileIO.read(Self.path)
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        func f32(_ o: Int) -> Float { Float(bitPattern: u32(o)) }
        XCTAssertEqual(u16(8), 4)                        // version
        XCTAssertEqual(u32(12), 3)                       // flags: provenance | references (no new flag)
        let indexOffset = b.count - 32 - 2 * 32
        // Chunk 0: 1 stored image (12 bytes), 2 label records, 2 provenance records, 2 op records of 176 bytes.
        let chunkRaw: UInt32 = 12 + 2 * 12 + 2 * 32 + 2 * 176
        XCTAssertEqual(u32(indexOffset + 12), chunkRaw)
        let ops0: Int = 164, ops1: Int = ops0 + 176  // header 64, image 12, labels 24, provenance 64
        // Sample 0 (a reference): one identity op for the primary, the same for the partner; no erasing.
        XCTAssertEqual(Array(b[ops0..<(ops0 + 4)]), [1, 0, 0, 0])
        XCTAssertEqual(Array(b[(ops0 + 16)..<(ops0 + 24)]), [0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(b[(ops0 + 80)..<(ops0 + 84)]), [1, 0, 0, 0])
        XCTAssertEqual(Array(b[(ops0 + 160)..<(ops0 + 176)]), Array(repeating: 0, count: 16))
        // Sample 1: primary count 3, flags 1 (resized crop), box top 0, left 1, 2×2.
        XCTAssertEqual([Int(b[ops1]), Int(b[ops1 + 1]), u16(ops1 + 2)], [3, 1, 0])
        XCTAssertEqual([u16(ops1 + 4), u16(ops1 + 6), u16(ops1 + 8), u16(ops1 + 10)], [0, 1, 2, 2])
        XCTAssertEqual(u32(ops1 + 12), 0)
        // Slots {id u8, reserved ×3, magnitude f32}: Rotate (5) −12.5, Brightness (6) 0.25, Hue (14) −0.05.
        XCTAssertEqual([Int(b[ops1 + 16]), Int(b[ops1 + 24]), Int(b[ops1 + 32]), Int(b[ops1 + 40])], [5, 6, 14, 0])
        XCTAssertEqual([f32(ops1 + 20), f32(ops1 + 28), f32(ops1 + 36)], [-12.5, 0.25, -0.05])
        // Partner at +80: Posterize (10) 6, no crop.
        XCTAssertEqual([Int(b[ops1 + 80]), Int(b[ops1 + 81]), Int(b[ops1 + 96])], [1, 0, 10])
        XCTAssertEqual(f32(ops1 + 100), 6)
        // Erasing at +160: fill 1 (zero), top 1, left 0, 1×2.
        XCTAssertEqual(Array(b[(ops1 + 160)..<(ops1 + 164)]), [1, 0, 0, 0])
        XCTAssertEqual([u16(ops1 + 164), u16(ops1 + 166), u16(ops1 + 168), u16(ops1 + 170)], [1, 0, 1, 2])
        XCTAssertEqual(u32(ops1 + 172), 0)
        // The file reads back as the block, ops included, and a v3 reader's part is unchanged.
        let source = try SourceImages(path: ShardFixtures.goldenDirectory + "/golden-v2-source.mxs")
        let block = try ShardReader(path: Self.path, source: source).readAll()
        XCTAssertEqual(block, ShardFixtures.goldenV4OpsBlock())
        XCTAssertEqual(block.provenance[2].erasing, Erasing(fill: .random, box: CropBox(top: 0, left: 1, height: 1, width: 1)))
        XCTAssertEqual(block.images, ShardFixtures.goldenSparseAugmentedBlock().images)
        // What `mixprep inspect --samples` adds to a sample's line (python/tests/test_golden.py: the same text).
        XCTAssertEqual(block.provenance.map { $0.hasOps ? " " + $0.opsSummary : "" },
                       [" ops Identity(0)",
                        " ops ResizedCrop(0,1,2×2) Rotate(-12.5) Brightness(0.25) Hue(-0.05) | Posterize(6); erase zero (1,0,1×2)",
                        " ops - | -; erase random (0,1,1×1)", ""])
    }

    /// Without any op, the writer's v3 bytes are what they were (no op section), and v4 stores the
    /// same samples with zero op records.
    func testV3BytesUnchangedAndV4RoundTripWithoutOps() throws {
        var e = ShardEncoding(codec: .none, level: 1, strategy: .standard, filter: .none, samplesPerChunk: 2, provenance: true)
        e.version = 3
        let block = ShardFixtures.goldenSparseAugmentedBlock()
        let v3 = ShardWriter.encode(block, encoding: e, split: .train, epoch: 1, shardIndex: 2)
        XCTAssertEqual(v3, try FileIO.read(ShardFixtures.goldenDirectory + "/golden-v3-sparse-augment.mxs"))
        e.version = 4
        let v4 = ShardWriter.encode(block, encoding: e, split: .train, epoch: 1, shardIndex: 2)
        XCTAssertEqual(v4.count, v3.count + 4 * 176)
        let path = NSTemporaryDirectory() + "/v4-no-ops-\(getpid()).mxs"
        defer { unlink(path) }
        try FileIO.writeAtomically(path, v4)
        let source = try SourceImages(path: ShardFixtures.goldenDirectory + "/golden-v2-source.mxs")
        XCTAssertEqual(try ShardReader(path: path, source: source).readAll(), block)
    }

    /// Rule 7b: each malformed op record is refused with one line naming file, chunk and sample.
    func testMalformedOpRecordsAreRefused() throws {
        let golden = try FileIO.read(Self.path)
        let ops0: Int = 164, ops1: Int = ops0 + 176
        let cases: [(Int, [UInt8], String)] = [
            (ops1, [9], "sample 1: ops: the primary records 9 ops, at most 8"),
            (ops1 + 1, [3], "sample 1: ops: the primary's record has unknown flags 3 or non-zero reserved bytes"),
            (ops1 + 8, [3], "sample 1: ops: the primary's resized crop (top 0, left 1, 3×2) is not a box within the 3×2 image"),
            (ops1 + 16, [15], "sample 1: ops: the primary's op 0 has unknown id 15"),
            (ops1 + 25, [1], "sample 1: ops: the primary's op 1 has non-zero reserved bytes"),
            (ops1 + 20, [0, 0, 0xC0, 0x7F], "sample 1: ops: the primary's op 0 (Rotate) has magnitude nan"),
            (ops1 + 40, [6], "sample 1: ops: the primary's op slot 3 is beyond its 3 ops but not zero"),
            (ops1 + 161, [1], "sample 1: ops: the erasing record has non-zero reserved bytes"),
            (ops1 + 160, [3], "sample 1: ops: erasing fill 3 is unknown"),
            (ops1 + 168, [2], "sample 1: ops: the erased box (top 1, left 0, 2×2) is not a box within the 3×2 image"),
            (ops1 + 160, [0], "sample 1: ops: an erasing box without a fill"),
            (ops0 + 16, [5], "sample 0: ops: a copy must record the same ops for primary and partner"),
            (ops0 + 160, [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0], "sample 0: ops: a reference has ops other than the identity (its pixels must be stored)"),
        ]
        let path = NSTemporaryDirectory() + "/v4-bad-\(getpid()).mxs"
        defer { unlink(path) }
        for (offset, patch, expected) in cases {
            var bytes = golden
            bytes.replaceSubrange(offset..<(offset + patch.count), with: patch)
            var crafted = CraftedShard(bytes)
            // Chunk 0 is stored as is (codec none): recompute its rawCRC (index field 24).
            let stored = Int(UInt32(bytes[bytes.count - 96 + 8]) | UInt32(bytes[bytes.count - 96 + 9]) << 8)
            let crc = bytes.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[64..<(64 + stored)])) }
            crafted.index(chunk: 0, 24, crc)
            let message = try ShardFixtures.readFailure(crafted.bytes, at: path, file: #filePath, line: #line)
            XCTAssertEqual(message, "\(path): chunk 0: \(expected)")
        }
    }
}
