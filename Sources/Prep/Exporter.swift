import Foundation
import ImageCodecs
import Imaging
import MixCore
import Pipeline
import ShardStore
import ShardFormat

/// What `mixprep export` should show.
public struct ExportRequest: Sendable {
    public var directory: String
    public var outDirectory: String
    /// Training epoch, or nil for the test split.
    public var epoch: Int?
    public var count: Int
    /// Explicit sample positions (within the epoch or split); overrides `count`.
    public var positions: [Int]?
    public var mixedOnly: Bool
    public var scale: Int
    public var columns: Int

    public init(directory: String, outDirectory: String, epoch: Int?, count: Int, positions: [Int]?,
                mixedOnly: Bool, scale: Int, columns: Int) {
        self.directory = directory
        self.outDirectory = outDirectory
        self.epoch = epoch
        self.count = count
        self.positions = positions
        self.mixedOnly = mixedOnly
        self.scale = scale
        self.columns = columns
    }
}

/// `mixprep export`: sample PNGs, a labelled contact sheet and a Markdown index.
public enum Exporter {
    public struct Result: Sendable {
        public var images: Int
        public var sheet: String
        public var index: String
    }

    struct Picked {
        var position: Int
        var image: [UInt8]
        var label: [Float]
        var provenance: Provenance?
        var file: String
    }

