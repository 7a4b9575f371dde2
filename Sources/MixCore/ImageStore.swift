#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The images of one split at their final size: what the mixer reads primaries and
/// partners from. Either in memory (CIFAR, read whole) or in a scratch file that
/// `mixprep` decodes into. A scratch file is read with `pread` (`copy(_:into:)`), so
/// its pages stay in the page cache, not in the process: mixing a folder of photos
/// keeps only the images in flight in memory. Its mapping backs `image(_:)`, which
/// only the rare pointer users (checking kept reference shards) touch.
public final class ImageStore: @unchecked Sendable {
    public let channels: Int
    public let height: Int
    public let width: Int
    /// One class index per image.
    public let labels: [Int32]
    public var count: Int { labels.count }
    public var imageBytes: Int { channels * height * width }

    private let base: UnsafePointer<UInt8>
    /// Image k lives in slot `slots[k]` (identity when nil): a scratch file keeps the
    /// slot of every listed file, including files skipped as unreadable.
    private let slots: [Int32]?
    private let owned: UnsafeMutableBufferPointer<UInt8>?
    private let mapping: (pointer: UnsafeMutableRawPointer, count: Int)?
    /// The scratch file (a duplicate descriptor, closed with the store), for `pread`.
    private let fd: Int32?
    private let name: String

    /// The images of `split` (copied once).
    public convenience init(_ split: LabeledImages) {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(split.images.count, 1))
        _ = buffer.initialize(from: split.images)
        self.init(owned: buffer, channels: split.channels, height: split.height, width: split.width, labels: split.labels)
    }

    /// The images in `slots` of `raw` (slot k at `k × C·H·W`; all of them when nil), copied.
    public convenience init(copying raw: UnsafeRawBufferPointer, slots: [Int32]?, labels: [Int32],
                            channels: Int, height: Int, width: Int) {
        let n = channels * height * width
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(labels.count * n, 1))
        for k in 0..<labels.count {
            let slot = slots.map { Int($0[k]) } ?? k
            precondition((slot + 1) * n <= raw.count, "slot outside the buffer")
            (buffer.baseAddress! + k * n).initialize(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + slot * n, count: n)
        }
        self.init(owned: buffer, channels: channels, height: height, width: width, labels: labels)
    }

    private init(owned: UnsafeMutableBufferPointer<UInt8>, channels: Int, height: Int, width: Int, labels: [Int32]) {
        self.owned = owned
        self.base = UnsafePointer(owned.baseAddress!)
        self.mapping = nil
        self.fd = nil
        self.name = "memory"
        self.slots = nil
        self.channels = channels
        self.height = height
        self.width = width
        self.labels = labels
    }

    /// The first `slotCount × C·H·W` bytes of the open scratch file `fd` (the caller
    /// closes `fd`; the store keeps a duplicate). `slots[k]` is the slot of image k.
    public init(file fd: Int32, name: String, slotCount: Int, slots: [Int32]?, labels: [Int32],
                channels: Int, height: Int, width: Int) throws {
        let bytes = slotCount * channels * height * width
        self.channels = channels
        self.height = height
        self.width = width
        self.labels = labels
        self.slots = slots
        self.name = name
        if bytes == 0 {  // nothing to map (mmap refuses a length of 0)
            let empty = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 1)
            self.owned = empty
            self.mapping = nil
            self.fd = nil
            self.base = UnsafePointer(empty.baseAddress!)
            return
        }
        self.owned = nil
        let p = mmap(nil, bytes, PROT_READ, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else { throw MixError.file(name, "cannot map the decoded images: \(String(cString: strerror(errno)))") }
        let copy = dup(fd)
        guard copy >= 0 else {
            munmap(p, bytes)
            throw MixError.file(name, "cannot keep the decoded images open: \(String(cString: strerror(errno)))")
        }
        self.fd = copy
        self.mapping = (p, bytes)
        self.base = UnsafePointer(p.assumingMemoryBound(to: UInt8.self))
    }

    deinit {
        owned?.deallocate()
        if let mapping { munmap(mapping.pointer, mapping.count) }
        if let fd { close(fd) }
    }

    /// Copies the C·H·W bytes of image `k` to `out`: from memory, or read from the
    /// scratch file (the page cache), not through the mapping.
    public func copy(_ k: Int, into out: UnsafeMutablePointer<UInt8>) {
        precondition(k >= 0 && k < count, "image index out of range")
        let slot = slots.map { Int($0[k]) } ?? k
        guard let fd else {
            out.update(from: base + slot * imageBytes, count: imageBytes)
            return
        }
        var done = 0
        while done < imageBytes {
            let n = pread(fd, out + done, imageBytes - done, off_t(slot * imageBytes + done))
            if n < 0 && errno == EINTR { continue }
            // The scratch file is this process's own, unlinked and sized when written: a
            // short read means the disk failed under us, which no caller can recover from.
            precondition(n > 0, "\(name): cannot read decoded image \(k): \(n == 0 ? "end of file" : String(cString: strerror(errno)))")
            done += n
        }
    }

    /// The C·H·W bytes of image `k` (`0 ≤ k < count`), planar.
    @inline(__always)
    public func image(_ k: Int) -> UnsafePointer<UInt8> {
        precondition(k >= 0 && k < count, "image index out of range")
        let slot = slots.map { Int($0[k]) } ?? k
        return base + slot * imageBytes
    }

    /// The first `n` images (all when fewer): a copy in memory.
    public func prefix(_ n: Int) -> ImageStore {
        let m = Swift.min(n, count)
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(m * imageBytes, 1))
        for k in 0..<m { (buffer.baseAddress! + k * imageBytes).initialize(from: image(k), count: imageBytes) }
        return ImageStore(owned: buffer, channels: channels, height: height, width: width, labels: Array(labels.prefix(m)))
    }
}
