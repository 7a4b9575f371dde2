import MixCore
import ShardFormat
import ZlibKit
import XCTest

final class ShardRoundTripTests: XCTestCase {
    func testRoundTripEveryEncoding() throws {
        let dir = try ShardFixtures.temporaryDirectory()
        for n in [1, 7, 64, 100] {
            let block = ShardFixtures.block(n: n)
            for codec in Codec.allCases {
                for filter in ImageFilter.allCases {
                    for perChunk in [1, 16, 64, 1000] {
                        for provenance in [true, false] {
                            let enc = ShardEncoding(codec: codec, level: 6, strategy: .standard, filter: filter,
                                                    samplesPerChunk: perChunk, provenance: provenance)
                            let bytes = ShardWriter.encode(block, encoding: enc, split: .train, epoch: 3, shardIndex: 2)
                            let path = dir + "/rt.mxs"
                            try FileIO.writeAtomically(path, bytes)
                            let reader = try ShardReader(path: path)
                            XCTAssertEqual(reader.sampleCount, n)
                            XCTAssertEqual(reader.header.epoch, 3)
                            XCTAssertEqual(reader.header.shardIndex, 2)
                            XCTAssertEqual(reader.index.count, (n + perChunk - 1) / perChunk)
                            var expected = block
                            if !provenance { expected.provenance = [] }
                            XCTAssertEqual(try reader.readAll(), expected, "n \(n) codec \(codec) filter \(filter) chunk \(perChunk)")
                        }
                    }
                }
            }
        }
    }

    /// `ShardFileWriter` (chunk by chunk, what mixprep writes with) gives exactly
    /// `ShardWriter.encode`'s bytes and their SHA-256, whatever the pieces it is fed,
    /// references, short last chunks and v1 included; nothing is left beside the file.
    func testStreamingWriterMatchesEncode() throws {
        let dir = try ShardFixtures.temporaryDirectory()
        let augmented = ShardFixtures.goldenAugmentedBlock()
        func slice(_ b: SampleBlock, _ r: Range<Int>) -> SampleBlock {
            let i = b.shape.imageBytes, k = b.shape.classCount
            let labels: SampleLabels
            switch b.labels {
            case .dense(let rows): labels = .dense(Array(rows[(r.lowerBound * k)..<(r.upperBound * k)]))
            case .sparse(let records, let epsilon): labels = .sparse(Array(records[r]), smoothing: epsilon)
            }
            return SampleBlock(shape: b.shape, images: Array(b.images[(r.lowerBound * i)..<(r.upperBound * i)]),
                               labels: labels, provenance: b.provenance.isEmpty ? [] : Array(b.provenance[r]))
        }
        let sparseAugmented = ShardFixtures.goldenSparseAugmentedBlock()
        let cases: [(SampleBlock, Int, UInt16, Split)] = [
            (ShardFixtures.block(n: 100), 16, 2, .train), (ShardFixtures.block(n: 7), 1, 1, .test),
            (augmented, 3, 2, .train), (augmented, 1, 2, .train), (ShardFixtures.goldenSourceBlock(), 2, 2, .source),
            (ShardFixtures.goldenSourceBlock(), 1, 3, .source),
            (ShardFixtures.sparseBlock(n: 50), 8, 3, .train), (ShardFixtures.sparseBlock(n: 9), 4, 2, .train),
            (sparseAugmented, 3, 3, .train), (sparseAugmented, 1, 2, .train), (ShardFixtures.block(n: 20), 6, 3, .test),
        ]
        for (block, perChunk, version, split) in cases {
            for codec in Codec.allCases {
                // A v2 source copy is uncompressed and unfiltered; from v3 it may be compressed.
                let v2Source = split == .source && version < MixShardLayout.compressedSourceVersion
                if v2Source && codec != .none { continue }
                var enc = ShardEncoding(codec: codec, filter: v2Source ? .none : .delta, samplesPerChunk: perChunk,
                                        provenance: split != .source)
                enc.version = version
                var input = block
                if !enc.provenance { input.provenance = [] }
                let expected = ShardWriter.encode(input, encoding: enc, split: split, epoch: 4, shardIndex: 1)
                let path = dir + "/s.mxs"
                let writer = try ShardFileWriter(path: path, shape: block.shape, encoding: enc, samples: block.count,
                                                 references: input.provenance.contains(where: \.isReference),
                                                 sparseSmoothing: { if case .sparse(_, let e) = block.labels { return e } else { return nil } }(),
                                                 split: split, epoch: 4, shardIndex: 1)
                // Pieces of one chunk, then of two chunks, then the rest.
                var first = 0
                for chunks in [1, 2, Int.max] where first < block.count {
                    let end = chunks == Int.max ? block.count : min(block.count, first + chunks * perChunk)
                    try writer.append(slice(input, first..<end))
                    first = end
                }
                let done = try writer.finish()
                let written = try FileIO.read(path)
                XCTAssertEqual(written, expected, "chunk \(perChunk) v\(version) \(split) \(codec)")
                XCTAssertEqual(done.bytes, expected.count)
                XCTAssertEqual(done.sha256, expected.withUnsafeBytes { SHA256.hexDigest(of: $0) })
                XCTAssertEqual(try FileIO.list(dir), ["s.mxs"])
            }
        }
    }

