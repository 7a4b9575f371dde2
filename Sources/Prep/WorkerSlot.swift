import MixCore

/// A share of the shard files: shard job j belongs to worker `j % count == index`.
public struct WorkerSlot: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public static let all = WorkerSlot(index: 0, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `i/n` (0 ≤ i < n).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (0..<n).contains(i) else {
            throw MixError("--worker must be i/n with 0 ≤ i < n (got \"\(text)\")")
        }
        self.init(index: i, count: n)
    }

    /// The slot from job-array variables when `--worker` is not given:
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (ids taken relative to
    /// SLURM_ARRAY_TASK_MIN, default 0), or Kubernetes JOB_COMPLETION_INDEX with
    /// the completion count in MIXPREP_WORKERS (Kubernetes does not export it).
    public static func fromEnvironment(_ env: [String: String]) throws -> WorkerSlot? {
        if let id = env["SLURM_ARRAY_TASK_ID"], let count = env["SLURM_ARRAY_TASK_COUNT"] {
            let minimum = Int(env["SLURM_ARRAY_TASK_MIN"] ?? "0") ?? 0
            guard let i = Int(id), let n = Int(count) else {
                throw MixError("SLURM_ARRAY_TASK_ID/COUNT are not integers (\(id)/\(count))")
            }
            return try WorkerSlot(parsing: "\(i - minimum)/\(n)")
        }
        if let id = env["JOB_COMPLETION_INDEX"] {
            guard let count = env["MIXPREP_WORKERS"] else {
                throw MixError("JOB_COMPLETION_INDEX is set but MIXPREP_WORKERS (the job's completions) is not; set it or pass --worker i/n")
            }
            return try WorkerSlot(parsing: "\(id)/\(count)")
        }
        return nil
    }

    public func owns(_ job: Int) -> Bool { job % count == index }

    public var description: String { "\(index)/\(count)" }
}
