// mixfuzz's guard: crash handlers, a hang watchdog and the status shared with
// the supervisor. Written in C so that what runs inside a signal handler is
// async-signal-safe (open, write, close, sigaction, raise and plain stores only).
#define _GNU_SOURCE
#include "cfuzzguard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char g_dir[2048];
static char g_target[128];
static uint64_t g_seed;
static uint64_t g_hang_ns;
static int g_report_fd = 2;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *g_input;
static size_t g_count, g_capacity;
static volatile uint64_t g_case;
static volatile int g_active;
static uint64_t g_start_ns;

static mxf_status g_local_status;
static mxf_status *volatile g_status = &g_local_status;

static const int g_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT};
#define SIGNAL_COUNT (sizeof g_signals / sizeof g_signals[0])
static struct sigaction g_previous[SIGNAL_COUNT];
static volatile sig_atomic_t g_in_handler;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// MARK: async-signal-safe text

typedef struct {
    char text[4096];
    size_t used;
} line_buffer;

static void put_str(line_buffer *b, const char *s) {
    while (*s && b->used + 1 < sizeof b->text) b->text[b->used++] = *s++;
    b->text[b->used] = 0;
}

static void put_u64(line_buffer *b, uint64_t v) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0 && b->used + 1 < sizeof b->text) b->text[b->used++] = digits[--n];
    b->text[b->used] = 0;
}

static void write_all(int fd, const void *data, size_t count) {
    const char *p = data;
    while (count > 0) {
        ssize_t n = write(fd, p, count);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        count -= (size_t)n;
    }
}

/// Writes the current input to `<dir>/<kind>-<target>-seed<S>-case<N>.bin` and
/// reports it on standard error. `what` is the headline (e.g. "CRASH (signal 4)").
static void report_failure(const char *kind, const char *what) {
    line_buffer path = {.used = 0};
    put_str(&path, g_dir);
    put_str(&path, "/");
    put_str(&path, kind);
    put_str(&path, "-");
    put_str(&path, g_target);
    put_str(&path, "-seed");
    put_u64(&path, g_seed);
    put_str(&path, "-case");
    put_u64(&path, g_case);
    put_str(&path, ".bin");
    int fd = open(path.text, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
        write_all(fd, g_input, g_count);
        close(fd);
    }
    line_buffer msg = {.used = 0};
    put_str(&msg, "\nmixfuzz: ");
    put_str(&msg, what);
    put_str(&msg, " in target ");
    put_str(&msg, g_target);
    put_str(&msg, ", seed ");
    put_u64(&msg, g_seed);
    put_str(&msg, ", case ");
    put_u64(&msg, g_case);
    put_str(&msg, fd >= 0 ? "; input (" : "; could not write the input (");
    put_u64(&msg, g_count);
    put_str(&msg, " bytes) to ");
    put_str(&msg, path.text);
    put_str(&msg, "\nmixfuzz: replay: mixfuzz replay ");
    put_str(&msg, path.text);
    put_str(&msg, " --target ");
    put_str(&msg, g_target);
    put_str(&msg, "\n");
    write_all(g_report_fd, msg.text, msg.used);
}

// MARK: crash handler

static void on_fatal_signal(int sig, siginfo_t *info, void *context) {
    (void)context;
    size_t slot = 0;
    while (slot < SIGNAL_COUNT && g_signals[slot] != sig) slot++;
    if (!g_in_handler) {
        g_in_handler = 1;
        if (g_active) {
            line_buffer what = {.used = 0};
            put_str(&what, "CRASH (signal ");
            put_u64(&what, (uint64_t)sig);
            put_str(&what, ")");
            report_failure("crash", what.text);
            g_status->end_reason = MXF_END_CRASH;
            g_status->signal = (uint64_t)sig;
        } else {
            line_buffer msg = {.used = 0};
            put_str(&msg, "\nmixfuzz: signal ");
            put_u64(&msg, (uint64_t)sig);
            put_str(&msg, " outside a fuzz case\n");
            write_all(g_report_fd, msg.text, msg.used);
            g_status->end_reason = MXF_END_CRASH;
            g_status->signal = (uint64_t)sig;
        }
    }
    // Fall through to what was installed before (Swift's backtracer, or the default action).
    if (slot < SIGNAL_COUNT) sigaction(sig, &g_previous[slot], NULL);
    else signal(sig, SIG_DFL);
    // A fault re-executes the faulting instruction on return; a sent signal must be raised again.
    if (info == NULL || info->si_code <= 0) raise(sig);
}

