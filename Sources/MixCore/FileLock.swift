#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (`flock`) on a lock file, held until the object
/// is released or the process ends — however it ends, `kill -9` included, so a
/// lock never outlives its process. Lock files are created on first use and
/// never deleted (deleting one would let two processes lock two different
/// files of the same name), and never opened through a symbolic link.
///
/// A lock is exclusive, or shared with other shared holders (`shared: true`,
/// e.g. the workers of one `mixprep run`). An exclusive holder may record who
/// it is in the lock file (`recordHolder`) so that a refused process can say
/// who holds it (`holder(of:)`); the record is cleared on release.
public final class FileLock: @unchecked Sendable {
    /// The lock file.
    public let path: String
    private let fd: Int32
    private var recorded = false

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit {
        if recorded { _ = ftruncate(fd, 0) }
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Takes the lock if it is free; nil if another holder has it (another
    /// process, or another `FileLock` on the same file in this one). A shared
    /// lock is refused only while someone holds it exclusively.
    public static func tryAcquire(_ path: String, shared: Bool = false) throws -> FileLock? {
        try acquire(path, wait: false, shared: shared)
    }

    /// Takes the lock, waiting for its holder to release it.
    public static func acquire(_ path: String) throws -> FileLock {
        try acquire(path, wait: true, shared: false)!
    }

    private static func acquire(_ path: String, wait: Bool, shared: Bool) throws -> FileLock? {
        // Never through a link: a lock file planted as a symlink would have its target
        // truncated by `recordHolder` (issue 22).
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if errno == ELOOP { throw MixError.file(path, "is a symbolic link; lock files are never followed (remove it)") }
            throw MixError.file(path, "cannot open lock file: \(FileIO.errnoText())")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw MixError.file(path, "is not a regular file; lock files must be (remove it)")
        }
        while flock(fd, (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB)) != 0 {
            let e = errno
            if e == EINTR { continue }
            close(fd)
            if e == EWOULDBLOCK { return nil }
            throw MixError.file(path, "cannot lock: \(String(cString: strerror(e)))")
        }
        return FileLock(path: path, fd: fd)
    }

    /// Writes `"<what> (pid P on HOST)"` into the lock file, for `holder(of:)`.
    /// Only an exclusive holder should record itself.
    public func recordHolder(_ what: String) {
        var host = [CChar](repeating: 0, count: 256)
        let name = gethostname(&host, host.count - 1) == 0 ? String(cString: host) : "?"
        let line = Array("\(what) (pid \(getpid()) on \(name))".utf8)
        _ = ftruncate(fd, 0)
        _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        recorded = true
    }

    /// What the holder of the lock file at `path` recorded (`recordHolder`); nil
    /// when nothing is recorded (shared holders, or a holder that records nothing).
    public static func holder(of path: String) -> String? {
        guard let bytes = try? FileIO.read(path), !bytes.isEmpty, bytes.count < 4096,
              let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.isEmpty ? nil : line
    }
}
