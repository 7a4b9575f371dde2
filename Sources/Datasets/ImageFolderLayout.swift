import ImageCodecs
import MixCore

/// Class folders, as torchvision's `ImageFolder` reads them: `train/<class>/…` with
/// `test/<class>/…` or `val/<class>/…` (ImageNet's layout), or one folder of classes
/// whose test split is held out (`dataset.test_fraction`).
///
/// Classes are the train split's folders sorted as text (or `dataset.classes`); a class
/// folder is walked recursively, its folders sorted by path and each folder's files by
/// name (torchvision's order). Files are read when their extension is `.jpg`, `.jpeg`,
/// `.png` or `.webp` in any case; hidden files and folders are ignored; other files are
/// named once in a warning and skipped. A class folder with no image is refused.
enum ImageFolderLayout {
    /// Lists `root/train` and its test split (`test`, else `val`).
    static func listSplits(_ root: String, testFolder: String, options: ListingOptions) throws -> FileListing {
        if options.testFraction != nil {
            throw MixError.file(root, "dataset.test_fraction is for a folder without a test split, and this one has \(testFolder)/")
        }
        var walk = Walk(root: root)
        let classes = try classNames(in: "train", walk: &walk, options: options)
        let train = try walk.files(of: "train", classes: classes, requireEach: true)
        if try walk.classFolders(in: testFolder).isEmpty && walk.holdsImageFiles(testFolder) {
            throw MixError.file(root + "/" + testFolder, Self.flatHint)
        }
        for c in try walk.classFolders(in: testFolder) where !classes.contains(c) {
            throw MixError.file(root + "/" + testFolder + "/" + c, "class \(String(reflecting: c)) is not among the train classes")
        }
        let test = try walk.files(of: testFolder, classes: classes, requireEach: false)
        guard !test.isEmpty else { throw MixError.file(root + "/" + testFolder, "no images in any class folder") }
        var listing = FileListing(name: Self.baseName(root), root: root, layout: "class folders train/ + \(testFolder)/",
                                  classNames: classes, train: train, test: test)
        listing.warnings = walk.warnings(root: root)
        return listing
    }

    /// Lists a folder of classes (`root/<class>/…`, or `root/train/<class>/…` alone) and
    /// holds out `options.testFraction` of each class as the test split.
    static func listSingle(_ root: String, folder: String?, options: ListingOptions) throws -> FileListing {
        let shown = folder.map { root + "/" + $0 } ?? root
        guard let fraction = options.testFraction else {
            throw MixError.file(shown, folder == nil
                ? "a folder of classes without a test split: set dataset.test_fraction (e.g. 0.1) to hold out a seeded, stratified one, or add train/ and test/ (or val/) class folders"
                : "missing split test: no test/ or val/ folder beside train/ (or set dataset.test_fraction, e.g. 0.1, to hold out part of train/)")
        }
        var walk = Walk(root: root)
        let top = folder ?? ""
        let classes = try classNames(in: top, walk: &walk, options: options)
        let all = try walk.files(of: top, classes: classes, requireEach: true)
        let (train, test) = FileListing.stratifiedSplit(all, classCount: classes.count, fraction: fraction, seed: options.splitSeed)
        guard !test.isEmpty else {
            throw MixError.file(shown, "dataset.test_fraction = \(fraction) holds out no image (each class keeps at least one for training)")
        }
        let percent = fraction * 100
        let layout = (folder == nil ? "one folder of classes" : "class folders train/") + ", "
            + (percent == percent.rounded() ? "\(Int(percent))" : "\(percent)") + " % of each class held out (split_seed \(options.splitSeed))"
        var listing = FileListing(name: Self.baseName(root), root: root, layout: layout, classNames: classes, train: train, test: test)
        listing.warnings = walk.warnings(root: root)
        return listing
    }

    static func classNames(in folder: String, walk: inout Walk, options: ListingOptions) throws -> [String] {
        let found = try walk.classFolders(in: folder)
        let where_ = folder.isEmpty ? walk.root : walk.root + "/" + folder
        if found.isEmpty {
            if try walk.holdsImageFiles(folder) { throw MixError.file(where_, flatHint) }
            throw MixError.file(where_, "no class folders")
        }
        return try FileListing.classOrder(found: Set(found), options: options, root: where_, what: "class folder")
    }

