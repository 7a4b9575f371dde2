#ifndef CMAPGUARD_H
#define CMAPGUARD_H

#include <stddef.h>

/// Turns SIGBUS on a registered read-only file mapping into one line on stderr,
/// "error: PATH: ...", and exit status 1. A mapped file that another process
/// truncates makes every access beyond its new end a SIGBUS; without this the
/// process dies with no word of which file. Installed on the first registration.
///
/// Returns a slot for `mapguard_unregister`, or -1 when every slot is taken (the
/// mapping then works unguarded). `path` is copied (its last bytes when long).
int mapguard_register(const void *start, size_t length, const char *path);

/// Forgets a mapping before it is unmapped.
void mapguard_unregister(int slot);

/// How many slots are in use (for tests).
int mapguard_count(void);

#endif
