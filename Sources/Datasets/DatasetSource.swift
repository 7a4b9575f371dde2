import MixCore

/// What a `dataset.path` holds: records read whole (CIFAR), or image files listed for decoding.
public enum DatasetSource: Sendable {
    case records(Dataset)
    case files(FileListing)

    /// The layouts of image files, in the order they are recognised, for messages.
    public static let layoutsInBrief = "train/<class>/ with test/<class>/ or val/<class>/, train.csv with test.csv or val.csv, "
        + "or one folder of classes with dataset.test_fraction"

    /// Recognises the dataset at `path`, in this order:
    /// 1. a `.tar.gz`/`.tgz` file: the official `cifar-10-binary.tar.gz` or `cifar-100-binary.tar.gz`;
    /// 2. a folder of `data_batch_*.bin` + `test_batch.bin` (CIFAR-10) or `train.bin` + `test.bin` (CIFAR-100);
    /// 3. class folders `train/<class>/…` with `test/<class>/…` or `val/<class>/…` (ImageNet's layout);
    /// 4. `train.csv` with `test.csv` or `val.csv` (header `path,label`);
    /// 5. one folder of classes (`<class>/…`) without a test split, which needs `options.testFraction`.
    public static func open(_ path: String, options: ListingOptions = ListingOptions()) throws -> DatasetSource {
        if path.hasSuffix(".tar.gz") || path.hasSuffix(".tgz") {
            return .records(try CIFAR10.loadArchive(path))
        }
        guard FileIO.isDirectory(path) else {
            throw MixError.file(path, FileIO.exists(path) ? "not a dataset (expected a folder or a .tar.gz)" : "no such file or folder")
        }
        let names = try FileIO.list(path)
        if names.contains(where: { $0.hasPrefix("data_batch_") && $0.hasSuffix(".bin") }) || names.contains("test_batch.bin") {
            return .records(try CIFAR10.loadFolder(path))
        }
        if names.contains("train.bin") && names.contains("test.bin") {
            return .records(try CIFAR100.loadFolder(path))
        }
        if let kind = Dataset.unsupportedKind(names.filter { !FileIO.isDirectory(path + "/" + $0) }) {
            throw MixError.file(path, Dataset.unsupported(kind))
        }
        func folder(_ name: String) -> Bool { names.contains(name) && FileIO.isDirectory(path + "/" + name) }
        if folder("train") {
            if let test = ["test", "val"].first(where: folder) {
                return .files(try ImageFolderLayout.listSplits(path, testFolder: test, options: options))
            }
            if !names.contains("train.csv") {
                return .files(try ImageFolderLayout.listSingle(path, folder: "train", options: options))
            }
        }
        if names.contains("train.csv") {
            return .files(try CSVLayout.list(path, options: options))
        }
        if names.contains("train.bin") || names.contains("test.bin") {
            return .records(try CIFAR100.loadFolder(path))  // names the split that is missing
        }
        if names.contains(where: { !$0.hasPrefix(".") && FileIO.isDirectory(path + "/" + $0) }) {
            return .files(try ImageFolderLayout.listSingle(path, folder: nil, options: options))
        }
        throw MixError.file(path, "not a dataset: expected data_batch_*.bin + test_batch.bin (CIFAR-10), train.bin + test.bin (CIFAR-100), "
            + layoutsInBrief)
    }
}
