#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixCore
import ShardStore

/// Loader throughput: decode (inflate, CRC and label checks, normalise) whole
/// epochs with nothing else consuming CPU; the decoding runs on one thread.
public enum LoaderBenchmark {
    /// What a loader benchmark measured.
    public struct Result: Sendable {
        /// Images delivered.
        public var images: Int
        /// What they were normalised with: the directory's figures (`PixelNormalizer.forSource`),
        /// and whether its manifest recorded them (else the CIFAR-10 constants).
        public var normalizer: PixelNormalizer
        public var recorded: Bool
        /// Wall seconds.
        public var seconds: Double
        /// CPU seconds (user + system) of the whole process over the run:
        /// on a busy machine, `images / cpuSeconds` is the one-core rate.
        public var cpuSeconds: Double
        /// Wall seconds opening the directory took before the clock started (hashing the
        /// source copy, and making its unpacked copy when it was missing).
        public var openSeconds: Double
        /// How references resolve: "uncompressed (mapped)", "compressed, inflated in memory",
        /// "compressed, unpacked in PATH (made now)"; nil without a source copy.
        public var source: String?
        public var imagesPerSecond: Double { Double(images) / max(seconds, 1e-9) }
        public var imagesPerCPUSecond: Double { Double(images) / max(cpuSeconds, 1e-9) }
    }

    /// Reads `epochs` training epochs (0, 1, …) of `path`.
    public static func run(path: String, epochs: Int = 1, batch: Int = 128, seed: UInt64 = 0,
                           quiet: Bool = false) throws -> Result {
        let opened = Progress.now()
        let directory = try ShardDirectory(path: path)
        let openSeconds = Progress.now() - opened
        let source = directory.sourceCopy.map { copy -> String in
            guard copy.isCompressed else { return "uncompressed (mapped)" }
            guard let u = copy.unpacked else { return "compressed, inflated in memory" }
            return "compressed, unpacked in \(u.path)" + (u.made ? " (made now)" : "")
        }
        let (normalizer, recorded) = PixelNormalizer.forSource(directory.manifest.source)
        let loader = try ShardLoader(directory: directory, options: LoaderOptions(batch: batch, seed: seed, normalizer: normalizer))
        var total = 0
        let expected = (0..<epochs).reduce(0) { $0 + loader.directory.trainSampleCount(epoch: $1) }
        let progress = Progress("bench-loader", total: expected, unit: "images", quiet: quiet)
        let cpu0 = cpuSeconds()
        let start = Progress.now()
        for e in 0..<epochs {
            let stream = loader.trainBatches(epoch: e)
            while let b = try stream.next() {
                total += b.count
                progress.advance(by: b.count)
                stream.recycle(b)
            }
        }
        let seconds = Progress.now() - start
        let cpu = cpuSeconds() - cpu0
        progress.finish()
        return Result(images: total, normalizer: normalizer, recorded: recorded, seconds: seconds, cpuSeconds: cpu,
                      openSeconds: openSeconds, source: source)
    }

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
