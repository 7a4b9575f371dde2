import MixCore

/// A folder with `train.csv` and `test.csv` (or `val.csv`): header `path,label` (other
/// columns are ignored), each path relative to the CSV's folder, each label a class name.
/// Classes are the train labels sorted as text (or `dataset.classes`).
enum CSVLayout {
    static func list(_ root: String, options: ListingOptions) throws -> FileListing {
        if options.testFraction != nil {
            throw MixError.file(root, "dataset.test_fraction is for a folder without a test split, and this one has a test CSV")
        }
        let testName = FileIO.exists(root + "/test.csv") ? "test.csv" : "val.csv"
        guard FileIO.exists(root + "/" + testName) else {
            throw MixError.file(root, "missing split test: train.csv but no test.csv or val.csv")
        }
        let train = try rows(root + "/train.csv")
        let test = try rows(root + "/" + testName)
        guard !train.isEmpty else { throw MixError.file(root + "/train.csv", "lists no images") }
        guard !test.isEmpty else { throw MixError.file(root + "/" + testName, "lists no images") }
        let classes = try FileListing.classOrder(found: Set(train.map(\.label)), options: options, root: root + "/train.csv",
                                                 what: "label")
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        func files(_ rows: [(line: Int, path: String, label: String)], file: String) throws -> [ImageFile] {
            try rows.map { r in
                guard let label = index[r.label] else {
                    throw MixError.file(root + "/" + file, "line \(r.line): label \(String(reflecting: r.label)) is not a class of train.csv")
                }
                return ImageFile(path: r.path, label: label)
            }
        }
        return FileListing(name: ImageFolderLayout.baseName(root), root: root, layout: "CSV lists train.csv + \(testName)",
                           classNames: classes, train: try files(train, file: "train.csv"), test: try files(test, file: testName))
    }

    /// The (line, path, label) of every data row of the CSV at `file`.
    static func rows(_ file: String) throws -> [(line: Int, path: String, label: String)] {
        guard let size = try FileIO.regularFileSize(file) else { throw MixError.file(file, "no such file") }
        guard size <= CSV.maxBytes else { throw MixError.file(file, "is \(size) bytes; a CSV list may be at most 1 GiB") }
        let rows = try CSV.parse(try FileIO.read(file), name: file)
        guard let header = rows.first else { throw MixError.file(file, "is empty (expected a header line path,label)") }
        guard let p = header.fields.firstIndex(of: "path"), let l = header.fields.firstIndex(of: "label") else {
            throw MixError.file(file, "line \(header.line): the header must name the columns path and label (found \(header.fields.map { String(reflecting: $0) }.joined(separator: ", ")))")
        }
        return try rows.dropFirst().map { r in
            guard r.fields.count == header.fields.count else {
                throw MixError.file(file, "line \(r.line): \(r.fields.count) field\(r.fields.count == 1 ? "" : "s"), the header has \(header.fields.count)")
            }
            let path = r.fields[p], label = r.fields[l]
            guard !path.isEmpty else { throw MixError.file(file, "line \(r.line): empty path") }
            guard !path.hasPrefix("/") else { throw MixError.file(file, "line \(r.line): path \(String(reflecting: path)) is absolute; paths are relative to the CSV's folder") }
            guard !path.utf8.contains(0) else { throw MixError.file(file, "line \(r.line): the path holds a NUL byte") }
            guard !label.isEmpty else { throw MixError.file(file, "line \(r.line): empty label") }
            if let problem = ClassNames.problem(label) { throw MixError.file(file, "line \(r.line): label \(problem)") }
            return (r.line, path, label)
        }
    }
}
