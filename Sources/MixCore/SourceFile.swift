/// One image file behind a source image: what `mixprep` learned of it while decoding
/// it, and a row of the shard directory's file list (`SourceFileList`).
public struct FileRecord: Sendable, Equatable {
    /// Relative to the dataset's folder.
    public var path: String
    public var label: Int32
    public var bytes: Int
    /// SHA-256 (hex) of the file's bytes.
    public var sha256: String
    /// The upright size of the original, before any resize.
    public var width: Int
    public var height: Int

    public init(path: String, label: Int32, bytes: Int, sha256: String, width: Int, height: Int) {
        self.path = path
        self.label = label
        self.bytes = bytes
        self.sha256 = sha256
        self.width = width
        self.height = height
    }
}

/// A file left out because it could not be read or decoded (`dataset.skip_bad`).
public struct SkippedFile: Sendable, Equatable {
    public var split: String
    public var path: String
    /// SHA-256 of its bytes, or empty when they could not be read.
    public var sha256: String
    /// The reader's or decoder's one-line reason.
    public var reason: String

    public init(split: String, path: String, sha256: String, reason: String) {
        self.split = split
        self.path = path
        self.sha256 = sha256
        self.reason = reason
    }
}
