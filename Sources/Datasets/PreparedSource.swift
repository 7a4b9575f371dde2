import ImageCodecs
import MixCore

/// A dataset ready to mix: both splits as images of one size with their labels, the
/// fingerprint, and for image files what every position came from.
public struct PreparedSource: Sendable {
    public var name: String
    public var path: String
    /// The layout it was recognised as (`CIFAR-10 binary`, `class folders train/ + val/`, …).
    public var layout: String
    public var classNames: [String]
    public var train: ImageStore
    public var test: ImageStore
    public var fingerprint: String
    public var warnings: [String]
    /// For image files: the file behind each position, what was skipped, and the libraries that decoded them.
    public var files: SourceFiles?

    public var classCount: Int { classNames.count }
}

/// The files behind a dataset of image files.
public struct SourceFiles: Sendable {
    public var train: [FileRecord]
    public var test: [FileRecord]
    public var skipped: [SkippedFile]
    /// Library name → version, for the manifest.
    public var libraries: [String: String]
}

extension PreparedSource {
    /// CIFAR records (already decoded), the first `trainLimit`/`testLimit` of each split (0: all).
    public init(_ d: Dataset, trainLimit: Int, testLimit: Int) {
        let train = trainLimit > 0 ? d.train.prefix(trainLimit) : d.train
        let test = testLimit > 0 ? d.test.prefix(testLimit) : d.test
        self.init(name: d.name, path: d.path, layout: d.name == "cifar100" ? "CIFAR-100 binary" : "CIFAR-10 binary",
                  classNames: d.classNames, train: ImageStore(train), test: ImageStore(test), fingerprint: d.fingerprint,
                  warnings: d.warnings, files: nil)
    }

    /// Image files, decoded by `decoding`: the first `trainLimit`/`testLimit` files listed of each split (0: all).
    public init(_ listing: FileListing, trainLimit: Int, testLimit: Int, decoding: ImageFileDecoding) throws {
        var listing = listing
        if trainLimit > 0 { listing.train = Array(listing.train.prefix(trainLimit)) }
        if testLimit > 0 { listing.test = Array(listing.test.prefix(testLimit)) }
        let (train, test, skipped) = try decoding.decode(listing)
        var warnings = listing.warnings
        if !skipped.isEmpty {
            warnings.append("\(listing.root): skipped \(skipped.count) file\(skipped.count == 1 ? "" : "s") that could not be decoded "
                            + "(dataset.skip_bad), first \(skipped[0].path): \(skipped[0].reason)")
        }
        self.init(name: listing.name, path: listing.root, layout: listing.layout, classNames: listing.classNames,
                  train: train.images, test: test.images,
                  fingerprint: SourceFingerprint.of(classNames: listing.classNames, train: train.files, test: test.files, skipped: skipped),
                  warnings: warnings,
                  files: SourceFiles(train: train.files, test: test.files, skipped: skipped, libraries: ImageDecoder.libraryVersions))
    }
}
