import MixCore

/// Who may write into a shard directory at once: one whole `mixprep run` or
/// `mixprep finalize` (an exclusive lock on `DIR/.mixprep.lock`), or the
/// workers of a split run (each shares that lock and holds its own
/// `DIR/.mixprep-worker-I-of-N.lock`). A second process is refused with a line
/// that says who holds the directory, instead of failing later on a rename.
/// Locks die with their process (`flock`), so a killed run never blocks a rerun.
enum PrepLock {
    static let fileName = ".mixprep.lock"

    /// Takes the locks `worker` needs in `dir` (which exists); `what` names this process in refusals.
    static func take(_ dir: String, worker: WorkerSlot, what: String) throws -> [FileLock] {
        // A directory this process cannot write (a complete, published copy) needs no lock:
        // nothing can be written into it, and a run that would write fails on its first file.
        guard FileIO.isWritableDirectory(dir) else { return [] }
        let path = dir + "/" + fileName
        if worker.count == 1 {
            guard let lock = try FileLock.tryAcquire(path) else { throw busy(dir, path) }
            lock.recordHolder(what)
            return [lock]
        }
        guard let shared = try FileLock.tryAcquire(path, shared: true) else { throw busy(dir, path) }
        let own = dir + "/.mixprep-worker-\(worker.index)-of-\(worker.count).lock"
        guard let mine = try FileLock.tryAcquire(own) else {
            throw MixError.file(dir, "worker \(worker) is already running here (\(FileLock.holder(of: own) ?? "another process")); wait for it to finish")
        }
        mine.recordHolder("\(what) --worker \(worker)")
        return [shared, mine]
    }

    static func busy(_ dir: String, _ path: String) -> MixError {
        let who = FileLock.holder(of: path).map { "another process is writing into it: \($0)" }
            ?? "mixprep workers are writing into it"
        return MixError.file(dir, "\(who); wait for it to finish, or choose another --out")
    }

    /// Removes `dir` when it holds nothing but lock files: the folder a run created
    /// before it failed on its input (a bad image, say) is not left behind.
    static func removeEmptyDirectory(_ dir: String) {
        guard let names = try? FileIO.list(dir),
              names.allSatisfy({ $0 == fileName || ($0.hasPrefix(".mixprep-worker-") && $0.hasSuffix(".lock")) }) else { return }
        for n in names { FileIO.remove(dir + "/" + n) }
        FileIO.removeDirectory(dir)
    }
}
