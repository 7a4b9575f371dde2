import MixCore
import ShardFormat
import ZlibKit
import XCTest

/// Byte-exact golden files. Regenerate (after a deliberate format change, with a
/// version bump) with MIXSHARDS_WRITE_GOLDEN=1 and review the diff.
final class ShardGoldenTests: XCTestCase {
    static func encoding(_ codec: Codec, level: Int, filter: ImageFilter, provenance: Bool, version: UInt16) -> ShardEncoding {
        var e = ShardEncoding(codec: codec, level: level, strategy: .standard, filter: filter, samplesPerChunk: 2, provenance: provenance)
        e.version = version
        return e
    }

    /// (file, block, encoding, split). The v1 files were written by mixshards 0.1–0.2, the v2 files by 0.3–0.4,
    /// and must never change. The v3 files hold sparse labels (and one, dense rows, which v3 still reads).
    static let cases: [(String, SampleBlock, ShardEncoding, Split)] = [
        ("golden-none-delta.mxs", ShardFixtures.goldenBlock(), encoding(.none, level: 1, filter: .delta, provenance: true, version: 1), .train),
        ("golden-zlib6-none.mxs", ShardFixtures.goldenBlock(), encoding(.zlib, level: 6, filter: .none, provenance: false, version: 1), .train),
        ("golden-v2-none-delta.mxs", ShardFixtures.goldenBlock(), encoding(.none, level: 1, filter: .delta, provenance: true, version: 2), .train),
        ("golden-v2-zlib6-none.mxs", ShardFixtures.goldenBlock(), encoding(.zlib, level: 6, filter: .none, provenance: false, version: 2), .train),
        ("golden-v2-augment.mxs", ShardFixtures.goldenAugmentedBlock(), encoding(.none, level: 1, filter: .none, provenance: true, version: 2), .train),
        ("golden-v2-augment-zlib.mxs", ShardFixtures.goldenAugmentedBlock(), encoding(.zlib, level: 6, filter: .delta, provenance: true, version: 2), .train),
        ("golden-v2-source.mxs", ShardFixtures.goldenSourceBlock(), encoding(.none, level: 1, filter: .none, provenance: false, version: 2), .source),
        ("golden-v3-sparse-augment.mxs", ShardFixtures.goldenSparseAugmentedBlock(), encoding(.none, level: 1, filter: .none, provenance: true, version: 3), .train),
        ("golden-v3-sparse-zlib6-delta.mxs", ShardFixtures.goldenSparseBlock(), encoding(.zlib, level: 6, filter: .delta, provenance: true, version: 3), .train),
        ("golden-v3-dense-none.mxs", ShardFixtures.goldenBlock(), encoding(.none, level: 1, filter: .none, provenance: false, version: 3), .test),
        ("golden-v3-source-zlib.mxs", ShardFixtures.goldenSourceBlock(), compressedSource, .source),
        ("golden-v4-ops.mxs", ShardFixtures.goldenV4OpsBlock(), encoding(.none, level: 1, filter: .none, provenance: true, version: 4), .train),
        ("golden-v4-ops-zlib6-delta.mxs", ShardFixtures.goldenV4OpsBlock(), encoding(.zlib, level: 6, filter: .delta, provenance: true, version: 4), .train),
    ]

    /// A v3 compressed source copy as `mixprep` writes one by default: zlib level 1, `rle`, the
    /// delta filter, one image per chunk.
    static let compressedSource: ShardEncoding = {
        var e = ShardEncoding(codec: .zlib, level: 1, strategy: .rle, filter: .delta, samplesPerChunk: 1, provenance: false)
        e.version = 3
        return e
    }()

    func testGoldenBytes() throws {
        for (name, block, enc, split) in Self.cases {
            let bytes = ShardWriter.encode(block, encoding: enc, split: split, epoch: 1, shardIndex: 2)
            let path = ShardFixtures.goldenDirectory + "/" + name
            if ProcessInfo.processInfo.environment["MIXSHARDS_WRITE_GOLDEN"] == "1" {
                let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Golden/" + name
                try FileIO.writeAtomically(source, bytes)
                continue
            }
            XCTAssertEqual(bytes, try FileIO.read(path), name)
        }
    }

