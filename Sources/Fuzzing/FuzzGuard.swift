// The one Swift file that imports CFuzzGuard.
import CFuzzGuard

/// The worker's guard (C, async-signal-safe): crash handlers and a hang
/// watchdog that write the running case's input to a file and name target,
/// seed and case; the status the supervisor reads after the worker exits.
enum FuzzGuard {
    static let exitHang = Int32(MXF_EXIT_HANG)
    /// Exit status of a worker that exceeded the memory bound.
    static let exitMemory: Int32 = 87
    /// Exit status of a worker that ended with many more file descriptors open than it started with.
    static let exitLeak: Int32 = 88

    static func install(failureDirectory: String, target: String, seed: UInt64, hangSeconds: Double, statusPath: String?,
                        reportDescriptor: Int32) -> Bool {
        mxf_guard_install(failureDirectory, target, seed, hangSeconds, statusPath, reportDescriptor) == 0
    }

    /// Runs `body` as case `caseNumber` on `input`, then records its outcome, the
    /// resident set size at its start and the peak it reached (its own peak when the
    /// kernel lets the peak be reset, see `resetPeakRSS`).
    static func run(case caseNumber: UInt64, input: [UInt8], _ body: () -> FuzzOutcome)
        -> (FuzzOutcome, startRSSKiB: UInt64, peakRSSKiB: UInt64)
    {
        _ = resetPeakRSS()
        let start = peakRSSKiB()
        input.withUnsafeBufferPointer { mxf_guard_begin(caseNumber, $0.baseAddress, $0.count) }
        let outcome = body()
        let rss = peakRSSKiB()
        let code: Int32
        switch outcome {
        case .success: code = MXF_OUTCOME_SUCCESS
        case .namedError: code = MXF_OUTCOME_NAMED_ERROR
        case .unnamedError: code = MXF_OUTCOME_UNNAMED_ERROR
        }
        mxf_guard_end(code, start, rss)
        return (outcome, start, rss)
    }

    /// Marks case `caseNumber` as running before its input exists (while it is generated).
    static func begin(case caseNumber: UInt64) {
        mxf_guard_begin(caseNumber, nil, 0)
    }

    /// Resets the peak RSS to the current one; false when the kernel does not allow it.
    static func resetPeakRSS() -> Bool { mxf_reset_peak_rss() == 0 }

    static func setBaseline(rssKiB: UInt64) { mxf_guard_set_baseline(rssKiB) }

    /// Writes the last case's input as `<kind>-<target>-seed<S>-case<N>.bin` and reports it.
    static func report(kind: String, headline: String) {
        mxf_guard_report(kind, headline)
    }

    static func finish(memory: Bool) {
        mxf_guard_finish(UInt64(memory ? MXF_END_MEMORY : MXF_END_FINISHED))
    }

    /// Exit status of a worker whose resident memory grew by more than the allowed drift between cases (leaks).
    static let exitGrowth: Int32 = 89

    static func peakRSSKiB() -> UInt64 { mxf_peak_rss_kb() }

    static func limitAddressSpace(bytes: UInt64) -> Bool { mxf_limit_address_space(bytes) == 0 }

    static func openDescriptors() -> Int { Int(mxf_open_descriptors()) }

    /// The status a worker left in the file at `path`.
    struct Status {
        var executions: UInt64 = 0
        var successes: UInt64 = 0
        var namedErrors: UInt64 = 0
        var unnamedErrors: UInt64 = 0
        var peakRSSKiB: UInt64 = 0
        var currentCase: UInt64 = 0
        var lastCase: UInt64 = 0
        var active = false
        var endReason: UInt64 = 0
        var baselineRSSKiB: UInt64 = 0
        var lastStartRSSKiB: UInt64 = 0
        var valid = false

        static let crash = UInt64(MXF_END_CRASH), hang = UInt64(MXF_END_HANG), memory = UInt64(MXF_END_MEMORY)
        static let finished = UInt64(MXF_END_FINISHED)

        init() {}

        init(bytes: [UInt8]) {
            guard bytes.count >= MemoryLayout<mxf_status>.size else { return }
            let s = bytes.withUnsafeBytes { $0.loadUnaligned(as: mxf_status.self) }
            guard s.magic == MXF_STATUS_MAGIC else { return }
            valid = true
            executions = s.executions
            successes = s.successes
            namedErrors = s.named_errors
            unnamedErrors = s.unnamed_errors
            peakRSSKiB = s.peak_rss_kb
            currentCase = s.current_case
            lastCase = s.last_case
            active = s.active != 0
            endReason = s.end_reason
            baselineRSSKiB = s.baseline_rss_kb
            lastStartRSSKiB = s.last_start_rss_kb
        }
    }
}
