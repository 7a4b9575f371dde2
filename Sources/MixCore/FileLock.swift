#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (`flock`) on a lock file, held until the object
/// is released or the process ends — however it ends, `kill -9` included, so a
/// lock never outlives its process. Lock files are created on first use and
/// never deleted (deleting one would let two processes lock two different
/// files of the same name).
public final class FileLock: @unchecked Sendable {
    /// The lock file.
    public let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Takes the lock if it is free; nil if another holder has it (another
    /// process, or another `FileLock` on the same file in this one).
    public static func tryAcquire(_ path: String) throws -> FileLock? {
        try acquire(path, wait: false)
    }

    /// Takes the lock, waiting for its holder to release it.
    public static func acquire(_ path: String) throws -> FileLock {
        try acquire(path, wait: true)!
    }

    private static func acquire(_ path: String, wait: Bool) throws -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MixError.file(path, "cannot open lock file: \(FileIO.errnoText())") }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let e = errno
            if e == EINTR { continue }
            close(fd)
            if e == EWOULDBLOCK { return nil }
            throw MixError.file(path, "cannot lock: \(String(cString: strerror(e)))")
        }
        return FileLock(path: path, fd: fd)
    }
}
