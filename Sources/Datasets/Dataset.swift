import MixCore

/// A labelled image dataset with a train and a test split.
public struct Dataset: Sendable {
    /// A short name for reports (`cifar10`, or the folder name).
    public var name: String
    /// Where it was read from.
    public var path: String
    public var classNames: [String]
    public var train: LabeledImages
    public var test: LabeledImages
    /// SHA-256 (hex) of the canonical records: for each image, train then test,
    /// its label byte then its planar pixels. For CIFAR-10 that is exactly the
    /// SHA-256 of `cat data_batch_*.bin test_batch.bin`, whatever the container.
    public var fingerprint: String
    /// What the reader skipped or doubts, one line each (printed as `warning: …`).
    public var warnings: [String] = []

    public init(name: String, path: String, classNames: [String], train: LabeledImages, test: LabeledImages, fingerprint: String) {
        self.name = name
        self.path = path
        self.classNames = classNames
        self.train = train
        self.test = test
        self.fingerprint = fingerprint
    }

    public var classCount: Int { classNames.count }

    /// Reads a dataset, recognising its kind:
    /// - a folder holding `data_batch_*.bin` and `test_batch.bin` (CIFAR-10 binary),
    /// - a folder holding `train.bin`, `test.bin` and `fine_label_names.txt` (CIFAR-100 binary, fine labels),
    /// - a `.tar.gz`/`.tgz` file (the official `cifar-10-binary.tar.gz` or `cifar-100-binary.tar.gz`, read in memory),
    /// - a folder holding `train/<class>/*.png` and `test/<class>/*.png`.
    public static func load(_ path: String) throws -> Dataset {
        if path.hasSuffix(".tar.gz") || path.hasSuffix(".tgz") {
            return try CIFAR10.loadArchive(path)
        }
        guard FileIO.isDirectory(path) else {
            throw MixError.file(path, FileIO.exists(path) ? "not a dataset (expected a folder or a .tar.gz)" : "no such file or folder")
        }
        let names = try FileIO.list(path)
        if names.contains(where: { $0.hasPrefix("data_batch_") && $0.hasSuffix(".bin") }) || names.contains("test_batch.bin") {
            return try CIFAR10.loadFolder(path)
        }
        if names.contains("train.bin") && names.contains("test.bin") {
            return try CIFAR100.loadFolder(path)
        }
        if let kind = unsupportedKind(names.filter { !FileIO.isDirectory(path + "/" + $0) }) {
            throw MixError.file(path, unsupported(kind))
        }
        if names.contains("train") {
            return try ImageFolders.load(path)
        }
        if names.contains("train.bin") || names.contains("test.bin") {
            return try CIFAR100.loadFolder(path)  // names the split that is missing
        }
        throw MixError.file(path, "not a dataset: expected data_batch_*.bin + test_batch.bin, train.bin + test.bin (CIFAR-100), "
            + "or train/<class>/*.png + test/<class>/*.png")
    }

    /// Which known but unsupported dataset layout file names (a folder's, or an
    /// archive's member base names) belong to, if any: the Python (pickle)
    /// versions of CIFAR-10 and CIFAR-100 (torchvision's downloads).
    static func unsupportedKind(_ names: [String]) -> String? {
        let set = Set(names)
        if set.contains("data_batch_1") || set.contains("batches.meta") {
            return "CIFAR-10's Python version (pickled batches, as torchvision downloads it)"
        }
        if set.contains("meta") && set.contains("train") && set.contains("test") {
            return "CIFAR-100's Python version (pickled, as torchvision downloads it)"
        }
        return nil
    }

    /// The refusal for a known but unsupported layout.
    static func unsupported(_ kind: String) -> String {
        "this is \(kind), which mixprep does not read; it reads the binary versions of CIFAR-10 and CIFAR-100 "
            + "(cifar-10-binary.tar.gz, cifar-100-binary.tar.gz, or their folders) and PNG class folders (train/<class>/*.png, test/<class>/*.png)"
    }
}