// MARK: watchdog

static void *watchdog(void *unused) {
    (void)unused;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
    for (;;) {
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&g_lock);
        if (g_active && now_ns() - g_start_ns > g_hang_ns) {
            line_buffer what = {.used = 0};
            put_str(&what, "HANG (case still running after ");
            put_u64(&what, g_hang_ns / 1000000000ull);
            put_str(&what, " s)");
            report_failure("hang", what.text);
            g_status->end_reason = MXF_END_HANG;
            _exit(MXF_EXIT_HANG);
        }
        pthread_mutex_unlock(&g_lock);
    }
    return NULL;
}

// MARK: API

int mxf_guard_install(const char *dir, const char *target, uint64_t seed, double hang_seconds, const char *status_path,
                      int report_fd) {
    g_report_fd = report_fd;
    strncpy(g_dir, dir, sizeof g_dir - 1);
    strncpy(g_target, target, sizeof g_target - 1);
    g_seed = seed;
    if (status_path != NULL) {
        int fd = open(status_path, O_RDWR | O_CLOEXEC);
        if (fd < 0) return -1;
        if (ftruncate(fd, 4096) != 0) {
            close(fd);
            return -1;
        }
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (p == MAP_FAILED) return -1;
        g_status = p;
    }
    memset((void *)g_status, 0, sizeof(mxf_status));
    g_status->magic = MXF_STATUS_MAGIC;

    static char alternate_stack[1 << 16];
    stack_t ss = {.ss_sp = alternate_stack, .ss_size = sizeof alternate_stack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    for (size_t i = 0; i < SIGNAL_COUNT; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal_signal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(g_signals[i], &sa, &g_previous[i]);
    }
    if (hang_seconds > 0) {
        g_hang_ns = (uint64_t)(hang_seconds * 1e9);
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_create(&thread, &attr, watchdog, NULL);
        pthread_attr_destroy(&attr);
    }
    return 0;
}

void mxf_guard_begin(uint64_t case_no, const uint8_t *input, size_t count) {
    pthread_mutex_lock(&g_lock);
    if (count > g_capacity) {
        size_t capacity = count < 4096 ? 4096 : count;
        uint8_t *p = realloc(g_input, capacity);
        if (p != NULL) {
            g_input = p;
            g_capacity = capacity;
        }
    }
    g_count = count <= g_capacity ? count : 0;
    if (g_count > 0) memcpy(g_input, input, g_count);
    g_case = case_no;
    g_start_ns = now_ns();
    g_status->current_case = case_no;
    g_status->active = 1;
    g_active = 1;
    pthread_mutex_unlock(&g_lock);
}

void mxf_guard_end(int outcome, uint64_t start_rss_kb, uint64_t peak_rss_kb) {
    pthread_mutex_lock(&g_lock);
    g_active = 0;
    mxf_status *s = g_status;
    s->last_start_rss_kb = start_rss_kb;
    s->active = 0;
    s->executions += 1;
    if (outcome == MXF_OUTCOME_SUCCESS) s->successes += 1;
    else if (outcome == MXF_OUTCOME_NAMED_ERROR) s->named_errors += 1;
    else s->unnamed_errors += 1;
    if (peak_rss_kb > s->peak_rss_kb) s->peak_rss_kb = peak_rss_kb;
    s->last_case = g_case;
    pthread_mutex_unlock(&g_lock);
}

void mxf_guard_report(const char *kind, const char *what) {
    pthread_mutex_lock(&g_lock);
    report_failure(kind, what);
    pthread_mutex_unlock(&g_lock);
}

void mxf_guard_set_baseline(uint64_t rss_kb) {
    g_status->baseline_rss_kb = rss_kb;
}

void mxf_guard_finish(uint64_t reason) {
    g_status->end_reason = reason;
}

uint64_t mxf_peak_rss_kb(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    return (uint64_t)usage.ru_maxrss;
}

int mxf_reset_peak_rss(void) {
    static int fd = -2;
    if (fd == -2) fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    return write(fd, "5", 1) == 1 ? 0 : -1;
}

int mxf_limit_address_space(uint64_t bytes) {
    struct rlimit limit = {.rlim_cur = bytes, .rlim_max = bytes};
    return setrlimit(RLIMIT_AS, &limit);
}

int mxf_open_descriptors(void) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n - 1;  // the descriptor of the listing itself
}
