import Dispatch

/// Thread count used by `parallelFor` / `parallelChunks`; set through `setThreads(_:)`.
enum ParallelSettings {
    nonisolated(unsafe) static var threads: Int = 1
}

/// The number of worker threads the package's own loops use (set by `setThreads`).
public var kernelThreads: Int { ParallelSettings.threads }

/// Runs `body(i)` for `i in 0..<count`, spread over `kernelThreads` threads.
///
/// Iterations must touch disjoint memory. With one thread (or `count <= 1`) this is
/// a plain loop on the calling thread.
@inline(__always)
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 0 { return }
    if ParallelSettings.threads <= 1 || count == 1 {
        for i in 0..<count { body(i) }
    } else {
        withoutActuallyEscaping(body) { escapable in
            // The caller guarantees iterations touch disjoint memory.
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: count) { i in box.value(i) }
        }
    }
}

/// Splits `0..<count` into about `kernelThreads` contiguous chunks (never smaller than
/// `minChunk`) and runs `body(range)` for each, in parallel.
@inline(__always)
public func parallelChunks(_ count: Int, minChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = ParallelSettings.threads
    let chunks = max(1, min(threads, count / max(1, minChunk)))
    if chunks == 1 {
        body(0..<count)
        return
    }
    let per = (count + chunks - 1) / chunks
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(escapable)
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            let lo = i * per
            let hi = min(count, lo + per)
            if lo < hi { box.value(lo..<hi) }
        }
    }
}

/// Carries a non-Sendable value (a loop body over raw pointers) into
/// `concurrentPerform`; sound because the iterations write disjoint memory.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
