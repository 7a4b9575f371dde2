import MixCore

/// CIFAR-100's binary version (`cifar-100-binary.tar.gz`, or its folder): records
/// of a coarse label byte, a fine label byte and 3072 planar pixel bytes (32×32
/// RGB) in `train.bin` (50,000) and `test.bin` (10,000); class names, one per
/// line, in `fine_label_names.txt`. mixprep uses the 100 fine labels; the source
/// fingerprint is the SHA-256 of the canonical records (fine label byte + pixels).
public enum CIFAR100 {
    public static let recordBytes = 3074

    /// Reads a folder holding `train.bin`, `test.bin` and `fine_label_names.txt`.
    public static func loadFolder(_ path: String) throws -> Dataset {
        let names = try FileIO.list(path)
        for split in ["train", "test"] where !names.contains(split + ".bin") {
            throw MixError.file(path, "missing split \(split): no \(split).bin (CIFAR-100's binary version holds train.bin and test.bin)")
        }
        guard names.contains("fine_label_names.txt") else {
            throw MixError.file(path, "no fine_label_names.txt (CIFAR-100's binary version ships one; mixprep uses the fine labels)")
        }
        let files = ["train.bin", "test.bin", "fine_label_names.txt"].map { path + "/" + $0 }
        let contents = try Parallel.map(count: files.count) { try FileIO.read(files[$0]) }
        return try assemble(path: path, train: (files[0], contents[0]), test: (files[1], contents[1]),
                            names: (files[2], contents[2]))
    }

    /// The dataset from the contents of `train.bin`, `test.bin` and `fine_label_names.txt` (each with the name errors use).
    static func assemble(path: String, train: (String, [UInt8]), test: (String, [UInt8]), names: (String, [UInt8])) throws -> Dataset {
        let classNames = try CIFAR10.parseMeta(names.1, name: names.0)
        var hasher = SHA256()
        var trainSplit = LabeledImages(channels: 3, height: 32, width: 32)
        try append(train.1, file: train.0, classCount: classNames.count, to: &trainSplit, hasher: &hasher)
        var testSplit = LabeledImages(channels: 3, height: 32, width: 32)
        try append(test.1, file: test.0, classCount: classNames.count, to: &testSplit, hasher: &hasher)
        return Dataset(name: "cifar100", path: path, classNames: classNames, train: trainSplit, test: testSplit,
                       fingerprint: SHA256.hex(hasher.finalize()))
    }

    /// Appends the records of one file (fine labels), checking its size and labels.
    static func append(_ bytes: [UInt8], file: String, classCount: Int, to split: inout LabeledImages, hasher: inout SHA256) throws {
        guard !bytes.isEmpty, bytes.count % recordBytes == 0 else {
            throw MixError.file(file, "size \(bytes.count) is not a positive multiple of the \(recordBytes)-byte CIFAR-100 record")
        }
        let n = bytes.count / recordBytes
        split.labels.reserveCapacity(split.labels.count + n)
        split.images.reserveCapacity(split.images.count + n * (recordBytes - 2))
        try bytes.withUnsafeBytes { raw in
            for r in 0..<n {
                let label = bytes[r * recordBytes + 1]
                guard Int(label) < classCount else {
                    throw MixError.file(file, "record \(r) has fine label \(label), not a class (labels go \(Wording.range(0, classCount - 1)))")
                }
                split.labels.append(Int32(label))
                split.images.append(contentsOf: bytes[(r * recordBytes + 2)..<((r + 1) * recordBytes)])
                hasher.update(UnsafeRawBufferPointer(rebasing: raw[(r * recordBytes + 1)..<((r + 1) * recordBytes)]))
            }
        }
    }
}
