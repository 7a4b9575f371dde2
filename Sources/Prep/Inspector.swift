import Foundation
import MixCore
import Pipeline
import ShardStore
import ShardFormat

/// `mixprep inspect`: a shard file's header and index as text.
public enum Inspector {
    public static func describe(path: String, samples: Bool) throws -> String {
        // The source copy is needed only to decode reference samples.
        let r = samples ? try open(path) : try ShardReader(path: path)
        let h = r.header
        var lines: [String] = []
        lines.append("\(path): MixShard v\(h.version), \(r.bytes.count) bytes")
        lines.append("  split \(h.split), epoch \(h.split == .train ? String(h.epoch) : "-"), shard \(h.shardIndex)"
                     + (h.hasReferences ? ", unmixed samples stored as references to \(MixShardLayout.sourceFile)" : ""))
        lines.append("  samples \(h.sampleCount) in \(h.chunkCount) chunks of ≤ \(h.samplesPerChunk)")
        lines.append("  image \(Wording.image(channels: Int(h.channels), height: Int(h.height), width: Int(h.width))) uint8, \(h.classCount) classes, "
                     + "labels \(labelsText(h)), provenance \(h.hasProvenance ? "yes" : "no")")
        lines.append("  codec \(h.codec == .zlib ? "zlib" : "none"), image filter \(h.imageFilter == .delta ? "delta" : "none")")
        lines.append("  chunk      offset    stored       raw   ratio  first  count images  rawCRC")
        for (i, e) in r.index.enumerated() {
            lines.append(String(format: "  %5d %11llu %9u %9u  %5.3f %6u %6u %6u  %08x", i, e.offset, e.storedBytes, e.rawBytes,
                                Double(e.storedBytes) / Double(max(e.rawBytes, 1)), e.firstSample, e.sampleCount, e.imageCount, e.rawCRC))
        }
        if samples {
            var chunk = DecodedChunk()
            let k = Int(h.classCount)
            let files = try sourceFiles(forShard: path, split: h.split)
            for i in 0..<r.index.count {
                try r.readChunk(i, into: &chunk)
                for s in 0..<min(chunk.count, 4) {
                    let row = chunk.labels[(s * k)..<((s + 1) * k)].map { String(format: "%.3f", $0) }.joined(separator: " ")
                    let prov = chunk.provenance.isEmpty ? "" : " " + describe(chunk.provenance[s], version: h.version)
                    lines.append("  chunk \(i) sample \(chunk.firstSample + s):\(prov) label [\(row)]")
                    if let files, let p = chunk.provenance.isEmpty ? nil : chunk.provenance[s], Int(p.primary) < files.count {
                        lines.append("    file \(files[Int(p.primary)])" + (p.isMixed && Int(p.partner) < files.count ? ", partner \(files[Int(p.partner)])" : ""))
                    }
                }
            }
            lines.append("  all \(r.index.count) chunks decoded and checked")
        }
        return lines.joined(separator: "\n")
    }

    /// How a shard stores its labels: `float32` (dense rows), or `sparse (smoothing 0.1)`
    /// (v3: 12-byte records expanded with the header's ε).
    static func labelsText(_ h: ShardHeader) -> String {
        h.labelType == .sparse ? "sparse (smoothing \(Wording.float(h.labelSmoothing)))" : "float32"
    }

    /// The file paths behind the source images a shard's provenance indexes, when the shard
    /// lies in a directory made from image files (`DIR/train/epoch-NNN/` or `DIR/test/`).
    static func sourceFiles(forShard path: String, split: Split) throws -> [String]? {
        let up = split == .train ? 3 : 2
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast(up)
        let dir = parts.isEmpty ? "." : (parts.count == 1 && parts[0].isEmpty ? "/" : parts.joined(separator: "/"))
        guard split != .source, FileIO.exists(dir + "/" + Manifest.fileName) else { return nil }
        let manifest = try Manifest.load(directory: dir)
        guard let files = manifest.source.files else { return nil }
        return try SourceFileList.rows(dir + "/" + (split == .train ? files.train : files.test).file,
                                       classNames: manifest.source.classNames).map(\.path)
    }

    /// Opens a lone shard file, with the source copy of its directory when it holds references.
    static func open(_ path: String) throws -> ShardReader {
        let header = try ShardReader(path: path).header
        return try ShardReader(path: path, source: Manifest.sourceCopy(forShard: path, header: header))
    }

    /// One provenance record as text: `primary 12 partner 40 λ 0.8123 blend` plus the
    /// transforms (v2), e.g. `[flip +2,-1]`, and `ref` for a reference.
    static func describe(_ p: Provenance, version: UInt16) -> String {
        var s = String(format: "primary %u partner %u λ %.4f", p.primary, p.partner, p.lambda)
        guard version >= 2 else { return s }
        func t(_ t: ImageTransform) -> String { "[\(t.flip ? "flip " : "")\(t.dx),\(t.dy)]" }
        s += " \(p.kind) \(t(p.primaryTransform))"
        if p.isMixed { s += " partner \(t(p.partnerTransform))" }
        if p.kind == .cutmix { s += " box [\(p.box.x0),\(p.box.x1))×[\(p.box.y0),\(p.box.y1))" }
        if p.isReference { s += " ref" }
        if p.hasOps { s += " " + p.opsSummary }
        return s
    }

    /// Writes every sample of the shard at `path`, decoded and checked (references
    /// resolved), to `out` as flat little-endian arrays: images (n×C×H×W bytes),
    /// then labels (n×K float32: the dense rows, sparse records expanded), then, if the
    /// shard has provenance, its n records as the shard stores them (v1: 12 bytes,
    /// v2 to v4: 32), and in v4 its n op records (176 bytes each). Other readers compare against it.
    public static func dump(path: String, to out: String) throws {
        let reader = try open(path)
        let block = try reader.readAll()
        let size = reader.header.provenanceBytes
        var records = [UInt8](repeating: 0, count: size * block.provenance.count)
        records.withUnsafeMutableBytes { buf in
            for (i, p) in block.provenance.enumerated() { p.write(into: buf, at: i * size, version: reader.header.version) }
        }
        let opSize = reader.header.opRecordBytes
        var opRecords = [UInt8](repeating: 0, count: opSize * block.provenance.count)
        opRecords.withUnsafeMutableBytes { buf in
            for (i, p) in block.provenance.enumerated() where opSize > 0 { p.writeOps(into: buf, at: i * opSize) }
        }
        records += opRecords
        let rows = block.rows
        var bytes = block.images
        bytes.reserveCapacity(block.images.count + 4 * rows.count + records.count)
        for v in rows { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        bytes += records
        try FileIO.writeAtomically(out, bytes)
    }
}
