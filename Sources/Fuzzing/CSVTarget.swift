#if canImport(Glibc)
import Glibc
#endif
import Datasets
import ImageCodecs
import Imaging
import MixCore

/// CSV-listed image datasets as `mixprep` reads `dataset.path` (`DatasetSource.open`,
/// then `ImageFileDecoding`), and the CSV reader on its own (`CSV.parse`).
///
/// The input is `train.csv`'s bytes, then NUL NUL `test.csv` (or `val.csv`) NUL NUL
/// and that file's bytes (no second file without the separator). Seeds are the CSV
/// lists of the `csv` (with `val.csv`) and `csv300` layouts of
/// `Tests/DatasetsTests/Fixtures/layouts`, and four pairs written in code: quoted
/// fields with commas and doubled quotes and extra columns in another order, CRLF
/// with a byte order mark, line breaks inside quoted labels, and bare CR line ends
/// with blank lines. Mutations are `TextMutator`'s on either file (with a dictionary
/// of rows naming good, missing, non-image and directory paths, hostile labels and
/// headers, and 1,024 classes), and the second file renamed, dropped or made a copy
/// of the first.
///
/// Each case writes the two files into a scratch folder holding the layouts' images,
/// two small PNGs made here, a text file and a subfolder, and reads it as a dataset,
/// decoding every listed image at 8×8 (`stretch`, one thread); errors must name the
/// folder or a file in it. An accepted dataset must list each file once per row with
/// its label within the classes, and decode to one 8×8 image per row. Each file is
/// also parsed with `CSV.parse`: its rows written back with `CSV.line` must parse to
/// the same fields.
final class CSVTarget: FuzzTarget {
    static let testNames = ["test.csv", "val.csv"]

    /// Rows and headers worth inserting: good, missing, non-image and directory paths,
    /// paths leaving the folder, hostile labels, broken quoting, and 1,024 classes.
    static let dictionary: [String] = [
        "images/a.png,cat", "images/b.png,dog", "images/b.png,\"plane, small\"", "images/img0.png,class000", "images/train_02.webp,bird",
        "images/sub,cat", "images/notes.txt,cat", "images/missing.png,cat", "images,cat", "./images/a.png,cat", "images//b.png,cat",
        "../ds/images/a.png,cat", "/abs/a.png,cat", "images/a.png,", ",cat", "images/a.png,cat,extra", "images/a.png", "path,label",
        "label,path", "path,label,path", "path,path,label", "\"path\",\"label\"", "\"images/a.png\",\"cat\"", "images/a.png,\"two\nlines\"",
        "images/a.png,\"say \"\"hi\"\"\"", "images/a.png,caf\u{E9}", "images/a.png,cafe\u{301}", "images/a.png,\"\"\"\u{301}\"",
        "images/a.png,\",\u{301}\"", "\u{FEFF}path,label", "images/a.png,\u{0}", "images/a.png,\"\r\"", "\"unclosed,cat", "a\"b,cat",
        "images/a.png,\"x\"y", "images/a.png,\u{2028}", "\"images/a.png\"\r\n", "\r\n\r\n", ",", ",,,",
        (0..<1024).map { "images/\($0 % 2 == 0 ? "a" : "b").png,k\($0)" }.joined(separator: "\n"),
    ]

    let seeds: [[UInt8]]
    /// The seed CSV files, one by one (donors for splicing).
    let files: [[UInt8]]
    /// The dataset folder each case is written to.
    let folder: String

    /// `train` and, under `testName`, `test` as one input.
    static func join(_ train: [UInt8], _ testName: String?, _ test: [UInt8]) -> [UInt8] {
        guard let testName else { return train }
        return train + [0, 0] + Array(testName.utf8) + [0, 0] + test
    }

