#if canImport(Glibc)
import Glibc
#endif
import ImageCodecs
import MixCore

/// A split of image files decoded at their final size.
public struct DecodedSplit: Sendable {
    public var images: ImageStore
    /// The file of each image, in position order.
    public var files: [FileRecord]
}

/// The image files of a listing, read once each: hashed, decoded, turned upright and
/// brought to the size policy's size, into a scratch file of the output directory (or
/// memory), with only the images being decoded in memory at any time.
public struct ImageFileDecoding: Sendable {
    public var policy: SizePolicy
    /// Skip unreadable files (listing them) instead of stopping at the first.
    public var skipBad: Bool
    public var threads: Int
    /// Where the decoded images go (an unlinked scratch file); nil: memory.
    public var scratchDirectory: String?
    public var quiet: Bool

    public init(policy: SizePolicy, skipBad: Bool = false, threads: Int = Parallel.defaultThreads,
                scratchDirectory: String? = nil, quiet: Bool = true) {
        self.policy = policy
        self.skipBad = skipBad
        self.threads = threads
        self.scratchDirectory = scratchDirectory
        self.quiet = quiet
    }

    /// Decodes both splits of `listing`; the train split first fixes the size when the
    /// policy names none (the first image that decodes).
    public func decode(_ listing: FileListing) throws -> (train: DecodedSplit, test: DecodedSplit, skipped: [SkippedFile]) {
        let pool = ImageDecoder.Pool()
        var policy = self.policy
        if policy.width == nil {
            policy = try firstSize(listing, pool: pool)
        }
        let progress = Progress("decode", total: listing.train.count + listing.test.count, unit: "images", quiet: quiet)
        let train = try decode(listing.train, split: "train", root: listing.root, policy: policy, pool: pool, progress: progress)
        let test = try decode(listing.test, split: "test", root: listing.root, policy: policy, pool: pool, progress: progress)
        progress.finish()
        return (train.split, test.split, train.skipped + test.skipped)
    }

    /// Why an image of the wrong size is refused (resize none), width×height as everywhere.
    func sizeMismatch(_ image: DecodedImage, _ policy: SizePolicy) -> String {
        let size = "\(policy.width!)×\(policy.height!)"
        return "is \(image.width)×\(image.height) (width×height), "
            + (self.policy.width == nil ? "the first training image is \(size); set dataset.size and " : "not dataset.size \(size); set ")
            + "dataset.resize = \"shorter\" or \"stretch\" to resize the images"
    }

    /// The size of the first training image that decodes: every image must have it (resize none, no size).
    func firstSize(_ listing: FileListing, pool: ImageDecoder.Pool) throws -> SizePolicy {
        for file in listing.train {
            let path = listing.root + "/" + file.path
            do {
                let bytes = try FileIO.read(path)
                let image = try pool.withDecoder { d in try bytes.withUnsafeBytes { try d.decode($0, name: path) } }
                return SizePolicy(width: image.width, height: image.height, mode: .none, filter: policy.filter)
            } catch where skipBad {
                continue
            }
        }
        throw MixError.file(listing.root, "no training image could be decoded")
    }

