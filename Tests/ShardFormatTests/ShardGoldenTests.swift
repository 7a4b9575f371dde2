import MixCore
import ShardFormat
import ZlibKit
import XCTest

/// Byte-exact golden files. Regenerate (after a deliberate format change, with a
/// version bump) with MIXSHARDS_WRITE_GOLDEN=1 and review the diff.
final class ShardGoldenTests: XCTestCase {
    static let cases: [(String, ShardEncoding)] = [
        ("golden-none-delta.mxs", ShardEncoding(codec: .none, level: 1, strategy: .standard, filter: .delta, samplesPerChunk: 2, provenance: true)),
        ("golden-zlib6-none.mxs", ShardEncoding(codec: .zlib, level: 6, strategy: .standard, filter: .none, samplesPerChunk: 2, provenance: false)),
    ]

    func testGoldenBytes() throws {
        for (name, enc) in Self.cases {
            let bytes = ShardWriter.encode(ShardFixtures.goldenBlock(), encoding: enc, split: .train, epoch: 1, shardIndex: 2)
            let path = ShardFixtures.goldenDirectory + "/" + name
            if ProcessInfo.processInfo.environment["MIXSHARDS_WRITE_GOLDEN"] == "1" {
                let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Golden/" + name
                try FileIO.writeAtomically(source, bytes)
                continue
            }
            XCTAssertEqual(bytes, try FileIO.read(path), name)
        }
    }

    /// The golden file read field by field against DESIGN.md's table, independently of the writer.
    func testGoldenLayoutFieldByField() throws {
        let b = try FileIO.read(ShardFixtures.goldenDirectory + "/golden-none-delta.mxs")
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        XCTAssertEqual(Array(b[0..<8]), Array("MIXSHRD1".utf8))
        XCTAssertEqual(u16(8), 1)           // version
        XCTAssertEqual(u16(10), 64)         // headerBytes
        XCTAssertEqual(u32(12), 1)          // flags: provenance
        XCTAssertEqual(u32(16), 3)          // sampleCount
        XCTAssertEqual(u32(20), 2)          // chunkCount
        XCTAssertEqual(u32(24), 2)          // samplesPerChunk
        XCTAssertEqual([u16(28), u16(30), u16(32), u16(34)], [2, 2, 3, 3]) // C H W K
        XCTAssertEqual(Array(b[36..<41]), [0, 0, 0, 1, 0]) // pixel u8, label f32, codec none, delta, train
        XCTAssertEqual(Array(b[41..<48]), [UInt8](repeating: 0, count: 7))
        XCTAssertEqual(u32(48), 1)          // epoch
        XCTAssertEqual(u32(52), 2)          // shardIndex
        XCTAssertEqual(u32(56), 0)
        XCTAssertEqual(u32(60), b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<60])) })
        // Chunk 0: 2 samples × (12 image + 12 label + 12 provenance) = 72 raw bytes, stored as is.
        let footer = b.count - 32
        XCTAssertEqual(Array(b[(footer + 24)...]), Array("MIXSHEND".utf8))
        let indexOffset = Int(u64(footer))
        XCTAssertEqual(u32(footer + 8), 2)
        XCTAssertEqual(u32(footer + 16), 3)
        XCTAssertEqual(b.count, indexOffset + 2 * 32 + 32)
        XCTAssertEqual(u32(footer + 12), b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[indexOffset..<(indexOffset + 64)])) })
        XCTAssertEqual(u64(indexOffset), 64)                // chunk 0 offset
        XCTAssertEqual(u32(indexOffset + 8), 72)            // stored
        XCTAssertEqual(u32(indexOffset + 12), 72)           // raw
        XCTAssertEqual(u32(indexOffset + 16), 0)            // firstSample
        XCTAssertEqual(u32(indexOffset + 20), 2)            // sampleCount
        XCTAssertEqual(u64(indexOffset + 32), 64 + 72)      // chunk 1 offset
        XCTAssertEqual(u32(indexOffset + 48), 2)            // chunk 1 firstSample
        XCTAssertEqual(u32(indexOffset + 52), 1)            // chunk 1 sampleCount
        // Chunk 0's image region, delta-filtered row by row: 0,20,40 → 0,20,20.
        XCTAssertEqual(Array(b[64..<70]), [0, 20, 20, 60, 20, 20])
        // Labels of sample 1 start after 2 images (24 bytes) + sample 0's 12 label bytes: 0, 0.25, 0.75.
        XCTAssertEqual(Array(b[(64 + 24 + 12)..<(64 + 24 + 24)]),
                       [0, 0, 0, 0, 0, 0, 0x80, 0x3E, 0, 0, 0x40, 0x3F])
        // Provenance of sample 1: primary 0, partner 9, lambda 0.25.
        XCTAssertEqual(Array(b[(64 + 48 + 12)..<(64 + 48 + 24)]), [0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0x80, 0x3E])
        // rawCRC is over the unfiltered payload.
        let block = ShardFixtures.goldenBlock()
        var raw = Array(block.images[0..<24])
        for v in block.labels[0..<6] { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        for p in block.provenance[0..<2] {
            withUnsafeBytes(of: p.primary.littleEndian) { raw += $0 }
            withUnsafeBytes(of: p.partner.littleEndian) { raw += $0 }
            withUnsafeBytes(of: p.lambda.bitPattern.littleEndian) { raw += $0 }
        }
        XCTAssertEqual(u32(indexOffset + 24), Zlib.crc32(raw))
    }
}
