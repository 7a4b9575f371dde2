// cpuid and xgetbv for Kernels' CPUFeatures; nothing else. Builds on any target:
// off x86 both functions report "nothing".
#include "ccpuid.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

int mxs_cpuid(uint32_t leaf, uint32_t subleaf, mxs_cpuid_regs *out) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d)) {
        out->eax = out->ebx = out->ecx = out->edx = 0;
        return 0;
    }
    out->eax = a; out->ebx = b; out->ecx = c; out->edx = d;
    return 1;
}

uint64_t mxs_xgetbv0(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1)) return 0;  // OSXSAVE: XGETBV may be executed
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#else
int mxs_cpuid(uint32_t leaf, uint32_t subleaf, mxs_cpuid_regs *out) {
    (void)leaf; (void)subleaf;
    out->eax = out->ebx = out->ecx = out->edx = 0;
    return 0;
}
uint64_t mxs_xgetbv0(void) { return 0; }
#endif
