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

    /// Reads a CIFAR-10 or CIFAR-100 binary dataset (folder or `.tar.gz`); any other
    /// layout is refused here (`DatasetSource.open` lists image files).
    public static func load(_ path: String) throws -> Dataset {
        switch try DatasetSource.open(path) {
        case .records(let d): return d
        case .files(let listing): throw MixError.file(path, "holds image files (\(listing.layout)), not CIFAR records")
        }
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
            + "(cifar-10-binary.tar.gz, cifar-100-binary.tar.gz, or their folders) and image files (" + DatasetSource.layoutsInBrief + ")"
    }
}
