// Internal to CKernels: the code-path levels of mxs_kernels_isa() and the target attributes
// the per-ISA builds of each kernel are compiled with.
#ifndef MIXSHARDS_CKERNELS_ISA_H
#define MIXSHARDS_CKERNELS_ISA_H

#define MXS_ISA_BASELINE 0
#define MXS_ISA_AVX2 2   /* AVX2 and FMA */
#define MXS_ISA_AVX512 3 /* AVX-512 F (and AVX2, FMA) */

#define MXS_AVX2 __attribute__((target("avx2,fma")))
#define MXS_AVX512 __attribute__((target("avx512f,avx2,fma")))

#endif
