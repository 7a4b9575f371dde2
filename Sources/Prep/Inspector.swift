import Foundation
import MixCore
import ShardFormat

/// `mixprep inspect`: a shard file's header and index as text.
public enum Inspector {
    public static func describe(path: String, samples: Bool) throws -> String {
        let r = try ShardReader(path: path)
        let h = r.header
        var lines: [String] = []
        lines.append("\(path): MixShard v\(MixShardLayout.version), \(r.bytes.count) bytes")
        lines.append("  split \(h.split == .train ? "train" : "test"), epoch \(h.epoch == MixShardLayout.testEpoch ? "- (test)" : String(h.epoch)), shard \(h.shardIndex)")
        lines.append("  samples \(h.sampleCount) in \(h.chunkCount) chunks of ≤ \(h.samplesPerChunk)")
        lines.append("  image \(h.channels)×\(h.height)×\(h.width) uint8, \(h.classCount) classes, labels float32, provenance \(h.hasProvenance ? "yes" : "no")")
        lines.append("  codec \(h.codec == .zlib ? "zlib" : "none"), image filter \(h.imageFilter == .delta ? "delta" : "none")")
        lines.append("  chunk      offset    stored       raw   ratio  first  count  rawCRC")
        for (i, e) in r.index.enumerated() {
            lines.append(String(format: "  %5d %11llu %9u %9u  %5.3f %6u %6u  %08x", i, e.offset, e.storedBytes, e.rawBytes,
                                Double(e.storedBytes) / Double(max(e.rawBytes, 1)), e.firstSample, e.sampleCount, e.rawCRC))
        }
        if samples {
            var chunk = DecodedChunk()
            let k = Int(h.classCount)
            for i in 0..<r.index.count {
                try r.readChunk(i, into: &chunk)
                for s in 0..<min(chunk.count, 4) {
                    let row = chunk.labels[(s * k)..<((s + 1) * k)].map { String(format: "%.3f", $0) }.joined(separator: " ")
                    let prov = chunk.provenance.isEmpty ? "" : String(format: " primary %u partner %u λ %.4f",
                        chunk.provenance[s].primary, chunk.provenance[s].partner, chunk.provenance[s].lambda)
                    lines.append("  chunk \(i) sample \(chunk.firstSample + s):\(prov) label [\(row)]")
                }
            }
            lines.append("  all \(r.index.count) chunks decoded and checked")
        }
        return lines.joined(separator: "\n")
    }

    /// Writes every sample of the shard at `path`, decoded and checked, to `out`
    /// as flat little-endian arrays: images (n×C×H×W bytes), then labels
    /// (n×K float32), then, if the shard has provenance, n × {primary u32,
    /// partner u32, λ float32}. Other readers compare against it.
    public static func dump(path: String, to out: String) throws {
        let block = try ShardReader(path: path).readAll()
        var bytes = block.images
        bytes.reserveCapacity(block.images.count + 4 * block.labels.count + 12 * block.provenance.count)
        func put(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        for v in block.labels { put(v.bitPattern) }
        for p in block.provenance {
            put(p.primary)
            put(p.partner)
            put(p.lambda.bitPattern)
        }
        try FileIO.writeAtomically(out, bytes)
    }
}
