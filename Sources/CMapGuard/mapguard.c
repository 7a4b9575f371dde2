// SIGBUS on a truncated file mapping -> one line naming the file, exit 1.
//
// The registry is a fixed array of slots that the signal handler reads without
// locks: a slot is claimed (FREE -> FILLING) with a compare-and-swap, filled, then
// published (READY) with a release store; the handler reads only READY slots with
// acquire loads. Everything the handler calls is async-signal-safe (write, _exit,
// sigaction, raise).
#include "cmapguard.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum { SLOTS = 4096, PATH_BYTES = 240, FREE = 0, FILLING = 1, READY = 2 };

struct slot {
    _Atomic int state;
    uintptr_t start, end;
    char path[PATH_BYTES];
};

static struct slot slots[SLOTS];
static _Atomic int used;
static _Atomic int installed;

static void say(const char *text) {
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t w = write(2, text, n);
        if (w <= 0) return;
        text += w;
        n -= (size_t)w;
    }
}

static void on_sigbus(int sig, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t at = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) != READY) continue;
        if (at >= slots[i].start && at < slots[i].end) {
            say("error: ");
            say(slots[i].path);
            say(": the file shrank while it was being read (did another process truncate or rewrite it?); stopped\n");
            _exit(1);
        }
    }
    // Not ours: die of the signal, as without the handler.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

static void install(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&installed, &expected, 1)) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

int mapguard_register(const void *start, size_t length, const char *path) {
    install();
    for (int i = 0; i < SLOTS; i++) {
        int expected = FREE;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expected, FILLING)) continue;
        slots[i].start = (uintptr_t)start;
        slots[i].end = (uintptr_t)start + length;
        size_t n = strlen(path);
        const char *from = path;
        size_t room = PATH_BYTES - 1;
        if (n > room) {  // keep the end of a long path, which names the file
            memcpy(slots[i].path, "...", 3);
            from = path + n - (room - 3);
            memcpy(slots[i].path + 3, from, room - 3);
            slots[i].path[room] = 0;
        } else {
            memcpy(slots[i].path, path, n + 1);
        }
        atomic_fetch_add(&used, 1);
        atomic_store_explicit(&slots[i].state, READY, memory_order_release);
        return i;
    }
    return -1;
}

void mapguard_unregister(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    atomic_store_explicit(&slots[slot].state, FREE, memory_order_release);
    atomic_fetch_sub(&used, 1);
}

int mapguard_count(void) { return atomic_load(&used); }
