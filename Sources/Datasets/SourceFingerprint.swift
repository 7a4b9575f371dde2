import MixCore

/// The source fingerprint of a dataset of image files: SHA-256 (hex) of this text, in
/// UTF-8, each line ending in LF, every name and path written as `<UTF-8 bytes>:<text>`
/// so that no character in it can be mistaken for a separator:
///
///     mixshards image files 1
///     class\t<n>:<name>                          one per class, in label order
///     <split>\t<label>\t<sha256>\t<n>:<path>     one per file used, train then test, in position order
///     skipped\t<split>\t<sha256 or ->\t<n>:<path>  one per file skipped as unreadable
///
/// It covers the original files' bytes (through their SHA-256), their paths and labels
/// and the order they take. (CIFAR's fingerprint is the SHA-256 of its records; see `Dataset.fingerprint`.)
public enum SourceFingerprint {
    public static func of(classNames: [String], train: [FileRecord], test: [FileRecord], skipped: [SkippedFile]) -> String {
        var hasher = SHA256()
        func line(_ s: String) { hasher.update(Array((s + "\n").utf8)) }
        func counted(_ s: String) -> String { "\(s.utf8.count):" + s }
        line("mixshards image files 1")
        for name in classNames { line("class\t" + counted(name)) }
        for (split, files) in [("train", train), ("test", test)] {
            for f in files { line("\(split)\t\(f.label)\t\(f.sha256)\t" + counted(f.path)) }
        }
        for s in skipped { line("skipped\t\(s.split)\t\(s.sha256.isEmpty ? "-" : s.sha256)\t" + counted(s.path)) }
        return SHA256.hex(hasher.finalize())
    }
}