    /// Every golden file reads back as the block it was written from — v1 files included,
    /// and the v2 files with references resolved from the golden source copy.
    func testGoldenFilesRead() throws {
        let source = try SourceImages(path: ShardFixtures.goldenDirectory + "/golden-v2-source.mxs")
        XCTAssertEqual(source.count, 4)
        for (name, block, enc, _) in Self.cases {
            let reader = try ShardReader(path: ShardFixtures.goldenDirectory + "/" + name, source: source)
            XCTAssertEqual(reader.header.version, enc.version, name)
            var expected = block
            if !enc.provenance { expected.provenance = [] }
            XCTAssertEqual(try reader.readAll(), expected, name)
        }
        // Without the source copy, the references cannot be resolved: one line naming file and chunk.
        let path = ShardFixtures.goldenDirectory + "/golden-v2-augment.mxs"
        XCTAssertThrowsError(try ShardReader(path: path).readAll()) { error in
            XCTAssertEqual("\(error)", "\(path): chunk 0: 1 samples are references to the source copy; read the shard within its shard directory (source/train.mxs)")
        }
    }

    /// The v3 sparse golden read field by field against DESIGN.md's tables, independently of the writer.
    func testV3GoldenLayoutFieldByField() throws {
        let b = try FileIO.read(ShardFixtures.goldenDirectory + "/golden-v3-sparse-augment.mxs")
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        func f32(_ o: Int) -> Float { Float(bitPattern: u32(o)) }
        XCTAssertEqual(Array(b[0..<8]), Array("MIXSHRD1".utf8))
        XCTAssertEqual(u16(8), 3)                        // version
        XCTAssertEqual(u32(12), 3)                       // flags: provenance | references
        XCTAssertEqual([u16(28), u16(30), u16(32), u16(34)], [2, 2, 3, 3]) // C H W K
        XCTAssertEqual(Array(b[36..<41]), [0, 2, 0, 0, 0]) // pixel u8, labels sparse, codec none, filter none, train
        XCTAssertEqual(u32(56), Float(0.1).bitPattern)   // labelSmoothing ε, binary32
        XCTAssertEqual(u32(56), 0x3DCC_CCCD)
        XCTAssertEqual(u32(60), b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<60])) })
        let indexOffset = Int(u64(b.count - 32))
        // Chunk 0: samples 0 (reference) and 1: 1 image of 12 bytes + 2 × 12 label bytes + 2 × 32 provenance.
        XCTAssertEqual(u32(indexOffset + 12), 12 + 2 * 12 + 2 * 32)  // rawBytes
        XCTAssertEqual(u32(indexOffset + 28), 1)                     // imageCount
        // The label records follow the stored image: {classA u32, classB u32, weight f32}.
        let l0 = 64 + 12
        XCTAssertEqual([u32(l0), u32(l0 + 4)], [1, 1])
        XCTAssertEqual(f32(l0 + 8), 1)
        XCTAssertEqual([u32(l0 + 12), u32(l0 + 16)], [0, 2])
        XCTAssertEqual(f32(l0 + 20), 0.25)
        // Then the provenance, as in v2: sample 1's λ is its record's weight.
        let r1 = l0 + 24 + 32
        XCTAssertEqual([u32(r1), u32(r1 + 4), u32(r1 + 8)], [0, 3, Float(0.25).bitPattern])
        XCTAssertEqual(Int(b[r1 + 12]), 1)  // blend
        // Chunk 1: samples 2 (cutmix, stored) and 3 (reference).
        let c1 = Int(u64(indexOffset + 32))
        XCTAssertEqual(u32(indexOffset + 32 + 12), 12 + 2 * 12 + 2 * 32)
        XCTAssertEqual([u32(c1 + 12), u32(c1 + 16)], [2, 1])
        XCTAssertEqual(f32(c1 + 20), Float(4) / 6)
        XCTAssertEqual([u32(c1 + 24), u32(c1 + 28)], [0, 0])
        XCTAssertEqual(f32(c1 + 32), 1)
        // The rows a reader yields are rule 12's: sample 1 = 0.9·(¼ at class 0, ¾ at class 2) + 0.1/3.
        let source = try SourceImages(path: ShardFixtures.goldenDirectory + "/golden-v2-source.mxs")
        let rows = try ShardReader(path: ShardFixtures.goldenDirectory + "/golden-v3-sparse-augment.mxs", source: source).readAll().rows
        let eps: Float = 0.1, add = eps / 3
        XCTAssertEqual(Array(rows[3..<6]), [(1 - eps) * 0.25 + add, (1 - eps) * 0 + add, (1 - eps) * 0.75 + add])
        // The v3 file with dense rows: labelType 0 and ε 0.
        let d = try FileIO.read(ShardFixtures.goldenDirectory + "/golden-v3-dense-none.mxs")
        XCTAssertEqual([Int(d[8]), Int(d[37]), Int(d[40])], [3, 0, 1])
        XCTAssertEqual(Array(d[56..<60]), [0, 0, 0, 0])
    }

    /// The v2 reference shards resolve from the v3 compressed source copy to the same bytes as from
    /// the uncompressed one, each source chunk inflated once and its rawCRC checked then.
    func testCompressedGoldenSourceResolvesReferences() throws {
        let raw = try SourceImages(path: ShardFixtures.goldenDirectory + "/golden-v2-source.mxs")
        let compressed = try SourceImages(path: ShardFixtures.goldenDirectory + "/golden-v3-source-zlib.mxs")
        XCTAssertFalse(raw.isCompressed)
        XCTAssertTrue(compressed.isCompressed)
        XCTAssertEqual(compressed.count, 4)
        for k in 0..<4 {
            let a = try raw.withImage(k) { Array(UnsafeBufferPointer(start: $0, count: 12)) }
            let b = try compressed.withImage(k) { Array(UnsafeBufferPointer(start: $0, count: 12)) }
            XCTAssertEqual(a, Array(ShardFixtures.goldenSourceImages()[(12 * k)..<(12 * k + 12)]))
            XCTAssertEqual(b, a, "source image \(k)")
        }
        for name in ["golden-v2-augment.mxs", "golden-v2-augment-zlib.mxs"] {
            let path = ShardFixtures.goldenDirectory + "/" + name
            XCTAssertEqual(try ShardReader(path: path, source: compressed).readAll(), ShardFixtures.goldenAugmentedBlock(), name)
        }
        // 4 chunks of one image each were inflated once; every other request was served from memory.
        let stats = compressed.cacheStatistics
        XCTAssertEqual(stats.inflated, 4)
        XCTAssertEqual(stats.evicted, 0)
        XCTAssertEqual(stats.residentBytes, 4 * (12 + 3 * 4))
        XCTAssertEqual(stats.hits, 4)  // the 4 references (2 per file); the 4 withImage calls inflated
    }

    /// The v3 compressed source golden read field by field: header, one chunk per image, each a zlib
    /// stream of the delta-filtered image and its one-hot label row, rawCRC over the unfiltered payload.
    func testCompressedSourceGoldenLayout() throws {
        let b = try FileIO.read(ShardFixtures.goldenDirectory + "/golden-v3-source-zlib.mxs")
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        XCTAssertEqual(u16(8), 3)                                    // version
        XCTAssertEqual(u32(12), 0)                                   // flags: no provenance
        XCTAssertEqual([u32(16), u32(20), u32(24)], [4, 4, 1])       // 4 samples in 4 chunks of 1
        XCTAssertEqual(Array(b[36..<41]), [0, 0, 1, 1, 2])           // u8, f32, zlib, delta, source
        XCTAssertEqual(u32(48), 0xFFFF_FFFF)
        let indexOffset = Int(u64(b.count - 32))
        let images = ShardFixtures.goldenSourceImages(), block = ShardFixtures.goldenSourceBlock()
        var next = 64
        for c in 0..<4 {
            let e = indexOffset + 32 * c
            XCTAssertEqual(Int(u64(e)), next)
            let stored = Int(u32(e + 8))
            XCTAssertEqual([u32(e + 12), u32(e + 16), u32(e + 20), u32(e + 28)], [12 + 12, UInt32(c), 1, 1])
            var raw = Array(images[(12 * c)..<(12 * c + 12)])
            for v in block.rows[(3 * c)..<(3 * c + 3)] { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
            XCTAssertEqual(u32(e + 24), Zlib.crc32(raw))             // rawCRC: unfiltered
            var payload = [UInt8](repeating: 0, count: 24)
            try Array(b[next..<(next + stored)]).withUnsafeBytes { s in try payload.withUnsafeMutableBytes { try Zlib.decompress(s, into: $0) } }
            for row in stride(from: 0, to: 12, by: 3) {              // delta within each row of 3
                XCTAssertEqual(payload[row], raw[row])
                for x in 1..<3 { XCTAssertEqual(payload[row + x], raw[row + x] &- raw[row + x - 1]) }
            }
            XCTAssertEqual(Array(payload[12...]), Array(raw[12...]))  // labels unfiltered
            next += stored
        }
        XCTAssertEqual(next, indexOffset)
    }

    /// A v2 source copy must be uncompressed: the compressed golden relabelled v2 is refused by the
    /// source-copy reader (and a training shard is no source copy), one line naming the file.
    func testSourceCopyHeaderRules() throws {
        var b = try FileIO.read(ShardFixtures.goldenDirectory + "/golden-v3-source-zlib.mxs")
        b[8] = 2
        let crc = b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<60])) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[60 + i] = $0[i] } }
        let dir = NSTemporaryDirectory() + "mixshards-golden-\(getpid())"
        try FileIO.makeDirectories(dir)
        let path = dir + "/v2-compressed-source.mxs"
        try FileIO.writeAtomically(path, b)
        XCTAssertEqual(try ShardReader(path: path).header.version, 2)  // a well-formed shard…
        XCTAssertThrowsError(try SourceImages(path: path)) { error in  // …but no v2 source copy
            XCTAssertEqual("\(error)", "\(path): header: a version 2 source copy must be uncompressed and unfiltered (codec none, "
                           + "filter none); compressed source copies are version 3")
        }
        let train = ShardFixtures.goldenDirectory + "/golden-v2-augment.mxs"
        XCTAssertThrowsError(try SourceImages(path: train)) { error in
            XCTAssertEqual("\(error)", "\(train): header: not a source copy (needs split source and no references)")
        }
    }

    /// The v2 augment golden read field by field against DESIGN.md's tables, independently of the writer.
    func testV2GoldenLayoutFieldByField() throws {
        let b = try FileIO.read(ShardFixtures.goldenDirectory + "/golden-v2-augment.mxs")
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func i16(_ o: Int) -> Int { Int(Int16(bitPattern: UInt16(u16(o)))) }
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        XCTAssertEqual(Array(b[0..<8]), Array("MIXSHRD1".utf8))
        XCTAssertEqual(u16(8), 2)           // version
        XCTAssertEqual(u32(12), 3)          // flags: provenance | references
        XCTAssertEqual(u32(16), 4)          // sampleCount
        let footer = b.count - 32
        let indexOffset = Int(u64(footer))
        // Chunk 0: samples 0 (reference) and 1 (blend): 1 image of 12 bytes + 2×3 labels + 2×32 provenance.
        XCTAssertEqual(u32(indexOffset + 12), 12 + 24 + 64)  // rawBytes
        XCTAssertEqual(u32(indexOffset + 28), 1)             // imageCount
        // Chunk 1: samples 2 (cutmix, stored) and 3 (reference).
        XCTAssertEqual(u32(indexOffset + 32 + 28), 1)
        // Chunk 0's only stored image is sample 1's.
        XCTAssertEqual(Array(b[64..<76]), Array(ShardFixtures.goldenAugmentedBlock().images[12..<24]))
        // Sample 0's record: primary 1, partner 1, λ 1, kind copy, flags primary flip | partner flip (a copy's
        // partner transform is its primary's) | reference, shift (1, 0).
        let r0 = 64 + 12 + 24
        XCTAssertEqual([u32(r0), u32(r0 + 4), u32(r0 + 8)], [1, 1, Float(1).bitPattern])
        XCTAssertEqual([Int(b[r0 + 12]), Int(b[r0 + 13]), u16(r0 + 14)], [0, 1 | 2 | 4, 0])
        XCTAssertEqual([i16(r0 + 16), i16(r0 + 18), i16(r0 + 20), i16(r0 + 22)], [1, 0, 1, 0])
        XCTAssertEqual([u16(r0 + 24), u16(r0 + 26), u16(r0 + 28), u16(r0 + 30)], [0, 0, 0, 0])
        // Sample 1's record: blend, partner flipped, primary shift (−1, 1).
        let r1 = r0 + 32
        XCTAssertEqual([Int(b[r1 + 12]), Int(b[r1 + 13])], [1, 2])
        XCTAssertEqual([i16(r1 + 16), i16(r1 + 18), i16(r1 + 20), i16(r1 + 22)], [-1, 1, 0, 0])
        // Chunk 1, sample 2's record: cutmix with box [1, 3) × [0, 1).
        let c1 = Int(u64(indexOffset + 32))
        let r2 = c1 + 12 + 24
        XCTAssertEqual(Int(b[r2 + 12]), 2)
        XCTAssertEqual([u16(r2 + 24), u16(r2 + 26), u16(r2 + 28), u16(r2 + 30)], [1, 0, 3, 1])
        // The source copy: split 2, epoch 0xFFFFFFFF, codec none, filter none, no provenance.
        let s = try FileIO.read(ShardFixtures.goldenDirectory + "/golden-v2-source.mxs")
        XCTAssertEqual([s[38], s[39], s[40]], [0, 0, 2])
        XCTAssertEqual(UInt32(s[12]), 0)
        XCTAssertEqual(Array(s[48..<52]), [255, 255, 255, 255])
        // Its first chunk (2 images per chunk here) holds source images 0 and 1 as they are.
        XCTAssertEqual(Array(s[64..<88]), Array(ShardFixtures.goldenSourceImages()[0..<24]))
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
        for v in block.rows[0..<6] { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        for p in block.provenance[0..<2] {
            withUnsafeBytes(of: p.primary.littleEndian) { raw += $0 }
            withUnsafeBytes(of: p.partner.littleEndian) { raw += $0 }
            withUnsafeBytes(of: p.lambda.bitPattern.littleEndian) { raw += $0 }
        }
        XCTAssertEqual(u32(indexOffset + 24), Zlib.crc32(raw))
    }
}