    static let flatHint = "holds images but no class folders (ImageNet's val/ as downloaded is one flat folder: "
        + "sort it into class folders, e.g. with valprep.sh, or list it in a val.csv)"

    static func baseName(_ root: String) -> String {
        root.split(separator: "/").last.map(String.init) ?? root
    }

    /// A walk over the dataset's folders that remembers what it skipped.
    struct Walk {
        let root: String
        /// Non-image files skipped, relative to the root.
        var skipped: [String] = []

        init(root: String) { self.root = root }

        func path(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }
        static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "/" + b }

        /// The visible subfolders of `folder` (relative), sorted.
        func classFolders(in folder: String) throws -> [String] {
            try FileIO.entries(path(folder)).filter { !$0.name.hasPrefix(".") && $0.isDirectory }.map(\.name)
        }

        /// Whether `folder` directly holds files with an image extension.
        func holdsImageFiles(_ folder: String) throws -> Bool {
            try FileIO.entries(path(folder)).contains { !$0.name.hasPrefix(".") && !$0.isDirectory && Self.isImageName($0.name) }
        }

        static func isImageName(_ name: String) -> Bool {
            guard let dot = name.lastIndex(of: ".") else { return false }
            return ImageFormat.extensions.contains(name[name.index(after: dot)...].lowercased())
        }

        /// The images of `classes` under `split` (relative), labelled by class index. Every
        /// class must have a folder with at least one image when `requireEach`.
        mutating func files(of split: String, classes: [String], requireEach: Bool) throws -> [ImageFile] {
            var out: [ImageFile] = []
            for e in try FileIO.entries(path(split)) where !e.name.hasPrefix(".") && !e.isDirectory {
                skipped.append(Self.join(split, e.name))  // a stray file beside the class folders
            }
            for (label, c) in classes.enumerated() {
                let folder = Self.join(split, c)
                guard FileIO.isDirectory(path(folder)) else {
                    if requireEach { throw MixError.file(path(folder), "missing: dataset.classes names \(String(reflecting: c))") }
                    continue
                }
                let before = skipped.count
                let images = try imagesUnder(folder)
                if images.isEmpty && requireEach {
                    let others = skipped[before...].map { String($0.dropFirst(folder.count + 1)) }
                    let shown = others.prefix(3).joined(separator: ", ") + (others.count > 3 ? ", …" : "")
                    throw MixError.file(path(folder), "no JPEG, PNG or WebP images, so the class would be empty"
                        + (others.isEmpty ? "" : " (\(others.count) other file\(others.count == 1 ? "" : "s"): \(shown); only .jpg, .jpeg, .png and .webp are read)"))
                }
                out += images.map { ImageFile(path: $0, label: Int32(label)) }
            }
            return out
        }

        /// Image files under `folder` (relative paths), recursively, in torchvision's order:
        /// folders sorted by path, files by name. Hidden entries are ignored; a folder
        /// reached twice (a link loop) is walked once.
        mutating func imagesUnder(_ folder: String) throws -> [String] {
            var listed: [(folder: String, files: [String])] = []
            var pending = [folder]
            var seen = Set<[UInt64]>()
            while let f = pending.popLast() {
                guard let id = FileIO.identity(path(f)), seen.insert([id.device, id.inode]).inserted else { continue }
                guard listed.count < 1_000_000 else { throw MixError.file(path(folder), "more than 1,000,000 folders") }
                var files: [String] = []
                for e in try FileIO.entries(path(f)) where !e.name.hasPrefix(".") {
                    if e.isDirectory { pending.append(Self.join(f, e.name)) } else { files.append(e.name) }
                }
                listed.append((f, files))
            }
            listed.sort { String.codePointOrder($0.folder, $1.folder) }
            var out: [String] = []
            for (f, files) in listed {
                for name in files {
                    let relative = Self.join(f, name)
                    if Self.isImageName(name) { out.append(relative) } else { skipped.append(relative) }
                }
            }
            return out
        }

        /// One warning naming what was skipped (nothing when nothing was).
        func warnings(root: String) -> [String] {
            guard !skipped.isEmpty else { return [] }
            let shown = skipped.prefix(5).joined(separator: ", ") + (skipped.count > 5 ? " and \(skipped.count - 5) more" : "")
            return ["\(root): skipped \(skipped.count) file\(skipped.count == 1 ? "" : "s") without a .jpg, .jpeg, .png or .webp extension: \(shown)"]
        }
    }
}
