import MixCore

/// The files behind a shard directory made from image files, written beside the shards:
/// `source/train-files.csv` and `source/test-files.csv` (row k: the file of source image
/// k of that split — the image the provenance's primary or partner index k names) and,
/// when some were skipped, `skipped-files.csv`. Their sizes and SHA-256 are in
/// `manifest.json` (`source.files`), which `verify` checks.
public enum SourceFileList {
    public static let trainFile = "source/train-files.csv"
    public static let testFile = "source/test-files.csv"
    public static let skippedFile = "skipped-files.csv"

    public static let header = ["index", "path", "label", "class", "bytes", "sha256", "width", "height"]
    public static let skippedHeader = ["split", "path", "sha256", "reason"]

    /// The CSV bytes of a split's rows (header `index,path,label,class,bytes,sha256,width,height`).
    public static func encode(_ rows: [FileRecord], classNames: [String]) -> [UInt8] {
        var text = CSV.line(header)
        for (k, r) in rows.enumerated() {
            text += CSV.line([String(k), r.path, String(r.label), classNames[Int(r.label)], String(r.bytes), r.sha256,
                              String(r.width), String(r.height)])
        }
        return Array(text.utf8)
    }

    /// The CSV bytes of the skipped files (header `split,path,sha256,reason`).
    public static func encode(_ skipped: [SkippedFile]) -> [UInt8] {
        Array((CSV.line(skippedHeader) + skipped.map { CSV.line([$0.split, $0.path, $0.sha256, $0.reason]) }.joined()).utf8)
    }

    /// The rows of the split listed in `file` (a shard directory's `trainFile` or
    /// `testFile`), each checked: the header's columns, its own index, numbers that are
    /// numbers, a label below `classNames.count` whose name is in the `class` column.
    public static func rows(_ file: String, classNames: [String]) throws -> [FileRecord] {
        let records = try records(file, header: header)
        return try records.enumerated().map { k, r in
            let f = r.fields
            guard f[0] == String(k), let label = decimal(f[2]), label < classNames.count, f[3].utf8.elementsEqual(classNames[label].utf8),
                  let bytes = decimal(f[4]), f[5].utf8.count == 64, f[5].utf8.allSatisfy({ lowerHex.contains($0) }),
                  let width = decimal(f[6]), width > 0, let height = decimal(f[7]), height > 0 else {
                throw MixError.file(file, "line \(r.line): not row \(k) of a file list (index, path, label, class, bytes, sha256, width, height)")
            }
            return FileRecord(path: f[1], label: Int32(label), bytes: bytes, sha256: f[5], width: width, height: height)
        }
    }

    /// A number as mixprep writes it: decimal digits only (no sign, no leading zero), or nil.
    static func decimal(_ s: String) -> Int? {
        guard !s.isEmpty, s.utf8.count <= 18, s.utf8.allSatisfy({ (48...57).contains($0) }), s == "0" || !s.hasPrefix("0") else { return nil }
        return Int(s)
    }

    /// Lower-case hexadecimal digits, as SHA-256 is written.
    static let lowerHex = Set("0123456789abcdef".utf8)

    /// The skipped files listed in `file` (`skippedFile`).
    public static func skipped(_ file: String) throws -> [SkippedFile] {
        try records(file, header: skippedHeader).map { SkippedFile(split: $0.fields[0], path: $0.fields[1], sha256: $0.fields[2], reason: $0.fields[3]) }
    }

    /// The data rows of a CSV file list, after its header (which must be `header`), each with the header's number of fields.
    static func records(_ file: String, header: [String]) throws -> [CSV.Row] {
        guard let size = try FileIO.regularFileSize(file) else { throw MixError.file(file, "missing") }
        guard size <= CSV.maxBytes else { throw MixError.file(file, "is \(size) bytes, more than a file list may be") }
        let rows = try CSV.parse(try FileIO.read(file), name: file)
        guard rows.first?.fields == header else { throw MixError.file(file, "line 1: the header is not \(header.joined(separator: ","))") }
        for r in rows.dropFirst() where r.fields.count != header.count {
            throw MixError.file(file, "line \(r.line): \(r.fields.count) fields, the header has \(header.count)")
        }
        return Array(rows.dropFirst())
    }
}

/// Where the file lists are, with their sizes and SHA-256, and what decoded the files
/// (`source.files` in `prep.json` and `manifest.json`).
public struct SourceFilesInfo: Sendable, Equatable, Codable {
    public var train: ShardEntry
    public var test: ShardEntry
    /// `skipped-files.csv`, when files were skipped.
    public var skipped: ShardEntry?
    /// Library → version (libjpeg-turbo, libpng, libwebp, libswscale).
    public var libraries: [String: String]

    public init(train: ShardEntry, test: ShardEntry, skipped: ShardEntry?, libraries: [String: String]) {
        self.train = train
        self.test = test
        self.skipped = skipped
        self.libraries = libraries
    }

    /// Every list, in the order they are checked.
    public var entries: [ShardEntry] { [train, test] + (skipped.map { [$0] } ?? []) }
}
