import Foundation

/// One batch of normalised float32 NCHW images and their soft-label rows.
///
/// Buffers are sized for the loader's batch size; only the first `count`
/// samples are valid (the last batch of an epoch may be partial).
public final class Batch: @unchecked Sendable {
    /// `capacity × C × H × W` floats; the first `count` samples are valid.
    public internal(set) var images: [Float]
    /// `capacity × K` floats; the first `count` rows are valid.
    public internal(set) var labels: [Float]
    /// Valid samples.
    public internal(set) var count: Int = 0
    /// Position of this batch in its epoch (0-based).
    public internal(set) var index: Int = 0

    init(capacity: Int, imageCount: Int, classCount: Int) {
        images = [Float](repeating: 0, count: capacity * imageCount)
        labels = [Float](repeating: 0, count: capacity * classCount)
    }

    /// The class of sample `i`: the argmax of its label row (first maximum).
    public func labelClass(_ i: Int, classCount k: Int) -> Int {
        var best = 0
        for j in 1..<k where labels[i * k + j] > labels[i * k + best] { best = j }
        return best
    }
}

/// A bounded FIFO of batches between one producer thread and one consumer,
/// with a free list so batch buffers are reused (memory stays flat).
final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Result<Batch, Error>] = []
    private var head = 0
    private var free: [Batch] = []
    private var finished = false
    private(set) var cancelled = false
    let capacity: Int
    private let makeBatch: @Sendable () -> Batch

    init(capacity: Int, makeBatch: @escaping @Sendable () -> Batch) {
        self.capacity = max(1, capacity)
        self.makeBatch = makeBatch
    }

    /// Producer: a batch buffer from the free list, or a new one.
    func obtain() -> Batch {
        condition.lock()
        let b = free.popLast()
        condition.unlock()
        let batch = b ?? makeBatch()
        batch.count = 0
        return batch
    }

    /// Consumer: hands a batch's buffers back for reuse.
    func recycle(_ b: Batch) {
        condition.lock()
        if free.count < capacity + 2 { free.append(b) }
        condition.unlock()
    }

    /// Producer: waits for room; returns false when the consumer has cancelled.
    @discardableResult
    func put(_ item: Result<Batch, Error>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// Producer: no more items.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next item, or nil at the end.
    func take() -> Result<Batch, Error>? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !finished && !cancelled { condition.wait() }
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 64 {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return item
    }

    /// Consumer: stop the producer (it exits at its next `put`).
    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }

    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }
}

/// The batches of one pass (a training epoch or the test split), produced on a
/// background thread with a bounded prefetch queue.
///
///     let stream = loader.trainBatches(epoch: 0)
///     while let batch = try stream.next() { …; stream.recycle(batch) }
///
/// Dropping the stream (or calling `cancel`) stops the producer.
public final class BatchStream: @unchecked Sendable {
    let queue: BatchQueue
    private var done = false
    /// Batches delivered so far.
    public private(set) var delivered = 0

    init(queue: BatchQueue) {
        self.queue = queue
    }

    deinit {
        queue.cancel()
    }

    /// The next batch, nil at the end of the pass; rethrows a loader error
    /// (e.g. a corrupt chunk, naming file and chunk).
    public func next() throws -> Batch? {
        guard !done else { return nil }
        guard let item = queue.take() else {
            done = true
            return nil
        }
        switch item {
        case .success(let b):
            delivered += 1
            return b
        case .failure(let e):
            done = true
            queue.cancel()
            throw e
        }
    }

    /// Returns a batch's buffers to the loader for reuse (optional; saves allocations).
    public func recycle(_ batch: Batch) {
        queue.recycle(batch)
    }

    /// Stops the background producer early.
    public func cancel() {
        done = true
        queue.cancel()
    }
}