    /// The two files of an input (see the type's description).
    static func split(_ input: [UInt8]) -> (train: [UInt8], testName: String?, test: [UInt8]) {
        var best: (at: Int, name: String)?
        for name in testNames {
            let marker: [UInt8] = [0, 0] + Array(name.utf8) + [0, 0]
            if let at = input.firstRange(of: marker)?.lowerBound, at < best?.at ?? .max { best = (at, name) }
        }
        guard let (at, name) = best else { return (input, nil, []) }
        return (Array(input[..<at]), name, Array(input[(at + name.utf8.count + 4)...]))
    }

    init(context: FuzzContext) throws {
        let layouts = context.root + "/Tests/DatasetsTests/Fixtures/layouts"
        let small = try FileIO.read(layouts + "/csv/train.csv"), smallVal = try FileIO.read(layouts + "/csv/val.csv")
        let big = try FileIO.read(layouts + "/csv300/train.csv"), bigTest = try FileIO.read(layouts + "/csv300/test.csv")
        let written: [(String, String)] = [
            ("label,path,note\n\"plane, small\",images/a.png,\"said \"\"hi\"\", twice\"\ncat,images/b.png,\n\"plane, small\",images/b.png,x\n",
             "note,path,label\n,images/b.png,cat\n\"a,b\",images/a.png,\"plane, small\"\n"),
            ("\u{FEFF}path,label\r\nimages/a.png,cat\r\nimages/b.png,dog\r\nimages/train_01.jpg,cat\r\n",
             "\u{FEFF}path,label\r\nimages/b.png,dog\r\nimages/val_02.webp,cat\r\n"),
            ("path,label\nimages/a.png,\"two\nlines\"\n\"images/b.png\",\"x\"\nimages/img3.png,\"two\nlines\"\n",
             "path,label\n\"images/a.png\",\"two\nlines\"\nimages/b.png,x"),
            ("path,label\r\rimages/a.png,a\r\r\rimages/b.png,b\r", "path,label\rimages/b.png,a\r\rimages/a.png,b"),
        ]
        files = [small, smallVal, big, bigTest] + written.flatMap { [Array($0.0.utf8), Array($0.1.utf8)] }
        seeds = [CSVTarget.join(small, "val.csv", smallVal), CSVTarget.join(big, "test.csv", bigTest)]
            + written.map { CSVTarget.join(Array($0.0.utf8), "test.csv", Array($0.1.utf8)) }

        folder = context.scratch + "/ds"
        let images = folder + "/images"
        try FileIO.makeDirectories(images + "/sub")
        for layout in ["csv", "csv300"] {
            for name in try FileIO.list(layouts + "/" + layout + "/images") {
                Scratch.write(images + "/" + name, try FileIO.read(layouts + "/" + layout + "/images/" + name))
            }
        }
        Scratch.write(images + "/a.png", try PNG.encode(RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 14) })))
        Scratch.write(images + "/b.png", try PNG.encodeGrey((0..<20).map { UInt8($0 * 12) }, width: 5, height: 4))
        Scratch.write(images + "/notes.txt", Array("not an image\n".utf8))
    }

    // MARK: Mutation

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        // csv300's pair (600 images to decode when it is read) a tenth of the time, the others evenly.
        let seed = rng.chance(0.1) ? seeds[1] : rng.pick([seeds[0]] + seeds[2...])
        var (train, testName, test) = CSVTarget.split(seed)
        let mutateTrain = rng.chance(0.75)
        if mutateTrain { mutate(&train, rng: &rng) }
        if !mutateTrain || rng.chance(0.4) { mutate(&test, rng: &rng) }
        switch rng.below(40) {
        case 0: testName = nil
        case 1, 2: testName = testName == "test.csv" ? "val.csv" : "test.csv"
        case 3: test = train
        default: break
        }
        return CSVTarget.join(train, testName, test)
    }

    /// Text mutations of one file; most of the time of its rows only, so that its header still names the columns.
    func mutate(_ file: inout [UInt8], rng: inout FuzzRNG) {
        let headerEnd = file.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }).map { $0 + 1 } ?? 0
        var body = Array(file[headerEnd...])
        if rng.chance(0.3) || body.isEmpty {
            TextMutator.mutate(&file, rng: &rng, donors: files, dictionary: CSVTarget.dictionary, maxStack: 4)
        } else {
            TextMutator.mutate(&body, rng: &rng, donors: files, dictionary: CSVTarget.dictionary, maxStack: 4)
            file = Array(file[..<headerEnd]) + body
        }
    }

    // MARK: Run

    func run(_ input: [UInt8]) -> FuzzOutcome {
        let (train, testName, test) = CSVTarget.split(input)
        Scratch.write(folder + "/train.csv", train)
        for name in CSVTarget.testNames { unlink(folder + "/" + name) }
        if let testName { Scratch.write(folder + "/" + testName, test) }
        var steps = Steps(naming: [folder])
        steps.run {
            guard case .files(let listing) = try DatasetSource.open(folder) else { throw FuzzInvariant("not read as image files") }
            try CSVTarget.check(listing)
            let policy = SizePolicy(width: 8, height: 8, mode: .stretch)
            let decoded = try ImageFileDecoding(policy: policy, threads: 1).decode(listing)
            for (split, files) in [(decoded.train, listing.train), (decoded.test, listing.test)] {
                guard split.images.count == files.count, split.images.width == 8, split.images.height == 8,
                      split.images.labels == files.map(\.label), split.files.map(\.path) == files.map(\.path) else {
                    throw FuzzInvariant("\(files.count) files listed, \(split.images.count) images of "
                                        + "\(split.images.width)×\(split.images.height) decoded")
                }
            }
        }
        steps.run { try CSVTarget.roundTrip(train, name: folder + "/train.csv") }
        if let testName { steps.run { try CSVTarget.roundTrip(test, name: folder + "/" + testName) } }
        return steps.outcome
    }

    /// A listing read from the folder: both splits, labels within the classes, class names distinct.
    static func check(_ l: FileListing) throws {
        guard !l.train.isEmpty, !l.test.isEmpty, !l.classNames.isEmpty, Set(l.classNames).count == l.classNames.count,
              l.classNames.count <= ListingLimits.maxClasses else {
            throw FuzzInvariant("a listing of \(l.train.count)/\(l.test.count) files in \(l.classNames.count) classes")
        }
        if let bad = (l.train + l.test).first(where: { !(0..<Int32(l.classNames.count)).contains($0.label) || $0.path.isEmpty }) {
            throw FuzzInvariant("file \(String(reflecting: bad.path)) with label \(bad.label) of \(l.classNames.count)")
        }
    }

    /// `bytes` parsed (errors name `name`), written back row by row with `CSV.line` and
    /// parsed again: the same fields, in rows starting on increasing lines. (A row of one
    /// empty field is left out: `CSV.line` writes it as the blank line the reader skips.)
    static func roundTrip(_ bytes: [UInt8], name: String) throws {
        let rows = try CSV.parse(bytes, name: name)
        for (a, b) in zip(rows, rows.dropFirst()) where !(a.line < b.line) {
            throw FuzzInvariant("rows start on lines \(a.line) then \(b.line)")
        }
        let kept = rows.map(\.fields).filter { $0 != [""] }
        let text = CSV.line(["header"]) + kept.map { CSV.line($0) }.joined()
        let back: [CSV.Row]
        do {
            back = try CSV.parse(Array(text.utf8), name: "the rows written back")
        } catch {
            throw FuzzInvariant("CSV.line wrote rows CSV.parse refuses: \(error)")
        }
        guard back.dropFirst().map(\.fields) == kept else {
            let first = zip(back.dropFirst().map(\.fields), kept).first { $0 != $1 }
            throw FuzzInvariant("CSV.line wrote \(back.count - 1) rows for \(kept.count)"
                                + (first.map { ": \($0.1.debugDescription) read back as \($0.0.debugDescription)" } ?? ""))
        }
    }
}
