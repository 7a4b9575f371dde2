#ifndef MIXSHARDS_CJPEG_SHIM_H
#define MIXSHARDS_CJPEG_SHIM_H
/* libjpeg-turbo's TurboJPEG API (libturbojpeg0-dev), imported only by ImageCodecs/JPEG.swift. */
#include <stddef.h>
#include <turbojpeg.h>

/* The libjpeg-turbo version the headers name (TurboJPEG 2.x has no run-time version call). */
#if __has_include(<jconfig.h>)
#include <jconfig.h>
#endif
#define MXS_JPEG_STR2(x) #x
#define MXS_JPEG_STR(x) MXS_JPEG_STR2(x)
static inline const char *mxs_jpeg_version(void) {
#ifdef LIBJPEG_TURBO_VERSION
    return MXS_JPEG_STR(LIBJPEG_TURBO_VERSION);
#else
    return "unknown";
#endif
}

/* Flags are macros: the accurate IDCT (also TurboJPEG's decompression default, stated so it
   cannot change under us) and a bound on progressive scans (a crafted progressive JPEG can
   otherwise take minutes). */
static inline int mxs_jpeg_decode_flags(void) { return TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS; }
#endif
