import Dispatch
import Foundation

/// Runs independent work items on a fixed number of threads.
public enum Parallel {
    /// Calls `body(i)` for every i in 0..<count on up to `threads` threads,
    /// items handed out in order from a shared counter. The first error stops
    /// new items from starting and is rethrown.
    public static func forEach(count: Int, threads: Int, _ body: @Sendable (Int) throws -> Void) throws {
        let state = SharedState()
        let workers = max(1, min(threads, count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let i = state.next(limit: count) {
                do {
                    try body(i)
                } catch {
                    state.fail(error)
                }
            }
        }
        if let error = state.error { throw error }
    }

    private final class SharedState: @unchecked Sendable {
        private let lock = NSLock()
        private var cursor = 0
        private(set) var error: Error?

        func next(limit: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard error == nil, cursor < limit else { return nil }
            cursor += 1
            return cursor - 1
        }

        func fail(_ e: Error) {
            lock.lock()
            if error == nil { error = e }
            lock.unlock()
        }
    }
}

/// A value guarded by a lock, for results gathered from several threads.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

extension Parallel {
    /// `(0..<count).map(body)` on up to `threads` threads, results in index order.
    public static func map<T: Sendable>(count: Int, threads: Int = Parallel.defaultThreads, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        let results = Locked([T?](repeating: nil, count: count))
        try forEach(count: count, threads: threads) { i in
            let value = try body(i)
            results.withLock { $0[i] = value }
        }
        return results.withLock { $0.map { $0! } }
    }

    /// The number of processors available.
    public static var defaultThreads: Int { ProcessInfo.processInfo.activeProcessorCount }
}
