import MixCore
import ZlibKit

/// CIFAR-10's binary version: records of 1 label byte + 3072 planar pixel bytes (32×32 RGB).
public enum CIFAR10 {
    public static let recordBytes = 3073
    public static let defaultClassNames = ["airplane", "automobile", "bird", "cat", "deer",
                                           "dog", "frog", "horse", "ship", "truck"]

    /// Reads a folder of `data_batch_*.bin` (in numeric order) and `test_batch.bin`.
    public static func loadFolder(_ path: String) throws -> Dataset {
        let names = try FileIO.list(path)
        let batches = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("data_batch_"), name.hasSuffix(".bin"),
                  let n = Int(name.dropFirst("data_batch_".count).dropLast(".bin".count)) else { return nil }
            return (n, name)
        }.sorted { $0.0 < $1.0 }.map { path + "/" + $0.1 }
        guard !batches.isEmpty else { throw MixError.file(path, "missing split train: no data_batch_*.bin") }
        guard names.contains("test_batch.bin") else { throw MixError.file(path, "missing split test: no test_batch.bin") }
        let files = batches + [path + "/test_batch.bin"]
        let contents = try Parallel.map(count: files.count) { try FileIO.read(files[$0]) }
        var classNames = defaultClassNames
        if names.contains("batches.meta.txt") {
            classNames = try parseMeta(try FileIO.read(path + "/batches.meta.txt"), name: path + "/batches.meta.txt")
        }
        return try assemble(name: "cifar10", path: path, classNames: classNames,
                            trainFiles: Array(zip(batches, contents.prefix(batches.count))),
                            testFile: (files.last!, contents.last!))
    }

    /// The most an archive may inflate to (256 MiB; the official CIFAR-10 archive inflates to 176 MiB, CIFAR-100's to 176 MiB).
    public static let maxArchiveBytes = 1 << 28

    /// Reads the official `cifar-10-binary.tar.gz` (or `cifar-100-binary.tar.gz`, see
    /// `CIFAR100`) directly (gunzip + tar in memory), refusing an archive that
    /// inflates to more than `maxInflatedBytes`.
    public static func loadArchive(_ path: String, maxInflatedBytes: Int = maxArchiveBytes) throws -> Dataset {
        let tar = try Zlib.gunzip(try FileIO.read(path), name: path, limit: maxInflatedBytes)
        let members = try Tar.members(tar, name: path)
        var batches: [(Int, String, [UInt8])] = []
        var test: (String, [UInt8])?
        var meta: (String, [UInt8])?
        var cifar100: [String: (String, [UInt8])] = [:]   // train.bin, test.bin, fine_label_names.txt
        for m in members {
            let base = m.name.split(separator: "/").last.map(String.init) ?? m.name
            let bytes = Array(tar[m.range])
            if base.hasPrefix("data_batch_"), base.hasSuffix(".bin"),
               let n = Int(base.dropFirst("data_batch_".count).dropLast(".bin".count)) {
                batches.append((n, "\(path):\(m.name)", bytes))
            } else if base == "test_batch.bin" {
                test = ("\(path):\(m.name)", bytes)
            } else if base == "batches.meta.txt" {
                meta = ("\(path):\(m.name)", bytes)
            } else if ["train.bin", "test.bin", "fine_label_names.txt"].contains(base) {
                cifar100[base] = ("\(path):\(m.name)", bytes)
            }
        }
        if batches.isEmpty, cifar100["train.bin"] != nil || cifar100["test.bin"] != nil {
            func missing(_ split: String) -> MixError {
                MixError.file(path, "missing split \(split): no \(split).bin in the archive (CIFAR-100's binary version holds train.bin and test.bin)")
            }
            guard let train = cifar100["train.bin"] else { throw missing("train") }
            guard let test = cifar100["test.bin"] else { throw missing("test") }
            guard let names = cifar100["fine_label_names.txt"] else {
                throw MixError.file(path, "no fine_label_names.txt in the archive (CIFAR-100's binary version ships one; mixprep uses the fine labels)")
            }
            return try CIFAR100.assemble(path: path, train: train, test: test, names: names)
        }
        batches.sort { $0.0 < $1.0 }
        if batches.isEmpty, let kind = Dataset.unsupportedKind(members.map { $0.name.split(separator: "/").last.map(String.init) ?? $0.name }) {
            throw MixError.file(path, Dataset.unsupported(kind))
        }
        guard !batches.isEmpty else { throw MixError.file(path, "missing split train: no data_batch_*.bin in the archive") }
        guard let test else { throw MixError.file(path, "missing split test: no test_batch.bin in the archive") }
        let classNames = try meta.map { try parseMeta($0.1, name: $0.0) } ?? defaultClassNames
        return try assemble(name: "cifar10", path: path, classNames: classNames,
                            trainFiles: batches.map { ($0.1, $0.2) }, testFile: test)
    }

    static func assemble(name: String, path: String, classNames: [String],
                         trainFiles: [(String, [UInt8])], testFile: (String, [UInt8])) throws -> Dataset {
        var hasher = SHA256()
        var train = LabeledImages(channels: 3, height: 32, width: 32)
        train.images.reserveCapacity(trainFiles.reduce(0) { $0 + $1.1.count })
        for (file, bytes) in trainFiles {
            try append(bytes, file: file, classCount: classNames.count, to: &train)
            hasher.update(bytes)
        }
        var test = LabeledImages(channels: 3, height: 32, width: 32)
        try append(testFile.1, file: testFile.0, classCount: classNames.count, to: &test)
        hasher.update(testFile.1)
        return Dataset(name: name, path: path, classNames: classNames, train: train, test: test,
                       fingerprint: SHA256.hex(hasher.finalize()))
    }

    /// Appends the records of one batch file, checking its size and labels.
    static func append(_ bytes: [UInt8], file: String, classCount: Int, to split: inout LabeledImages) throws {
        guard !bytes.isEmpty, bytes.count % recordBytes == 0 else {
            throw MixError.file(file, "size \(bytes.count) is not a positive multiple of the \(recordBytes)-byte CIFAR-10 record")
        }
        let n = bytes.count / recordBytes
        split.labels.reserveCapacity(split.labels.count + n)
        for r in 0..<n {
            let label = bytes[r * recordBytes]
            guard Int(label) < classCount else {
                throw MixError.file(file, "record \(r) has label \(label), not a class (labels go \(Wording.range(0, classCount - 1)))")
            }
            split.labels.append(Int32(label))
            split.images.append(contentsOf: bytes[(r * recordBytes + 1)..<((r + 1) * recordBytes)])
        }
    }

    /// Class names, one per line; blank lines ignored.
    /// Refuses what is not text (invalid UTF-8, control characters): binary garbage
    /// used to become dozens of class names.
    static func parseMeta(_ bytes: [UInt8], name: String) throws -> [String] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MixError.file(name, "is not UTF-8 text (expected one class name per line)")
        }
        if let bad = text.unicodeScalars.first(where: { $0.properties.generalCategory == .control && !"\n\r\t".unicodeScalars.contains($0) }) {
            throw MixError.file(name, "holds control character U+\(String(bad.value, radix: 16, uppercase: true)) (expected one class name per line)")
        }
        let names = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: " \t\r") }.filter { !$0.isEmpty }
        guard !names.isEmpty, names.count <= 256 else { throw MixError.file(name, "expected \(Wording.range(1, 256)) class names, found \(names.count)") }
        for (i, n) in names.enumerated() {
            if let problem = ClassNames.problem(n) { throw MixError.file(name, "class \(i + 1) \(problem)") }
        }
        return names
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
