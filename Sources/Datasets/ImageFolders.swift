import Imaging
import MixCore

/// PNG class folders: `root/train/<class>/*.png`, `root/test/<class>/*.png`.
/// Classes are the train split's subfolders sorted by name; every image must
/// have the size of the first one; images are read as 8-bit RGB.
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
        let train = try readSplit(trainDir, classes: classes, hasher: &hasher, shapeFrom: nil)
        let test = try readSplit(testDir, classes: classes, hasher: &hasher, shapeFrom: train)
        let name = root.split(separator: "/").last.map(String.init) ?? root
        return Dataset(name: name, path: root, classNames: classes, train: train, test: test,
                       fingerprint: SHA256.hex(hasher.finalize()))
    }

    static func readSplit(_ dir: String, classes: [String], hasher: inout SHA256, shapeFrom: LabeledImages?) throws -> LabeledImages {
        var files: [(String, Int32)] = []
        for (k, c) in classes.enumerated() where FileIO.isDirectory(dir + "/" + c) {
            for f in try FileIO.list(dir + "/" + c) where f.lowercased().hasSuffix(".png") {
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
