import Imaging
import MixCore

/// PNG class folders: `root/train/<class>/*.png`, `root/test/<class>/*.png`.
/// Classes are the train split's subfolders sorted by name; every class folder
/// must hold at least one PNG (other files are skipped with a warning); every
/// image must have the size of the first one; images are read as 8-bit RGB.
public enum ImageFolders {
    public static func load(_ root: String) throws -> Dataset {
        let trainDir = root + "/train", testDir = root + "/test"
        guard FileIO.isDirectory(trainDir) else { throw MixError.file(root, "missing split train: no train/ folder") }
        guard FileIO.isDirectory(testDir) else { throw MixError.file(root, "missing split test: no test/ folder") }
        let classes = try FileIO.list(trainDir).filter { FileIO.isDirectory(trainDir + "/" + $0) }
        guard !classes.isEmpty else { throw MixError.file(trainDir, "no class folders") }
        guard classes.count <= 256 else { throw MixError.file(trainDir, "\(classes.count) classes; at most 256 are supported") }
        for c in try FileIO.list(testDir) where FileIO.isDirectory(testDir + "/" + c) && !classes.contains(c) {
            throw MixError.file(testDir + "/" + c, "class '\(c)' is not among the train classes")
        }
        var hasher = SHA256()
        var warnings: [String] = []
        let train = try readSplit(trainDir, classes: classes, hasher: &hasher, shapeFrom: nil, warnings: &warnings)
        let test = try readSplit(testDir, classes: classes, hasher: &hasher, shapeFrom: train, warnings: &warnings)
        let name = root.split(separator: "/").last.map(String.init) ?? root
        var dataset = Dataset(name: name, path: root, classNames: classes, train: train, test: test,
                              fingerprint: SHA256.hex(hasher.finalize()))
        dataset.warnings = warnings
        return dataset
    }

    /// The PNG files of one class folder, sorted; what else it holds (not hidden
    /// files) goes into `warnings`, and a class folder without PNGs is refused:
    /// a class renamed to `.jpg` must not silently become an empty class.
    static func classFiles(_ folder: String, warnings: inout [String]) throws -> [String] {
        var pngs: [String] = [], skipped: [String] = []
        for f in try FileIO.list(folder) where !f.hasPrefix(".") {
            if f.lowercased().hasSuffix(".png") && !FileIO.isDirectory(folder + "/" + f) { pngs.append(f) } else { skipped.append(f) }
        }
        let shown = skipped.prefix(3).joined(separator: ", ") + (skipped.count > 3 ? ", …" : "")
        guard !pngs.isEmpty else {
            throw MixError.file(folder, "no PNG images, so the class would be empty"
                                + (skipped.isEmpty ? "" : " (\(skipped.count) other file\(skipped.count == 1 ? "" : "s"): \(shown); only .png is read)"))
        }
        if !skipped.isEmpty {
            warnings.append("\(folder): skipped \(skipped.count) file\(skipped.count == 1 ? "" : "s") that \(skipped.count == 1 ? "is" : "are") not PNG (\(shown))")
        }
        return pngs
    }

    static func readSplit(_ dir: String, classes: [String], hasher: inout SHA256, shapeFrom: LabeledImages?,
                          warnings: inout [String]) throws -> LabeledImages {
        var files: [(String, Int32)] = []
        for (k, c) in classes.enumerated() where FileIO.isDirectory(dir + "/" + c) {
            for f in try classFiles(dir + "/" + c, warnings: &warnings) {
                files.append((dir + "/" + c + "/" + f, Int32(k)))
            }
        }
        guard !files.isEmpty else { throw MixError.file(dir, "no PNG images") }
        let paths = files.map(\.0)
        let decoded = try Parallel.map(count: paths.count) { try PNG.read(paths[$0]) }
        let first = decoded[0]
        let (h, w) = (shapeFrom?.height ?? first.height, shapeFrom?.width ?? first.width)
        var split = LabeledImages(channels: 3, height: h, width: w)
        split.images.reserveCapacity(files.count * 3 * h * w)
        for (i, image) in decoded.enumerated() {
            guard image.width == w, image.height == h else {
                throw MixError.file(files[i].0, "image is \(image.width)×\(image.height), expected \(w)×\(h) like the others")
            }
            split.labels.append(files[i].1)
            split.images.append(contentsOf: image.chw)
            hasher.update([UInt8(files[i].1)])
            hasher.update(image.chw)
        }
        return split
    }
}
