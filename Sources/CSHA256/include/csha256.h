#ifndef MIXSHARDS_CSHA256_H
#define MIXSHARDS_CSHA256_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the x86 SHA extensions (and SSSE3/SSE4.1), else 0.
int mxs_sha256_hw_available(void);

/// Runs the SHA-256 compression function over `blocks` 64-byte blocks at `data`,
/// updating `state` (h0..h7). Only call when mxs_sha256_hw_available() is 1.
void mxs_sha256_hw_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);
#endif
