import MixCore
import ShardFormat
import ShardTestSupport
import ZlibKit
import XCTest

/// MixShard v3's sparse labels: 12-byte records `{classA, classB, weight}` and the shard's ε,
/// which every reader expands to the dense row rule 12 gives, and checks (rule 7a).
final class SparseLabelTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try ShardFixtures.temporaryDirectory(name)
    }

    func failure(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try ShardFixtures.readFailure(bytes, at: dir + "/bad.mxs", file: file, line: line)
    }

    /// The row a record stands for, written out from rule 12's words (not through `LabelRow`).
    static func row(_ r: LabelRecord, classCount k: Int, epsilon: Float) -> [Float] {
        var row = [Float](repeating: 0, count: k)
        row[Int(r.classA)] += r.weight
        row[Int(r.classB)] += 1 - r.weight
        if epsilon > 0 { row = row.map { (1 - epsilon) * $0 + epsilon / Float(k) } }
        return row
    }

    func testRoundTripEveryEncoding() throws {
        for n in [1, 7, 64] {
            let block = ShardFixtures.sparseBlock(n: n)
            guard case .sparse(let records, let epsilon) = block.labels else { return XCTFail() }
            let rows = records.flatMap { Self.row($0, classCount: 3, epsilon: epsilon) }
            XCTAssertEqual(block.rows.map(\.bitPattern), rows.map(\.bitPattern))
            for codec in Codec.allCases {
                for filter in ImageFilter.allCases {
                    for perChunk in [1, 16, 1000] {
                        for provenance in [true, false] {
                            let enc = ShardEncoding(codec: codec, level: 6, strategy: .standard, filter: filter,
                                                    samplesPerChunk: perChunk, provenance: provenance)
                            let path = dir + "/rt.mxs"
                            try FileIO.writeAtomically(path, ShardWriter.encode(block, encoding: enc, split: .train, epoch: 3, shardIndex: 2))
                            let reader = try ShardReader(path: path)
                            XCTAssertEqual(reader.header.version, 3)
                            XCTAssertEqual(reader.header.labelType, .sparse)
                            XCTAssertEqual(reader.header.labelSmoothing, 0.1)
                            var expected = block
                            if !provenance { expected.provenance = [] }
                            let what = "n \(n) codec \(codec) filter \(filter) chunk \(perChunk) provenance \(provenance)"
                            XCTAssertEqual(try reader.readAll(), expected, what)
                            // Chunk by chunk: the records as stored, the rows as rule 12 gives them.
                            var chunk = DecodedChunk()
                            for i in reader.index.indices {
                                try reader.readChunk(i, into: &chunk)
                                let range = chunk.firstSample..<(chunk.firstSample + chunk.count)
                                XCTAssertEqual(chunk.records, Array(records[range]), what)
                                XCTAssertEqual(chunk.labels.map(\.bitPattern), Array(rows[(3 * range.lowerBound)..<(3 * range.upperBound)]).map(\.bitPattern), what)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The same block written as v2 (rows expanded by the writer) and as v3 (records) reads back
    /// as byte-identical rows, pixels and provenance.
    func testV2AndV3ReadIdentically() throws {
        for smoothing: Float in [0, 0.1, 1] {
            let block = ShardFixtures.sparseBlock(n: 50, classes: 7, smoothing: smoothing)
            var blocks: [SampleBlock] = []
            for version: UInt16 in [2, 3] {
                var enc = ShardEncoding(samplesPerChunk: 16)
                enc.version = version
                try FileIO.writeAtomically(dir + "/v\(version).mxs", ShardWriter.encode(block, encoding: enc, split: .train, epoch: 0, shardIndex: 0))
                let r = try ShardReader(path: dir + "/v\(version).mxs")
                XCTAssertEqual(r.header.version, version)
                XCTAssertEqual(r.header.labelType, version == 3 ? .sparse : .float32)
                blocks.append(try r.readAll())
            }
            XCTAssertEqual(blocks[0].rows.map(\.bitPattern), blocks[1].rows.map(\.bitPattern), "ε \(smoothing)")
            XCTAssertEqual(blocks[0].images, blocks[1].images)
            XCTAssertEqual(blocks[0].provenance, blocks[1].provenance)
            XCTAssertEqual(blocks[1].labels, block.labels)
            XCTAssertEqual(ShardStats(of: blocks[0]), ShardStats(of: blocks[1]))
        }
    }

    /// The figure: at K = 1,000 a sample's label takes 12 bytes in v3, 4,000 in v2.
    func testLabelBytesPerSampleAtAThousandClasses() throws {
        let n = 256, k = 1000
        let block = ShardFixtures.sparseBlock(n: n, channels: 3, height: 8, width: 8, classes: k, smoothing: 0.1)
        var raw: [UInt16: Int] = [:]
        for version: UInt16 in [2, 3] {
            var enc = ShardEncoding(codec: .none, filter: .none, samplesPerChunk: n, provenance: true)
            enc.version = version
            let path = dir + "/k\(version).mxs"
            try FileIO.writeAtomically(path, ShardWriter.encode(block, encoding: enc, split: .train, epoch: 0, shardIndex: 0))
            let r = try ShardReader(path: path)
            XCTAssertEqual(r.header.labelBytes, version == 3 ? 12 : 4000)
            raw[version] = Int(r.index[0].rawBytes)
            XCTAssertEqual(try r.readAll().rows.count, n * k)
        }
        // rawBytes = m·C·H·W + n·(label + 32-byte provenance).
        XCTAssertEqual(raw[3], n * 192 + n * (12 + 32))
        XCTAssertEqual(raw[2], n * 192 + n * (4 * k + 32))
        XCTAssertEqual((raw[3]! - n * (192 + 32)) / n, 12)
        XCTAssertEqual((raw[2]! - n * (192 + 32)) / n, 4000)
    }

    /// Rule 7's sum tolerance grows with K: a row rule 12 gives, summed in binary32 over 21,841 or
    /// 65,535 classes, is off by more than 1e-4 (2.4e-4 at 21,841 classes and ε = 0.1), and reads.
    func testRowsOfManyClassesRead() throws {
        XCTAssertEqual(MixShardLayout.labelSumTolerance(classCount: 10), 1e-4)
        XCTAssertEqual(MixShardLayout.labelSumTolerance(classCount: 1024), 1e-4)
        XCTAssertEqual(MixShardLayout.labelSumTolerance(classCount: 65_535), Float(65_539) * 0x1p-24)
        for k in [21_841, 65_535] {
            for smoothing: Float in [0.1, 0.2, 0.05] {
                var block = ShardFixtures.sparseBlock(n: 40, channels: 1, height: 1, width: 1, classes: k, smoothing: smoothing)
                block.labels = {
                    guard case .sparse(let records, let e) = block.labels else { fatalError() }
                    // Classes spread over the range, so the rest weights come first and last.
                    return .sparse(records.map { LabelRecord(classA: $0.classA * 997 % UInt32(k), classB: $0.classB * 997 % UInt32(k), weight: $0.weight) },
                                   smoothing: e)
                }()
                for version: UInt16 in [2, 3] {
                    var enc = ShardEncoding(samplesPerChunk: 40)
                    enc.version = version
                    try FileIO.writeAtomically(dir + "/wide.mxs", ShardWriter.encode(block, encoding: enc, split: .train, epoch: 0, shardIndex: 0))
                    XCTAssertEqual(try ShardReader(path: dir + "/wide.mxs").readAll().rows.count, 40 * k, "K \(k) ε \(smoothing) v\(version)")
                }
            }
        }
        // The rows really are off by more than 1e-4 in binary32.
        let w = LabelRow.weights(lambda: 0.3, sameClass: false, classCount: 21_841, epsilon: 0.1)
        var sum: Float = 0
        for c in 0..<21_841 { sum += c == 3 ? w.primary : c == 5 ? w.partner : w.rest }
        XCTAssertGreaterThan(abs(sum - 1), 1e-4)
    }

    // MARK: Rejection (rule 7a and the header)

    /// A v3 shard (codec none, filter none) whose record `sample` of chunk `chunk` has `field`
    /// set to `value`, raw CRC and index CRC recomputed.
    func withRecord(_ block: SampleBlock, chunk: Int, sample: Int, field: Int, _ value: UInt32, provenance: Bool = true) throws -> [UInt8] {
        let bytes = ShardWriter.encode(block, encoding: ShardEncoding(codec: .none, filter: .none, samplesPerChunk: 4, provenance: provenance),
                                       split: .train, epoch: 0, shardIndex: 0)
        try FileIO.writeAtomically(dir + "/good.mxs", bytes)
        let e = try ShardReader(path: dir + "/good.mxs").index[chunk]
        var c = CraftedShard(bytes)
        let at = Int(e.offset) + Int(e.imageCount) * block.shape.imageBytes + 12 * sample + field
        for i in 0..<4 { c.bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        let crc = Zlib.crc32(Array(c.bytes[Int(e.offset)..<(Int(e.offset) + Int(e.rawBytes))]))
        c.index(chunk: chunk, 24, crc)
        return c.bytes
    }

    func testRecordRulesAreCheckedByEveryRead() throws {
        let block = ShardFixtures.sparseBlock(n: 10, classes: 3)
        guard case .sparse(let records, let epsilon) = block.labels else { return XCTFail() }
        let path = dir + "/bad.mxs"
        // Sample 5 (chunk 1 of chunks of 4) is a blend of classes 2 and 0, sample 6 a copy of class 0.
        XCTAssertEqual([records[5].classA, records[5].classB, records[6].classA, records[6].classB], [2, 0, 0, 0])
        XCTAssertEqual(block.provenance[6].kind, .copy)
        // Classes beyond K: the writer cannot write them; crafted (codec none, CRCs recomputed).
        for (field, value, provenance, expected) in [(0, UInt32(3), true, "sample 5: sparse label classA 3 is not a class of the shard (it has 3)"),
                                                     (4, 7, true, "sample 5: sparse label classB 7 is not a class of the shard (it has 3)"),
                                                     (0, UInt32.max, false, "sample 5: sparse label classA 4294967295 is not a class of the shard (it has 3)")] {
            let bytes = try withRecord(block, chunk: 1, sample: 1, field: field, value, provenance: provenance)
            XCTAssertEqual(try failure(bytes), "\(path): chunk 1: \(expected)")
        }
        // Weights, and records that disagree with their provenance: written as they are, compressed or not.
        let lambda5 = Wording.float(block.provenance[5].lambda)
        let cases: [(Int, LabelRecord, Bool, String)] = [
            (5, LabelRecord(classA: 2, classB: 0, weight: .nan), true, "sample 5: sparse label weight nan is not in [0, 1]"),
            (5, LabelRecord(classA: 2, classB: 0, weight: -0.25), true, "sample 5: sparse label weight -0.25 is not in [0, 1]"),
            (5, LabelRecord(classA: 2, classB: 0, weight: 1.5), false, "sample 5: sparse label weight 1.5 is not in [0, 1]"),
            (5, LabelRecord(classA: 2, classB: 0, weight: .infinity), false, "sample 5: sparse label weight inf is not in [0, 1]"),
            (5, LabelRecord(classA: 2, classB: 0, weight: 0.5), true, "sample 5: sparse label weight 0.5 differs from the provenance lambda \(lambda5)"),
            (6, LabelRecord(classA: 0, classB: 0, weight: Float(1).nextDown), true,
             "sample 6: sparse label weight 0.99999994 differs from the provenance lambda 1"),
            (6, LabelRecord(classA: 0, classB: 1, weight: 1), true, "sample 6: sparse label of a copy names two classes (0 and 1)"),
        ]
        for (sample, record, provenance, expected) in cases {
            var edited = records
            edited[sample] = record
            var bad = block
            bad.labels = .sparse(edited, smoothing: epsilon)
            for codec in Codec.allCases {
                let enc = ShardEncoding(codec: codec, filter: codec == .zlib ? .delta : .none, samplesPerChunk: 4, provenance: provenance)
                let bytes = ShardWriter.encode(bad, encoding: enc, split: .train, epoch: 0, shardIndex: 0)
                XCTAssertEqual(try failure(bytes), "\(path): chunk 1: \(expected)", "\(codec)")
            }
        }
        // Without provenance a record's weight is tied to no λ, nor a "copy" to one class: it is a row all the same.
        var free = records
        free[6] = LabelRecord(classA: 0, classB: 1, weight: 1)
        var b = block
        b.labels = .sparse(free, smoothing: epsilon)
        try FileIO.writeAtomically(dir + "/free.mxs", ShardWriter.encode(b, encoding: ShardEncoding(samplesPerChunk: 4, provenance: false),
                                                                         split: .train, epoch: 0, shardIndex: 0))
        let row = try ShardReader(path: dir + "/free.mxs").readAll().rows[(6 * 3)..<(7 * 3)]
        XCTAssertEqual(Array(row), Self.row(free[6], classCount: 3, epsilon: 0.1))
    }

    func testHeaderRules() throws {
        let path = dir + "/bad.mxs"
        let sparse = ShardWriter.encode(ShardFixtures.sparseBlock(n: 10), encoding: ShardEncoding(samplesPerChunk: 4), split: .train, epoch: 0, shardIndex: 0)
        var v2 = ShardEncoding(samplesPerChunk: 4)
        v2.version = 2
        let dense2 = ShardWriter.encode(ShardFixtures.block(n: 10), encoding: v2, split: .train, epoch: 0, shardIndex: 0)
        var v1 = v2
        v1.version = 1
        let dense1 = ShardWriter.encode(ShardFixtures.block(n: 10), encoding: v1, split: .train, epoch: 0, shardIndex: 0)
        let dense3 = ShardWriter.encode(ShardFixtures.block(n: 10), encoding: ShardEncoding(samplesPerChunk: 4), split: .train, epoch: 0, shardIndex: 0)
        func edited(_ bytes: [UInt8], _ edits: [(Int, UInt32, Int)]) -> [UInt8] {
            var c = CraftedShard(bytes)
            for (at, value, width) in edits {
                if width == 1 { c.header(at, UInt8(value)) } else { c.header(at, value) }
            }
            return c.bytes
        }
        let cases: [([UInt8], String)] = [
            (edited(sparse, [(56, Float.nan.bitPattern, 4)]), "labelSmoothing nan is not a number from 0 to 1"),
            (edited(sparse, [(56, Float.infinity.bitPattern, 4)]), "labelSmoothing inf is not a number from 0 to 1"),
            (edited(sparse, [(56, Float(-0.5).bitPattern, 4)]), "labelSmoothing -0.5 is not a number from 0 to 1"),
            (edited(sparse, [(56, Float(1.5).bitPattern, 4)]), "labelSmoothing 1.5 is not a number from 0 to 1"),
            (edited(sparse, [(56, Float(-0.0).bitPattern, 4)]), "labelSmoothing -0 is not a number from 0 to 1"),
            (edited(dense3, [(56, Float(0.1).bitPattern, 4)]), "labelSmoothing 0.1 with dense labels (must be 0: dense rows hold their smoothing)"),
            (edited(dense2, [(37, 2, 1)]), "unsupported labelType 2 (sparse, MixShard v3 only; this file is v2)"),
            (edited(dense1, [(37, 2, 1)]), "unsupported labelType 2 (sparse, MixShard v3 only; this file is v1)"),
            (edited(dense2, [(56, 1, 4)]), "reserved bytes 56..<60 are not zero (v2)"),
            (edited(dense1, [(56, 0x0100_0000, 4)]), "reserved bytes 56..<60 are not zero (v1)"),
            (edited(sparse, [(37, 1, 1)]), "unsupported labelType 1 (float16, reserved)"),
            (edited(sparse, [(37, 3, 1)]), "unsupported labelType 3"),
        ]
        for (bytes, expected) in cases {
            XCTAssertEqual(try failure(bytes), "\(path): header: \(expected)")
        }
        // ε = 0 and ε = 1 are smoothings; a sparse shard's ε is what its rows expand with.
        for epsilon: Float in [0, 1] {
            try FileIO.writeAtomically(dir + "/e.mxs", edited(sparse, [(56, epsilon.bitPattern, 4)]))
            let rows = try ShardReader(path: dir + "/e.mxs").readAll().rows
            XCTAssertEqual(Array(rows[0..<3]), Self.row(LabelRecord(classA: 0, classB: 0, weight: 1), classCount: 3, epsilon: epsilon))
        }
    }
}
