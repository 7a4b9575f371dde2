/// The one limit on a class name, checked wherever names are read: a dataset's
/// class folders, CSV labels and `batches.meta.txt`, `dataset.classes`, and the
/// `source.classNames` of `manifest.json` and `prep.json`.
///
/// Reports, contact sheets and `verify`'s tables lay names out side by side, so
/// their size grows with the longest name; a 30 MB name made `export` ask for
/// hundreds of GB. 256 bytes is above the 255 a class folder's name may have on
/// common file systems.
public enum ClassNames {
    /// The most bytes of UTF-8 in one class name.
    public static let maxBytes = 256

    /// Why `name` cannot be a class name (empty, or longer than `maxBytes`), in
    /// words that follow what names it (`dataset.classes[3] `, `label `), or nil.
    /// A long name is shown by its first characters only.
    public static func problem(_ name: String) -> String? {
        let bytes = name.utf8.count
        if bytes == 0 { return "is empty; a class name is \(Wording.range(1, maxBytes)) bytes of UTF-8" }
        guard bytes > maxBytes else { return nil }
        return "\(String(reflecting: String(name.prefix(24)) + "…")) is \(Wording.grouped(bytes)) bytes long; "
            + "a class name is \(Wording.range(1, maxBytes)) bytes of UTF-8"
    }

    /// The first problem of `names`, naming the entry as `what[i]` (e.g. `source.classNames[3]`), or nil.
    public static func problem(_ names: [String], what: String) -> String? {
        for (i, name) in names.enumerated() {
            if let p = problem(name) { return "\(what)[\(i)] \(p)" }
        }
        return nil
    }
}
