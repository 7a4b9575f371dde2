#ifndef MIXSHARDS_CCPUID_H
#define MIXSHARDS_CCPUID_H
#include <stdint.h>

/// The four registers `cpuid` returns for one leaf.
typedef struct { uint32_t eax, ebx, ecx, edx; } mxs_cpuid_regs;

/// Runs `cpuid` for `leaf`/`subleaf`. Returns 0 (and zeroes `out`) where the leaf is
/// above the CPU's maximum or the machine is not x86.
int mxs_cpuid(uint32_t leaf, uint32_t subleaf, mxs_cpuid_regs *out);

/// XCR0 (the register states the OS saves, so may be used): 0 where XGETBV is not
/// available (OSXSAVE clear) or the machine is not x86.
uint64_t mxs_xgetbv0(void);

#endif
