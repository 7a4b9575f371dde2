import Dispatch
import Foundation

extension FileIO {
    /// Commits `AtomicWriter`s (fsync, rename, fsync of the directory) on one background
    /// thread, in the order they are handed over, so that the threads making the files go on
    /// computing while each commit waits for the disk.
    ///
    /// A file still appears under its name only when whole and synced; `wait()` returns once
    /// every commit handed over has finished, and rethrows the first that failed. Call it
    /// before anything that relies on the files (a manifest of them, a timing).
    public final class BackgroundCommits: @unchecked Sendable {
        private let queue = DispatchQueue(label: "mixshards.commits")
        private let group = DispatchGroup()
        private let lock = NSLock()
        private var firstError: Error?

        public init() {}

        /// Hands `writer` over: nothing else may touch it afterwards.
        public func commit(_ writer: AtomicWriter) {
            let handed = HandedOver(writer)
            queue.async(group: group) {
                do {
                    try handed.writer.commit()
                } catch {
                    self.lock.lock()
                    if self.firstError == nil { self.firstError = error }
                    self.lock.unlock()
                }
            }
        }

        /// Throws the first error of the commits finished so far, without waiting: a worker
        /// calls it before starting another file, so a failing disk stops the work early.
        public func check() throws {
            lock.lock()
            let error = firstError
            lock.unlock()
            if let error { throw error }
        }

        /// Waits for every commit handed over so far; throws the first error among them.
        public func wait() throws {
            group.wait()
            try check()
        }

        /// A writer that only the commit queue touches once handed over.
        private struct HandedOver: @unchecked Sendable {
            let writer: AtomicWriter
            init(_ writer: AtomicWriter) { self.writer = writer }
        }
    }
}
