import CMapGuard
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checked file I/O: whole-file reads, atomic writes (temp + fsync + rename)
/// and memory maps (read-only, or copy-on-write). Every error names the file.
public enum FileIO {
    /// Opens a regular file for reading; returns the descriptor and its size.
    ///
    /// The file is opened non-blocking and checked with `fstat` before any read:
    /// a FIFO, device, socket or directory where a file should be is refused by
    /// name instead of hanging a read (opening a FIFO to read blocks until a writer comes).
    public static func openRegular(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw MixError.file(path, "cannot open: \(errnoText())") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let text = errnoText()
            close(fd)
            throw MixError.file(path, "cannot stat: \(text)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw MixError.file(path, "is \(kindName(st.st_mode)), not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int(st.st_size))
    }

    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        case S_IFREG: "a regular file"
        default: "a special file"
        }
    }

    /// Reads a whole regular file (see `openRegular`); with `limit`, a larger one is refused
    /// before anything is allocated, the error saying what the file is (`what`: "a manifest"):
    /// a sparse 4 GiB `manifest.json` costs nothing to make.
    public static func read(_ path: String, limit: Int? = nil, what: String = "the file") throws -> [UInt8] {
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        if let limit, size > limit {
            throw MixError.file(path, "is \(Wording.grouped(size)) bytes, more than \(what) may have (\(Wording.grouped(limit)))")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        try bytes.withUnsafeMutableBytes { buf in
            while done < size {
                let n = Glibc.read(fd, buf.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw MixError.file(path, "read failed: \(n == 0 ? "unexpected end of file" : errnoText())") }
                done += n
            }
        }
        return bytes
    }

    /// Writes `bytes` to `path` atomically: a temporary file of its own, fsync, rename,
    /// fsync of the directory. A crash leaves either the old file, no file, or the whole
    /// new one — never a partial one.
    ///
    /// The temporary file is `path.<pid>-<n>.tmp`, created with `O_EXCL | O_NOFOLLOW`:
    /// never an existing file or a link planted there, and never another process's — two
    /// workers writing `prep.json` at once used to share `prep.json.tmp`, and one of them
    /// failed to rename it (a Slurm job array of four tasks, issue 24).
    public static func writeAtomically(_ path: String, _ bytes: UnsafeRawBufferPointer) throws {
        let tmp = try writeTemporary(besides: path, bytes)
        guard rename(tmp, path) == 0 else {
            let text = errnoText()
            unlink(tmp)
            throw MixError.file(path, "cannot rename from \(tmp): \(text)")
        }
        syncDirectory(of: path)
    }

    /// Writes `bytes` to `path` unless something is there already, atomically (as
    /// `writeAtomically`, then a hard link, which fails when the name exists); returns
    /// whether this call created it. Of processes racing to create one file, exactly one wins.
    public static func createAtomically(_ path: String, _ bytes: [UInt8]) throws -> Bool {
        let tmp = try bytes.withUnsafeBytes { try writeTemporary(besides: path, $0) }
        defer { unlink(tmp) }
        guard link(tmp, path) == 0 else {
            if errno == EEXIST { return false }
            throw MixError.file(path, "cannot create from \(tmp): \(errnoText())")
        }
        syncDirectory(of: path)
        return true
    }

    /// A new temporary file beside `path` holding `bytes`, fsynced; its name.
    static func writeTemporary(besides path: String, _ bytes: UnsafeRawBufferPointer) throws -> String {
        let (fd, tmp) = try createTemporary(besides: path)
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(tmp) }
        }
        try writeAll(fd, bytes, name: tmp)
        guard fsync(fd) == 0 else { throw MixError.file(tmp, "fsync failed: \(errnoText())") }
        ok = true
        return tmp
    }

    /// A new, empty temporary file `path.<pid>-<n>.tmp` (exclusive, never through a link).
    static func createTemporary(besides path: String) throws -> (fd: Int32, name: String) {
        var fd: Int32 = -1, tmp = ""
        for n in 0..<1000 {
            tmp = "\(path).\(getpid())-\(n).tmp"
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw MixError.file(tmp, "cannot create: \(errnoText())") }
        return (fd, tmp)
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, name: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw MixError.file(name, "write failed: \(errnoText())") }
            done += n
        }
    }

    /// `writeAtomically` for a file written piece by piece, so that it never has to
    /// be whole in memory: `append` writes to the temporary file, `commit` fsyncs it
    /// and renames it to `path`; a writer dropped before `commit` removes its
    /// temporary file, and nothing ever appears under `path` that is not whole.
    public final class AtomicWriter {
        public let path: String
        private let fd: Int32
        private let tmp: String
        private var open = true
        /// Bytes appended so far.
        public private(set) var count = 0

        public init(_ path: String) throws {
            self.path = path
            (fd, tmp) = try FileIO.createTemporary(besides: path)
        }

        deinit {
            guard open else { return }
            close(fd)
            unlink(tmp)
        }

        public func append(_ bytes: UnsafeRawBufferPointer) throws {
            precondition(open, "append after commit")
            try FileIO.writeAll(fd, bytes, name: tmp)
            count += bytes.count
        }

        public func append(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try append($0) }
        }

        /// fsync, rename to `path`, fsync of the directory.
        public func commit() throws {
            precondition(open, "commit twice")
            open = false
            defer { close(fd) }
            guard fsync(fd) == 0 else {
                let text = FileIO.errnoText()
                unlink(tmp)
                throw MixError.file(tmp, "fsync failed: \(text)")
            }
            guard rename(tmp, path) == 0 else {
                let text = FileIO.errnoText()
                unlink(tmp)
                throw MixError.file(path, "cannot rename from \(tmp): \(text)")
            }
            FileIO.syncDirectory(of: path)
        }
    }

    /// Removes the temporary files `writeAtomically` may have left beside `path` (a crash
    /// between create and rename): `path.<pid>-<n>.tmp`, whoever made them.
    public static func removeTemporaries(of path: String) {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let names = try? list(dir.isEmpty ? "/" : dir) else { return }
        for name in names where name.hasPrefix(base + ".") && name.hasSuffix(".tmp") {
            let middle = name.dropFirst(base.count + 1).dropLast(4)
            if !middle.isEmpty, middle.allSatisfy({ $0.isNumber || $0 == "-" }) { unlink(dir + "/" + name) }
        }
    }

    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAtomically(path, $0) }
    }

    public static func writeAtomically(_ path: String, _ text: String) throws {
        try writeAtomically(path, Array(text.utf8))
    }

    /// Creates `path` and its parents (like `mkdir -p`).
    public static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            current += (current.isEmpty || current.hasSuffix("/") ? "" : "/") + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw MixError.file(current, "cannot create directory: \(errnoText())")
            }
        }
    }

    /// Creates the folders of `relative` (plain components, no `..`) inside the directory
    /// `base`, one at a time, and refuses any of them that exists as something other than a
    /// directory — a symbolic link included: what a tool creates inside its output is never
    /// a link to somewhere else (a planted `OUT/train -> /elsewhere` used to receive the
    /// shards, issue 22). `base` itself, the user's choice, may be a link.
    public static func makeDirectories(_ relative: String, in base: String) throws {
        var current = base
        for part in relative.split(separator: "/") {
            precondition(part != "..", "makeDirectories(_:in:): \(relative) climbs out of \(base)")
            if part == "." { continue }
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw MixError.file(current, "cannot create directory: \(errnoText())")
            }
            var st = stat()
            guard lstat(current, &st) == 0 else { throw MixError.file(current, "cannot stat: \(errnoText())") }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: continue
            case S_IFLNK: throw MixError.file(current, "is a symbolic link where a folder is written; links inside an output are never followed (remove it)")
            default: throw MixError.file(current, "is \(kindName(st.st_mode)) where a folder is written (remove it)")
            }
        }
    }

    /// Whether `name` is safe as one path component of an output: non-empty,
    /// only ASCII letters, digits, '.', '_' and '-', not starting with '.'
    /// (so never `.`, `..`, hidden, a path, or holding a newline).
    public static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-"
        }
    }

    /// Refuses an empty output directory: prefixed to relative names it would write into `/`.
    public static func checkOutputDirectory(_ path: String) throws {
        guard !path.isEmpty else { throw MixError("the output directory is empty (--out \"\"); name a directory") }
    }

    /// `path` with repeated slashes, `.` components and `folder/..` pairs removed,
    /// so that messages and manifests show `data/x` rather than `pipelines/../data/x`.
    /// Lexical, except that a `..` after a symbolic link is kept (the link's
    /// parent is elsewhere). An empty result is `.`.
    public static func normalizedPath(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                var st = stat()
                let sofar = (absolute ? "/" : "") + parts.joined(separator: "/")
                if !(lstat(sofar, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK) {
                    parts.removeLast()
                    continue
                }
            }
            if part == "..", absolute, parts.isEmpty { continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Whether `path` is a directory this process may create files in.
    public static func isWritableDirectory(_ path: String) -> Bool {
        isDirectory(path) && access(path, W_OK | X_OK) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The size of the regular file at `path`, nil when nothing is there; refuses
    /// (by name, without opening it) a FIFO, device or directory.
    public static func regularFileSize(_ path: String) throws -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw MixError.file(path, "is \(kindName(st.st_mode)), not a regular file") }
        return Int(st.st_size)
    }

    public static func fileSize(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// Names in a directory (no `.`/`..`), sorted bytewise.
    public static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw MixError.file(path, "cannot list directory: \(errnoText())") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// The (device, inode) pair of what `path` names (following links), for walks that
    /// must not visit a directory twice; nil when it cannot be stat'ed.
    public static func identity(_ path: String) -> (device: UInt64, inode: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// A new, already unlinked file in `directory`, open for reading and writing: scratch
    /// space that disappears with the process however it ends. Created with `O_EXCL` and
    /// `O_NOFOLLOW` under a name no other process uses.
    public static func scratchFile(in directory: String) throws -> Int32 {
        for attempt in 0..<100 {
            let path = directory + "/.mixprep-scratch-\(getpid())-\(attempt).tmp"
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 {
                unlink(path)
                return fd
            }
            guard errno == EEXIST else { throw MixError.file(path, "cannot create a scratch file: \(errnoText())") }
        }
        throw MixError.file(directory, "cannot create a scratch file: every name is taken")
    }

    /// Writes `count` bytes at `offset` of the open file `fd` (named `name` in errors).
    public static func write(_ fd: Int32, _ bytes: UnsafeRawPointer, count: Int, at offset: Int, name: String) throws {
        var done = 0
        while done < count {
            let n = pwrite(fd, bytes + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw MixError.file(name, "write failed: \(n == 0 ? "no progress" : errnoText())") }
            done += n
        }
    }

    /// Names in a directory (no `.`/`..`), sorted bytewise, each with whether it is a
    /// directory (following a link), from the entry's type where the file system gives one
    /// and from `stat` otherwise: listing ImageNet's 1.3 M files needs no `stat` per file.
    public static func entries(_ path: String) throws -> [(name: String, isDirectory: Bool)] {
        guard let dir = opendir(path) else { throw MixError.file(path, "cannot list directory: \(errnoText())") }
        defer { closedir(dir) }
        var out: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name != "." && name != ".." else { continue }
            let type = entry.pointee.d_type
            let isDirectory = type == UInt8(DT_DIR) || ((type == UInt8(DT_UNKNOWN) || type == UInt8(DT_LNK)) && FileIO.isDirectory(path + "/" + name))
            out.append((name, isDirectory))
        }
        return out.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
    }

    public static func remove(_ path: String) {
        unlink(path)
    }

    /// Removes the empty directory `path` (nothing when it is not empty).
    public static func removeDirectory(_ path: String) {
        rmdir(path)
    }

    static func syncDirectory(of path: String) {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let fd = open(dir, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

/// A private memory map of a whole regular file, read-only unless `copyOnWrite` (FIFOs,
/// devices and directories are refused, see `FileIO.openRegular`). The mapping lives as long as the object.
///
/// A file that another process truncates while it is mapped makes reading past its new
/// end a SIGBUS. Every mapping is registered with `CMapGuard`, whose handler turns that
/// signal into one line naming the file (`error: PATH: the file shrank while it was being
/// read …`) and exit status 1, instead of a death without a word.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?
    private var guardSlot: Int32 = -1

    /// Maps the whole of `path`. With `copyOnWrite`, the mapping is writable too:
    /// what is written there stays in this process (`MAP_PRIVATE`), the file unchanged.
    public init(_ path: String, copyOnWrite: Bool = false) throws {
        self.path = path
        let (fd, size) = try FileIO.openRegular(path)
        defer { close(fd) }
        count = size
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, copyOnWrite ? PROT_READ | PROT_WRITE : PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw MixError.file(path, "cannot mmap: \(FileIO.errnoText())") }
        base = p
        guardSlot = mapguard_register(p, count, path)
    }

    deinit {
        mapguard_unregister(guardSlot)
        if let base { munmap(base, count) }
    }

    /// How many mappings the SIGBUS guard holds now (for tests).
    public static var guardedCount: Int { Int(mapguard_count()) }

    /// The mapped bytes; valid while `self` is alive.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }

    /// The mapped bytes, for writing: only a mapping made with `copyOnWrite` may be written.
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base, count: count)
    }
}