    /// A streaming writer dropped before `finish` leaves no file and no temporary.
    func testStreamingWriterLeavesNothingWhenAbandoned() throws {
        let dir = try ShardFixtures.temporaryDirectory()
        let block = ShardFixtures.block(n: 8)
        do {
            let writer = try ShardFileWriter(path: dir + "/a.mxs", shape: block.shape, encoding: ShardEncoding(samplesPerChunk: 4),
                                             samples: 20, references: false, sparseSmoothing: nil, split: .train, epoch: 0, shardIndex: 0)
            try writer.append(block)
        }
        XCTAssertEqual(try FileIO.list(dir), [])
    }

    func testEveryStrategyAndLevelRoundTrips() throws {
        let dir = try ShardFixtures.temporaryDirectory()
        let block = ShardFixtures.block(n: 40, height: 32, width: 32, classes: 10)
        for strategy in DeflateStrategy.allCases {
            for level in 1...9 {
                let enc = ShardEncoding(codec: .zlib, level: level, strategy: strategy, filter: .delta, samplesPerChunk: 16)
                try FileIO.writeAtomically(dir + "/s.mxs", ShardWriter.encode(block, encoding: enc, split: .train, epoch: 0, shardIndex: 0))
                XCTAssertEqual(try ShardReader(path: dir + "/s.mxs").readAll(), block, "\(strategy) level \(level)")
            }
        }
    }

    func testTestSplitRecordsTheTestEpoch() throws {
        let dir = try ShardFixtures.temporaryDirectory()
        let bytes = ShardWriter.encode(ShardFixtures.block(n: 3), encoding: ShardEncoding(), split: .test, epoch: 5, shardIndex: 0)
        try FileIO.writeAtomically(dir + "/t.mxs", bytes)
        let r = try ShardReader(path: dir + "/t.mxs")
        XCTAssertEqual(r.header.split, .test)
        XCTAssertEqual(r.header.epoch, 0xFFFF_FFFF)
    }

    func testDeltaFilterIsTheDesignsFilter() throws {
        // Within each row of each plane: byte[x] − byte[x−1] mod 256, first byte kept.
        let dir = try ShardFixtures.temporaryDirectory()
        let shape = SampleShape(channels: 1, height: 2, width: 3, classCount: 1)
        let block = SampleBlock(shape: shape, images: [10, 5, 250, 1, 2, 3], labels: [1], provenance: [])
        let enc = ShardEncoding(codec: .none, filter: .delta, samplesPerChunk: 1, provenance: false)
        let bytes = ShardWriter.encode(block, encoding: enc, split: .train, epoch: 0, shardIndex: 0)
        XCTAssertEqual(Array(bytes[64..<70]), [10, 251, 245, 1, 1, 1])
        try FileIO.writeAtomically(dir + "/d.mxs", bytes)
        XCTAssertEqual(try ShardReader(path: dir + "/d.mxs").readAll().images, block.images)
    }
}
