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
    /// - a `.tar.gz`/`.tgz` file (the official `cifar-10-binary.tar.gz`, read in memory),
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
        if names.contains("train") {
            return try ImageFolders.load(path)
        }
        throw MixError.file(path, "not a dataset: expected data_batch_*.bin + test_batch.bin, or train/<class>/*.png + test/<class>/*.png")
    }
}
