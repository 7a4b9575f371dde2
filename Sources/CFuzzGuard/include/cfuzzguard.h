#ifndef CFUZZGUARD_H
#define CFUZZGUARD_H

#include <stddef.h>
#include <stdint.h>

/// What `mixfuzz`'s worker process shares with its supervisor through a small
/// memory-mapped file (MAP_SHARED): it survives the worker's death by a signal,
/// so the supervisor learns which case crashed or hung and what ran before it.
typedef struct {
    uint64_t magic;          ///< MXF_STATUS_MAGIC once attached.
    uint64_t current_case;   ///< The case in progress (valid while `active`).
    uint64_t active;         ///< 1 between mxf_guard_begin and mxf_guard_end.
    uint64_t executions;     ///< Cases completed (any outcome).
    uint64_t successes;      ///< Cases whose input decoded without error.
    uint64_t named_errors;   ///< Cases refused with an error naming the input.
    uint64_t unnamed_errors; ///< Cases refused with an error that does not name it (a finding).
    uint64_t peak_rss_kb;    ///< The highest resident set size reached during a case (KiB).
    uint64_t end_reason;     ///< MXF_END_*.
    uint64_t signal;         ///< The signal of a crash.
    uint64_t last_case;      ///< The last case completed.
    uint64_t baseline_rss_kb;   ///< Resident set size once the target was set up (KiB).
    uint64_t last_start_rss_kb; ///< Resident set size when the last case began (KiB): its growth is leaked memory.
} mxf_status;

#define MXF_STATUS_MAGIC 0x4d58465a53544154ULL /* "MXFZSTAT" */
#define MXF_END_RUNNING 0
#define MXF_END_FINISHED 1
#define MXF_END_CRASH 2
#define MXF_END_HANG 3
#define MXF_END_MEMORY 4
#define MXF_END_GROWTH 5

/// Exit status of a worker whose watchdog found a hang.
#define MXF_EXIT_HANG 86

/// Case outcomes for mxf_guard_end.
#define MXF_OUTCOME_SUCCESS 0
#define MXF_OUTCOME_NAMED_ERROR 1
#define MXF_OUTCOME_UNNAMED_ERROR 2

/// Installs the crash handlers (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE,
/// SIGABRT, on an alternate stack) and, when `hang_seconds > 0`, the watchdog
/// thread. A crash or hang while a case is active writes the case's input to
/// `<dir>/<crash|hang>-<target>-seed<S>-case<N>.bin` and says so on standard
/// error with the replay command; a crash then falls through to the previous
/// handler (Swift's backtrace) and kills the process, a hang exits with
/// MXF_EXIT_HANG. Reports go to `report_fd` (the worker sends its own standard
/// error, where library progress lines land, to a log). Returns 0, or -1 when
/// `status_path` cannot be mapped. `status_path` may be NULL (no supervisor).
int mxf_guard_install(const char *dir, const char *target, uint64_t seed, double hang_seconds,
                      const char *status_path, int report_fd);

/// Marks case `case_no` as running on `input` (copied).
void mxf_guard_begin(uint64_t case_no, const uint8_t *input, size_t count);

/// Marks the running case as finished with `outcome` (MXF_OUTCOME_*) and records
/// the resident set size at its start and its peak (KiB).
void mxf_guard_end(int outcome, uint64_t start_rss_kb, uint64_t peak_rss_kb);

/// Records the resident set size once the target is set up (KiB).
void mxf_guard_set_baseline(uint64_t rss_kb);

/// Writes the input of the last case begun to `<dir>/<kind>-<target>-seed<S>-case<N>.bin`
/// and reports it on standard error under the headline `what` (for failures the
/// worker finds itself: an unnamed error, a memory bound exceeded).
void mxf_guard_report(const char *kind, const char *what);

/// Records why the worker stops (MXF_END_FINISHED or MXF_END_MEMORY).
void mxf_guard_finish(uint64_t reason);

/// The process's peak resident set size (getrusage ru_maxrss) since the last
/// mxf_reset_peak_rss, in KiB; right after a reset, the current size.
uint64_t mxf_peak_rss_kb(void);

/// Resets the peak resident set size to the current one (Linux: "5" to
/// /proc/self/clear_refs), so each case's own peak can be measured. Returns 0, or -1
/// when the kernel does not allow it (the peak is then the process's).
int mxf_reset_peak_rss(void);

/// Limits the address space (RLIMIT_AS) to `bytes`, so an unbounded allocation
/// fails (and is reported as a crash with its input) instead of exhausting the
/// machine. Returns 0 or -1.
int mxf_limit_address_space(uint64_t bytes);

/// Open file descriptors of this process (entries of /proc/self/fd), or -1.
int mxf_open_descriptors(void);

#endif
