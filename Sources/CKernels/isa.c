// Which code path the C kernels take: read once from the CPU, or forced (tests).
#include "ckernels.h"
#include "isa.h"

static int detected_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return MXS_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return MXS_ISA_AVX2;
#endif
    return MXS_ISA_BASELINE;
}

static int current_isa = -1;

int mxs_kernels_isa(void) {
    int isa = __atomic_load_n(&current_isa, __ATOMIC_RELAXED);
    if (isa < 0) {
        isa = detected_isa();
        __atomic_store_n(&current_isa, isa, __ATOMIC_RELAXED);
    }
    return isa;
}

int mxs_kernels_detected_isa(void) { return detected_isa(); }

int mxs_kernels_force_isa(int isa) {
    const int best = detected_isa();
    if (isa < 0 || isa > best) isa = best;
    if (isa == 1) isa = MXS_ISA_BASELINE;
    __atomic_store_n(&current_isa, isa, __ATOMIC_RELAXED);
    return isa;
}
