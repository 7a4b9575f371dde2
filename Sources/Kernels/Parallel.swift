import Dispatch
import Foundation

/// Thread count used by `parallelFor` / `parallelChunks` / `parallelWorkers`; set through
/// `setThreads(_:)`.
enum ParallelSettings {
    nonisolated(unsafe) static var threads: Int = 1

    /// Marks threads that are running inside a parallel region, so that loops nested in
    /// it (a kernel called by a micro-batch worker) run serially instead of
    /// oversubscribing the cores.
    static let nestedKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    @inline(__always)
    static var isNested: Bool { pthread_getspecific(nestedKey) != nil }

    /// Runs `body` with the calling thread marked as inside a parallel region.
    @inline(__always)
    static func nested(_ body: () -> Void) {
        let before = pthread_getspecific(nestedKey)
        pthread_setspecific(nestedKey, UnsafeRawPointer(bitPattern: 1))
        body()
        pthread_setspecific(nestedKey, before)
    }
}

/// The number of worker threads the package's own loops use (set by `setThreads`).
public var kernelThreads: Int { ParallelSettings.threads }

/// Runs `body(worker)` for `worker in 0..<workers` at once, each on its own thread (the
/// caller's thread is one of them), with loops nested inside running serially. Callers
/// size `workers` to at most `kernelThreads`; with one worker this is a plain call.
public func parallelWorkers(_ workers: Int, _ body: (Int) -> Void) {
    if workers <= 0 { return }
    if workers == 1 || ParallelSettings.isNested {
        ParallelSettings.nested { for w in 0..<workers { body(w) } }
        return
    }
    withoutActuallyEscaping(body) { escapable in
        // The caller guarantees the workers touch disjoint memory.
        let box = UncheckedSendable(escapable)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            ParallelSettings.nested { box.value(w) }
        }
    }
}

/// Runs `body(i)` for `i in 0..<count` on at most `kernelThreads` threads, each taking one
/// contiguous block of indices.
///
/// Iterations must touch disjoint memory (so the split never changes a result). Inside
/// another parallel region, with one thread, or with `count <= 1`, this is a plain loop on
/// the calling thread.
@inline(__always)
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 0 { return }
    let workers = min(ParallelSettings.threads, count)
    if workers <= 1 || ParallelSettings.isNested {
        for i in 0..<count { body(i) }
        return
    }
    parallelWorkers(workers) { w in
        for i in (count * w / workers)..<(count * (w + 1) / workers) { body(i) }
    }
}

/// Splits `0..<count` into about `kernelThreads` contiguous chunks (never smaller than
/// `minChunk`) and runs `body(range)` for each, in parallel (serially inside another
/// parallel region).
@inline(__always)
public func parallelChunks(_ count: Int, minChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let chunks = ParallelSettings.isNested ? 1 : max(1, min(ParallelSettings.threads, count / max(1, minChunk)))
    if chunks == 1 {
        body(0..<count)
        return
    }
    let per = (count + chunks - 1) / chunks
    parallelWorkers(chunks) { i in
        let lo = i * per
        let hi = min(count, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}

/// Carries a non-Sendable value (a loop body over raw pointers) into
/// `concurrentPerform`; sound because the iterations write disjoint memory.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
