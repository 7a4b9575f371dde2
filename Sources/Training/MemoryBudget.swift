import Foundation
import MixCore
import NN

/// Refuses, before anything large is allocated, a network whose activations
/// would not fit in this machine's memory. `TrainingLimits` bound the
/// parameters, but the activations grow with the image area: the seed CNN on
/// 1024×1024 images needs tens of GiB per thread, and an allocation that
/// fails traps instead of reporting. This turns that into one line naming
/// the need, the memory and what to change.
public enum MemoryBudget {
    /// The memory this process may use: the physical memory, or less when a cgroup
    /// limit (v2 `memory.max`, v1 `memory.limit_in_bytes`) or `MIXSHARDS_MEMORY_LIMIT`
    /// (bytes, or with a K, M or G suffix for KiB, MiB, GiB) says so.
    public static func available(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Double {
        var bytes = Double(ProcessInfo.processInfo.physicalMemory)
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
               let limit = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
                bytes = min(bytes, limit)
            }
        }
        if let text = environment["MIXSHARDS_MEMORY_LIMIT"] {
            guard let limit = parseSize(text) else {
                throw MixError("MIXSHARDS_MEMORY_LIMIT must be a size in bytes, optionally with K, M or G (got \"\(text)\")")
            }
            bytes = min(bytes, limit)
        }
        return bytes
    }

    /// `123`, `512K`, `8M`, `1.5G` (binary units) as bytes; nil for anything else (`ByteSize.parse`).
    static func parseSize(_ text: String) -> Double? { ByteSize.parse(text) }

    /// Throws when `SeedCNN.memoryNeeded` for these arguments exceeds `available`
    /// (or `limit`, for tests); `context` starts the message (a shard directory or checkpoint).
    public static func check(_ config: CNNConfig, microBatch: Int = SeedCNN.defaultMicroBatch, workers: Int,
                             training: Bool, context: String, limit: Double? = nil) throws {
        let need = SeedCNN.memoryNeeded(config: config, microBatch: microBatch, workers: workers, training: training)
        let have = try limit ?? available()
        guard need > have else { return }
        let image = Wording.image(channels: config.inputChannels, height: config.inputHeight, width: config.inputWidth)
        throw MixError("\(context): \(training ? "training" : "evaluating") the CNN on \(image) images needs about \(gib(need)) "
            + "(widths \(config.widths), hidden \(config.hidden), micro-batches of \(microBatch), \(workers) thread\(workers == 1 ? "" : "s")); "
            + "\(gib(have)) is available (physical memory, cgroup limit, MIXSHARDS_MEMORY_LIMIT): "
            + "use smaller images, narrower widths, fewer threads or smaller micro-batches")
    }

    /// `12.3 GiB`, or `512.0 MiB` below 1 GiB.
    static func gib(_ bytes: Double) -> String {
        bytes < 1_073_741_824 ? String(format: "%.1f MiB", bytes / 1_048_576) : String(format: "%.1f GiB", bytes / 1_073_741_824)
    }
}
