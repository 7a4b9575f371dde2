#ifndef MIXSHARDS_CZLIB_SHIM_H
#define MIXSHARDS_CZLIB_SHIM_H
#include <zlib.h>

/* deflateInit/inflateInit are macros; Swift cannot call them directly. */
static inline int mxs_deflateInit2(z_streamp s, int level, int windowBits, int memLevel, int strategy) {
    return deflateInit2(s, level, Z_DEFLATED, windowBits, memLevel, strategy);
}
static inline int mxs_inflateInit2(z_streamp s, int windowBits) {
    return inflateInit2(s, windowBits);
}
#endif