    func decode(_ files: [ImageFile], split: String, root: String, policy: SizePolicy, pool: ImageDecoder.Pool,
                progress: Progress) throws -> (split: DecodedSplit, skipped: [SkippedFile]) {
        guard let width = policy.width, let height = policy.height else { preconditionFailure("decode needs a size") }
        let imageBytes = 3 * width * height
        let target = try Target(count: files.count, imageBytes: imageBytes, scratchDirectory: scratchDirectory)
        let records = Locked([FileRecord?](repeating: nil, count: files.count))
        let skipped = Locked([Int: SkippedFile]())
        let policy = policy, skipBad = skipBad
        // Files go in runs of `batch`: one decoder, one write of the run's images and one
        // lock for its records per run, not per file (per file, two threads spent a third
        // of their time queueing on locks and on the scratch file's inode).
        let batch = 32
        try Parallel.forEach(count: (files.count + batch - 1) / batch, threads: threads) { run in
            let first = run * batch, count = min(batch, files.count - first)
            var out = [UInt8](repeating: 0, count: count * imageBytes)
            var found = [FileRecord?](repeating: nil, count: count)
            var bad: [Int: SkippedFile] = [:]
            try pool.withDecoder { decoder in
                for j in 0..<count {
                    let file = files[first + j], path = root + "/" + file.path
                    var sha256 = ""
                    do {
                        let bytes = try FileIO.read(path)
                        sha256 = bytes.withUnsafeBytes { SHA256.hexDigest(of: $0) }
                        let prepared = try bytes.withUnsafeBytes { try decoder.prepare($0, name: path, policy: policy) }
                        let image = prepared.image
                        guard image.width == width, image.height == height else { throw MixError.file(path, sizeMismatch(image, policy)) }
                        out.withUnsafeMutableBufferPointer { (($0.baseAddress! + j * imageBytes)).update(from: image.chw, count: imageBytes) }
                        found[j] = FileRecord(path: file.path, label: file.label, bytes: bytes.count, sha256: sha256,
                                              width: prepared.originalWidth, height: prepared.originalHeight)
                    } catch let e as MixError where skipBad {
                        let reason = e.message.hasPrefix(path + ": ") ? String(e.message.dropFirst(path.count + 2)) : e.message
                        bad[first + j] = SkippedFile(split: split, path: file.path, sha256: sha256, reason: reason)
                    }
                }
            }
            try out.withUnsafeBytes { try target.write($0.baseAddress!, slots: first, count: count) }
            records.withLock { for j in 0..<count { $0[first + j] = found[j] } }
            if !bad.isEmpty { skipped.withLock { $0.merge(bad) { a, _ in a } } }
            progress.advance(by: count)
        }
        let all = records.withLock { $0 }
        let kept = all.indices.filter { all[$0] != nil }
        guard !kept.isEmpty else { throw MixError.file(root, "no image of the \(split) split could be decoded") }
        let store = try target.store(slots: kept.count == files.count ? nil : kept.map { Int32($0) },
                                     labels: kept.map { files[$0].label }, height: height, width: width)
        let skips = skipped.withLock { $0 }
        return (DecodedSplit(images: store, files: kept.map { all[$0]! }), skips.keys.sorted().map { skips[$0]! })
    }

    /// Where decoded images are written: slot i of a scratch file, or of memory.
    final class Target: @unchecked Sendable {
        let count: Int
        let imageBytes: Int
        let fd: Int32?
        let name: String
        let memory: UnsafeMutableBufferPointer<UInt8>?

        init(count: Int, imageBytes: Int, scratchDirectory: String?) throws {
            self.count = count
            self.imageBytes = imageBytes
            name = (scratchDirectory ?? "memory") + " (decoded images)"
            if let dir = scratchDirectory {
                fd = try FileIO.scratchFile(in: dir)
                memory = nil
            } else {
                fd = nil
                memory = .allocate(capacity: max(1, count * imageBytes))
            }
        }

        deinit {
            if let fd { close(fd) }
            memory?.deallocate()
        }

        /// Writes `count` images, slots `first` onward, from `bytes`.
        func write(_ bytes: UnsafeRawPointer, slots first: Int, count: Int) throws {
            if let fd {
                try FileIO.write(fd, bytes, count: count * imageBytes, at: first * imageBytes, name: name)
            } else {
                (memory!.baseAddress! + first * imageBytes).update(from: bytes.assumingMemoryBound(to: UInt8.self), count: count * imageBytes)
            }
        }

        func store(slots: [Int32]?, labels: [Int32], height: Int, width: Int) throws -> ImageStore {
            if let fd {
                return try ImageStore(file: fd, name: name, slotCount: count, slots: slots, labels: labels,
                                      channels: 3, height: height, width: width)
            }
            return ImageStore(copying: UnsafeRawBufferPointer(memory!), slots: slots, labels: labels, channels: 3, height: height, width: width)
        }
    }
}
