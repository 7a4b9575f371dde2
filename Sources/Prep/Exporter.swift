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
    /// Upscaling factor of each image, from 1 to `Exporter.maxScale`.
    public var scale: Int
    /// Tiles per row of the contact sheet, ≥ 1.
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

    /// The largest `scale` (`--scale`).
    public static let maxScale = 32

    /// Writes the sample PNGs, the contact sheet and the index `request` asks for.
    /// Every image is sized before a shard is read: a sample PNG or a sheet of more than
    /// `ContactSheetSize.maxPixels` is refused, naming the option to change.
    public static func export(_ request: ExportRequest) throws -> Result {
        let dir = request.directory
        guard (1...maxScale).contains(request.scale) else { throw MixError("--scale must be \(Wording.range(1, maxScale)) (got \(request.scale))") }
        guard request.columns >= 1 else { throw MixError("--columns must be ≥ 1 (got \(request.columns))") }
        guard request.count >= 1 else { throw MixError("--count must be ≥ 1 (got \(request.count))") }
        try FileIO.checkOutputDirectory(request.outDirectory)
        // Opened as the loader opens it (the listing, and every shard's header against its place in it),
        // and the source shape the manifest states checked, before a chunk is read or an image drawn.
        let directory = try ShardDirectory(path: dir)
        let manifest = directory.manifest
        if let problem = manifest.sourceShapeProblem(path: dir + "/" + Manifest.fileName) { throw MixError(problem) }
        let src = manifest.source
        guard src.channels == 1 || src.channels == 3 else {
            throw MixError.file(dir + "/" + Manifest.fileName, "export draws 1- or 3-channel images; the source has \(src.channels)")
        }
        let shards: [(entry: ShardEntry, reader: ShardReader)]
        let what: String
        if let e = request.epoch {
            guard e >= 0, e < manifest.train.count else {
                throw MixError.file(dir, "no training epoch \(e) (the directory holds epochs \(Wording.range(0, manifest.train.count - 1)))")
            }
            shards = Array(zip(manifest.train[e].shards, directory.trainReaders[e]))
            what = "epoch \(e)"
        } else {
            shards = Array(zip(manifest.test.shards, directory.testReaders))
            what = "test split"
        }
        let pipe = manifest.pipeline
        let augment = request.epoch == nil || !pipe.augment.isActive ? "" : "augment \(pipe.augment.summary), "
        func title(_ samples: Int) -> String {
            "\(pipe.name): \(what), \(samples) samples (\(augment)mode \(pipe.mix.mode.rawValue), p \(pipe.mix.p), alpha \(pipe.mix.alpha))"
        }
        // At most this many tiles: the positions asked for, or --count of the samples listed
        // (summed up to --count at most, so never beyond it).
        var available = 0
        for shard in shards where available < request.count { available += min(shard.entry.samples, request.count - available) }
        let most = request.positions.map { Set($0).count } ?? min(request.count, available)
        if let problem = sizeProblem(request, source: src, tiles: most, title: title) { throw MixError(problem) }
        let wanted = request.positions.map(Set.init)
        var picked: [Picked] = []
        var base = 0
        var chunk = DecodedChunk()
        scan: for (shard, reader) in shards {
            let shape = reader.shape
            guard shape == SampleShape(channels: src.channels, height: src.height, width: src.width, classCount: src.classNames.count) else {
                throw MixError.file(reader.path, "holds \(Wording.image(channels: shape.channels, height: shape.height, width: shape.width)) images of \(shape.classCount) classes; "
                                    + "\(Manifest.fileName) says \(Wording.image(channels: src.channels, height: src.height, width: src.width)) and \(src.classNames.count)")
            }
            for i in 0..<reader.index.count {
                let e = reader.index[i]
                let range = (base + Int(e.firstSample))..<(base + Int(e.firstSample + e.sampleCount))
                if let wanted, !wanted.contains(where: range.contains) { continue }
                try directory.checkSHA256(reader)
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
                        caption: "#\(p.position)" + (p.provenance.map { " " + transformText($0.primaryTransform) + opsCaption($0) } ?? ""))
        }
        let title = title(picked.count)
        if let problem = sizeProblem(request, source: src, tiles: picked.count, title: { _ in title }) { throw MixError(problem) }
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

    /// Why the images of `tiles` samples of `source` at `request`'s scale and columns are
    /// too large to draw (a sample PNG or the contact sheet above `ContactSheetSize.maxPixels`),
    /// naming what to change; nil when they fit. `title(n)` is the sheet's title for n samples.
    /// `source`'s sides are at most `MixShardLayout.maxSide`, `scale` at most `maxScale`.
    static func sizeProblem(_ request: ExportRequest, source src: SourceInfo, tiles: Int, title: (Int) -> String) -> String? {
        let limit = ContactSheetSize.maxPixels
        let (scale, columns) = (request.scale, request.columns)
        let (w, h) = (src.width * scale, src.height * scale)
        if w * h > limit {
            let fit = max(1, Int((Double(limit) / Double(src.width * src.height)).squareRoot()))
            return "--scale \(scale) makes each sample \(Wording.grouped(w))×\(Wording.grouped(h)) pixels (width×height), more than the "
                + "\(Wording.grouped(limit)) drawn at most: use --scale \(fit) or less"
        }
        func size(_ n: Int, columns: Int) -> (width: Int, height: Int) {
            ContactSheetSize.of(tileCount: n, tileWidth: src.width, tileHeight: src.height, captions: true,
                                labelClasses: src.classNames.count, classNames: src.classNames, columns: columns, scale: scale,
                                title: title(n))
        }
        func fits(_ n: Int, columns: Int) -> Bool { ContactSheetSize.pixels(size(n, columns: columns)).map { $0 <= limit } ?? false }
        /// The largest n in 1...upper with `fits(n)` (0 if none), by bisection (sizes grow with n).
        func largest(_ upper: Int, _ fits: (Int) -> Bool) -> Int {
            var (lo, hi) = (0, upper)
            while lo < hi {
                let mid = lo + (hi - lo + 1) / 2
                if fits(mid) { lo = mid } else { hi = mid - 1 }
            }
            return lo
        }
        guard tiles > 0, !fits(tiles, columns: columns) else { return nil }
        let sheet = size(tiles, columns: columns)
        let what = "the contact sheet of \(Wording.grouped(tiles)) samples at --scale \(scale) would be "
            + "\(Wording.grouped(sheet.width))×\(Wording.grouped(sheet.height)) pixels (width×height), more than the \(Wording.grouped(limit)) drawn at most"
        let row = min(columns, tiles)
        if !fits(row, columns: row) {
            let perRow = largest(row) { fits($0, columns: $0) }
            return perRow == 0 ? "\(what): lower --scale"
                : "\(what): at most \(Wording.grouped(perRow)) fit in a row, so use --columns \(Wording.grouped(perRow)) or less (or lower --scale)"
        }
        let n = largest(tiles) { fits($0, columns: columns) }
        let option = request.positions == nil ? "--count" : "--positions"
        return "\(what): at most \(Wording.grouped(n)) samples fit with --columns \(Wording.grouped(columns)), so give \(option) \(request.positions == nil ? "\(n) or less" : "no more than \(n) positions") (or lower --scale)"
    }

    /// A transform as caption text: `flip +2,-1`, `0,0` for none.
    static func transformText(_ t: ImageTransform) -> String {
        func signed(_ v: Int16) -> String { v > 0 ? "+\(v)" : "\(v)" }
        return (t.flip ? "flip " : "") + "\(signed(t.dx)),\(signed(t.dy))"
    }

    /// A sample's v4 ops as short caption text (ASCII, the contact sheet's font): the primary's
    /// ops by the first three letters of their names with their magnitudes (`RC` for the resized
    /// crop), and `E` when erased, e.g. ` RC Rot-9 Bri+0.25 E`; empty without ops.
    static func opsCaption(_ p: Provenance) -> String {
        guard p.hasOps else { return "" }
        var parts: [String] = []
        if p.primaryOps.resizedCrop != nil { parts.append("RC") }
        for op in p.primaryOps.ops where op.op != .identity {
            let m = op.magnitude
            let text = m == m.rounded() ? String(Int(m)) : String(format: "%.2f", m)
            parts.append(String(op.op.name.prefix(3)) + (m > 0 && op.op != .posterize && op.op != .solarize ? "+" : "") + (m == 0 ? "" : text))
        }
        if !p.erasing.isNone { parts.append("E") }
        return parts.isEmpty ? "" : " " + parts.joined(separator: " ")
    }

    /// A sample's ops as index.md text: `Provenance.opsSummary` (primary | partner; erasing), `–` without.
    static func opsText(_ p: Provenance) -> String {
        p.hasOps ? p.opsSummary.replacingOccurrences(of: "|", with: "\\|") : "–"
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
        // MixShard v4: one more column with each sample's ops (absent when no sample has any, so v3 exports keep their text).
        let showOps = picked.contains { $0.provenance?.hasOps == true }
        if showOps {
            md += "Ops (MixShard v4): the primary's resized crop (top, left, h×w) and ops with their magnitudes, "
            md += "then the partner's after `|` for mixed samples, then the erased box (top, left, h×w) and its fill.\n\n"
        }
        md += "| position | image | primary | partner | λ | kind | transform | partner transform | label (top classes) | shard |"
        if showOps { md += " ops |" }
        let columns = 10 + (showOps ? 1 : 0) + (files == nil ? 0 : 2)
        md += (files == nil ? "" : " primary file | partner file |") + "\n|---:|---|---:|---:|---:|" + String(repeating: "---|", count: columns - 5) + "\n"
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
            if showOps { md += " \(p.provenance.map(opsText) ?? "–") |" }
            if files != nil {
                md += " \(p.provenance.map { file($0.primary) } ?? "–") | \(p.provenance.map { $0.isMixed ? file($0.partner) : "" } ?? "–") |"
            }
            md += "\n"
        }
        return md
    }
}
