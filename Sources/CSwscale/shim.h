#ifndef MIXSHARDS_CSWSCALE_SHIM_H
#define MIXSHARDS_CSWSCALE_SHIM_H
/* FFmpeg's libswscale (libswscale-dev, with libavutil), imported only by ImageCodecs/Resampler.swift. */
#include <libswscale/swscale.h>
#include <libavutil/log.h>
#include <libavutil/pixfmt.h>
#include <libavutil/avutil.h>

/* Planar 8-bit RGB in G, B, R plane order: scaled plane by plane, no colour conversion. */
static inline int mxs_sws_gbrp(void) { return AV_PIX_FMT_GBRP; }
/* Packed 8-bit RGB (what the decoders write): read straight into planar output, bit for bit as GBRP input. */
static inline int mxs_sws_rgb24(void) { return AV_PIX_FMT_RGB24; }

/* Filters and flags are macros. BITEXACT + ACCURATE_RND: the same bytes on every x86-64 CPU
   (no CPU-specific SIMD rounding), so shards do not depend on the machine that made them. */
static inline int mxs_sws_bilinear(void) { return SWS_BILINEAR; }
static inline int mxs_sws_bicubic(void) { return SWS_BICUBIC; }
static inline int mxs_sws_lanczos(void) { return SWS_LANCZOS; }
static inline int mxs_sws_exact_flags(void) { return SWS_ACCURATE_RND | SWS_BITEXACT | SWS_FULL_CHR_H_INT; }

/* Silence swscale's notes on stderr (e.g. about unaccelerated paths); failures are
   reported by return values, which the caller names. */
static inline void mxs_sws_quiet(void) { av_log_set_level(AV_LOG_ERROR); }
#endif