    public static func export(_ request: ExportRequest) throws -> Result {
        let dir = request.directory
        try FileIO.checkOutputDirectory(request.outDirectory)
        let manifest = try Manifest.load(directory: dir)
        // The manifest's listing and the source shape it states are checked before a file is opened or an image drawn.
        try manifest.checkListing(directory: dir)
        if let problem = manifest.sourceShapeProblem(path: dir + "/" + Manifest.fileName) { throw MixError(problem) }
        let src = manifest.source
        guard src.channels == 1 || src.channels == 3 else {
            throw MixError.file(dir + "/" + Manifest.fileName, "export draws 1- or 3-channel images; the source has \(src.channels)")
        }
        let shards: [ShardEntry]
        let what: String
        if let e = request.epoch {
            guard let entry = manifest.train.first(where: { $0.epoch == e }) else {
                throw MixError.file(dir, "no training epoch \(e) (the directory holds epochs \(Wording.range(0, manifest.train.count - 1)))")
            }
            shards = entry.shards
            what = "epoch \(e)"
        } else {
            shards = manifest.test.shards
            what = "test split"
        }
        let wanted = request.positions.map(Set.init)
        var picked: [Picked] = []
        var base = 0
        var chunk = DecodedChunk()
        let source = request.epoch == nil ? nil : try manifest.openSourceCopy(directory: dir)
        scan: for shard in shards {
            let reader = try ShardReader(path: dir + "/" + shard.file, source: source)
            // Positions count the shard's real samples (a 32-bit header field), never the listed number.
            guard reader.sampleCount == shard.samples else {
                throw MixError.file(reader.path, "holds \(reader.sampleCount) samples, \(Manifest.fileName) says \(shard.samples)")
            }
            let shape = reader.shape
            guard shape == SampleShape(channels: src.channels, height: src.height, width: src.width, classCount: src.classNames.count) else {
                throw MixError.file(reader.path, "holds \(Wording.image(channels: shape.channels, height: shape.height, width: shape.width)) images of \(shape.classCount) classes; "
                                    + "\(Manifest.fileName) says \(Wording.image(channels: src.channels, height: src.height, width: src.width)) and \(src.classNames.count)")
            }
            for i in 0..<reader.index.count {
                let e = reader.index[i]
                let range = (base + Int(e.firstSample))..<(base + Int(e.firstSample + e.sampleCount))
                if let wanted, !wanted.contains(where: range.contains) { continue }
                try reader.readChunk(i, into: &chunk)
                for s in 0..<chunk.count {
                    let position = range.lowerBound + s
                    let prov = chunk.provenance.isEmpty ? nil : chunk.provenance[s]
                    if let wanted, !wanted.contains(position) { continue }
                    if request.mixedOnly, let p = prov, !p.isMixed { continue }
                    picked.append(Picked(
                        position: position,
                        image: Array(chunk.images[(s * shape.imageBytes)..<((s + 1) * shape.imageBytes)]),
                        label: Array(chunk.labels[(s * shape.classCount)..<((s + 1) * shape.classCount)]),
                        provenance: prov, file: shard.file))
                    if wanted == nil && picked.count >= request.count { break scan }
                }
            }
            base += reader.sampleCount
        }
        if let positions = request.positions {
            let found = Set(picked.map(\.position))
            if let missing = positions.first(where: { !found.contains($0) }) {
                throw MixError.file(dir, "\(what) has no sample at position \(missing)")
            }
            let order = Dictionary(positions.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            picked.sort { order[$0.position]! < order[$1.position]! }
        }
        guard !picked.isEmpty else { throw MixError.file(dir, "no samples to export from the \(what)") }

        let out = request.outDirectory
        try FileIO.makeDirectories(out)
        for p in picked {
            var image = RGBImage(width: src.width * request.scale, height: src.height * request.scale, background: .white)
            image.blitPlanar(p.image, channels: src.channels, height: src.height, width: src.width, x: 0, y: 0, scale: request.scale)
            try PNG.write(image, to: out + "/" + sampleName(p.position))
        }
        let tiles = picked.map { p in
            ContactTile(image: p.image, channels: src.channels, height: src.height, width: src.width, label: p.label,
                        lambda: p.provenance.flatMap { $0.isMixed ? $0.lambda : nil },
                        caption: "#\(p.position)" + (p.provenance.map { " " + transformText($0.primaryTransform) } ?? ""))
        }
        let pipe = manifest.pipeline
        let augment = request.epoch == nil || !pipe.augment.isActive ? "" : "augment \(pipe.augment.summary), "
        let title = "\(pipe.name): \(what), \(picked.count) samples (\(augment)mode \(pipe.mix.mode.rawValue), p \(pipe.mix.p), alpha \(pipe.mix.alpha))"
        let sheet = makeContactSheet(tiles: tiles, classNames: src.classNames, columns: request.columns,
                                     scale: request.scale, title: title)
        let sheetPath = out + "/contact-sheet.png"
        try PNG.write(sheet, to: sheetPath)
        let indexPath = out + "/index.md"
        // Directories made from image files name the file behind every source index.
        let files = try src.files.map { try SourceFileList.rows(dir + "/" + (request.epoch == nil ? $0.test : $0.train).file, classNames: src.classNames).map(\.path) }
        try FileIO.writeAtomically(indexPath, indexMarkdown(picked, title: title, classNames: src.classNames, source: src, files: files))
        return Result(images: picked.count, sheet: sheetPath, index: indexPath)
    }

    /// A transform as caption text: `flip +2,-1`, `0,0` for none.
    static func transformText(_ t: ImageTransform) -> String {
        func signed(_ v: Int16) -> String { v > 0 ? "+\(v)" : "\(v)" }
        return (t.flip ? "flip " : "") + "\(signed(t.dx)),\(signed(t.dy))"
    }

    static func sampleName(_ position: Int) -> String {
        "sample-" + String(format: "%06d", position) + ".png"
    }

    /// The index table; with `files` (the source split's file paths, by index) two more
    /// columns name the primary's and the partner's files.
    static func indexMarkdown(_ picked: [Picked], title: String, classNames: [String], source: SourceInfo, files: [String]? = nil) -> String {
        var md = "# \(title)\n\n![contact sheet](contact-sheet.png)\n\n"
        md += "Source: \(source.name) (fingerprint `\(source.fingerprint.prefix(16))…`). "
        md += "Positions are within the epoch; primary and partner are indices in the source split"
        md += files == nil ? ".\n\n" : ", whose files are relative to `\(source.path)`.\n\n"
        md += "Transforms: shift (dx, dy) of the crop, then `flip` when mirrored; the partner's for mixed samples.\n\n"
        md += "| position | image | primary | partner | λ | kind | transform | partner transform | label (top classes) | shard |"
        md += files == nil ? "\n|---:|---|---:|---:|---:|---|---|---|---|---|\n" : " primary file | partner file |\n|---:|---|---:|---:|---:|---|---|---|---|---|---|---|\n"
        func file(_ index: UInt32) -> String {
            guard let files, Int(index) < files.count else { return "–" }
            return "`" + files[Int(index)].replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "`", with: "'") + "`"
        }
        for p in picked {
            let top = p.label.enumerated().filter { $0.element > 0.0005 }.sorted { $0.element > $1.element }.prefix(3)
                .map { "\(classNames[$0.offset]) \(String(format: "%.3f", $0.element))" }.joined(separator: ", ")
            let prim = p.provenance.map { String($0.primary) } ?? "–"
            let part = p.provenance.map { String($0.partner) } ?? "–"
            let lam = p.provenance.map { String(format: "%.4f", $0.lambda) } ?? "–"
            let kind = p.provenance.map { "\($0.kind)" + ($0.isReference ? " (ref)" : "") } ?? "–"
            let t1 = p.provenance.map { transformText($0.primaryTransform) } ?? "–"
            let t2 = p.provenance.map { $0.isMixed ? transformText($0.partnerTransform) : "" } ?? "–"
            md += "| \(p.position) | [png](\(sampleName(p.position))) | \(prim) | \(part) | \(lam) | \(kind) | \(t1) | \(t2) | \(top) | \(p.file) |"
            if files != nil {
                md += " \(p.provenance.map { file($0.primary) } ?? "–") | \(p.provenance.map { $0.isMixed ? file($0.partner) : "" } ?? "–") |"
            }
            md += "\n"
        }
        return md
    }
}
