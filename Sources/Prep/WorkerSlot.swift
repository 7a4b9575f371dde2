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
    /// SLURM_ARRAY_TASK_ID with the worker count in MIXPREP_WORKERS when it is set (so
    /// that one task resubmitted alone, `sbatch --array=1`, is still worker 1 of 4), else
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (ids taken relative to
    /// SLURM_ARRAY_TASK_MIN, default 0); or Kubernetes JOB_COMPLETION_INDEX with the
    /// completion count in MIXPREP_WORKERS (Kubernetes does not export it).
    public static func fromEnvironment(_ env: [String: String]) throws -> WorkerSlot? {
        if let id = env["SLURM_ARRAY_TASK_ID"] {
            if let workers = env["MIXPREP_WORKERS"] {
                return try slot(id, workers, names: "SLURM_ARRAY_TASK_ID/MIXPREP_WORKERS")
            }
            guard let count = env["SLURM_ARRAY_TASK_COUNT"] else {
                throw MixError("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor MIXPREP_WORKERS; set MIXPREP_WORKERS or pass --worker i/n")
            }
            let minimum = Int(env["SLURM_ARRAY_TASK_MIN"] ?? "0") ?? 0
            guard let i = Int(id), Int(count) != nil else {
                throw MixError("SLURM_ARRAY_TASK_ID/COUNT are not integers (\(id)/\(count))")
            }
            return try slot(String(i - minimum), count, names: "SLURM_ARRAY_TASK_ID/COUNT")
        }
        if let id = env["JOB_COMPLETION_INDEX"] {
            guard let count = env["MIXPREP_WORKERS"] else {
                throw MixError("JOB_COMPLETION_INDEX is set but MIXPREP_WORKERS (the job's completions) is not; set it or pass --worker i/n")
            }
            return try slot(id, count, names: "JOB_COMPLETION_INDEX/MIXPREP_WORKERS")
        }
        return nil
    }

    /// `index/count` from two variables, named in the error when they do not make a slot.
    static func slot(_ index: String, _ count: String, names: String) throws -> WorkerSlot {
        guard let i = Int(index), let n = Int(count), n >= 1, i >= 0, i < n else {
            throw MixError("\(names) = \(index)/\(count) is not a worker i of n with 0 ≤ i < n")
        }
        return WorkerSlot(index: i, count: n)
    }

    public func owns(_ job: Int) -> Bool { job % count == index }

    public var description: String { "\(index)/\(count)" }
}
