#ifndef MIXSHARDS_CVIPS_SHIM_H
#define MIXSHARDS_CVIPS_SHIM_H
/* libvips (libvips-dev), imported only by AugmentOps/VipsSampler.swift: the resampling of
   the policy ops' geometry (nearest-neighbour affine maps, bilinear resizes) on images of
   1 or 3 interleaved uchar bands. libvips' operations are C varargs functions, which Swift
   cannot call; these wrappers fix the options each op needs. Every function returns 0 on
   success, -1 with vips' error buffer set. Each call costs about a millisecond of libvips'
   operation set-up whatever the image's size, so callers make one per image, not per band. */
#include <vips/vips.h>

/* Starts libvips once (thread-safe; later calls are no-ops) and turns off its operation
   cache: the cache keys on image objects, and a freed image's address is reused by the
   next, so a cached result could belong to other pixels. Returns 0 on success. */
static inline int mxs_vips_start(void) {
    static int started = 0, result = -1;
    static GMutex lock;
    g_mutex_lock(&lock);
    if (!started) {
        started = 1;
        result = VIPS_INIT("mixshards");
        if (result == 0) {
            vips_cache_set_max(0);
            vips_cache_set_max_mem(0);
            vips_cache_set_max_files(0);
            vips_concurrency_set(1);
        }
    }
    g_mutex_unlock(&lock);
    return result;
}

/* Copies `dst`'s pixels (`bands` interleaved uchar bands, exactly `n` bytes) into `out`,
   computed in the calling thread through a region (vips_image_write_to_memory would start
   a thread pool for every image). */
static inline int mxs_vips_copy_out(VipsImage *dst, unsigned char *out, int bands, size_t n) {
    int w = dst->Xsize, h = dst->Ysize;
    if ((size_t)w * h * bands != n || dst->Bands != bands || dst->BandFmt != VIPS_FORMAT_UCHAR) {
        vips_error("mixshards", "vips made a %dx%d image of %d bands, not %zu bytes", w, h, dst->Bands, n);
        return -1;
    }
    VipsRegion *region = vips_region_new(dst);
    if (!region) return -1;
    VipsRect all = { 0, 0, w, h };
    int r = vips_region_prepare(region, &all);
    if (r == 0) {
        for (int y = 0; y < h; y++) memcpy(out + (size_t)y * w * bands, VIPS_REGION_ADDR(region, 0, y), (size_t)w * bands);
    }
    g_object_unref(region);
    return r;
}

/* Writes the `w` x `h` image `out` (`bands` interleaved uchar bands, same size as `in`),
   where output pixel (X, Y) = in(x, y) with (x, y) the forward map's inverse of (X, Y),
   X = a x + b y + dx, Y = c x + d y + dy, sampled by vips' "nearest" interpolator (the
   input pixel floor(x), floor(y)), black where that lies outside. */
static inline int mxs_vips_affine_nearest(const unsigned char *in, unsigned char *out, int bands, int w, int h,
                                          double a, double b, double c, double d, double dx, double dy) {
    VipsImage *src = vips_image_new_from_memory(in, (size_t)w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
    if (!src) return -1;
    VipsArrayInt *area = vips_array_int_newv(4, 0, 0, w, h);
    VipsImage *dst = NULL;
    int r = vips_affine(src, &dst, a, b, c, d, "odx", dx, "ody", dy, "oarea", area,
                        "interpolate", vips_interpolate_nearest_static(), "extend", VIPS_EXTEND_BLACK, NULL);
    vips_area_unref(VIPS_AREA(area));
    if (r == 0) r = mxs_vips_copy_out(dst, out, bands, (size_t)w * h * bands);
    if (dst) g_object_unref(dst);
    g_object_unref(src);
    return r;
}

/* Enlarges `src` along one axis by s = n / size >= 1 (the other side kept), bilinear as
   Pillow and torch's resize define it: output pixel i samples input position
   (i + 0.5) / s - 0.5 between its two nearest pixels, edges extended; uchar out (rounded). */
static inline int mxs_vips_enlarge(VipsImage *src, VipsImage **dst, int n, int horizontal) {
    int ow = horizontal ? n : src->Xsize, oh = horizontal ? src->Ysize : n;
    double s = horizontal ? (double)n / src->Xsize : (double)n / src->Ysize;
    double a = horizontal ? s : 1, d = horizontal ? 1 : s;
    VipsArrayInt *area = vips_array_int_newv(4, 0, 0, ow, oh);
    int r = vips_affine(src, dst, a, 0, 0, d, "odx", horizontal ? 0.5 * s - 0.5 : 0.0, "ody", horizontal ? 0.0 : 0.5 * s - 0.5,
                        "oarea", area, "interpolate", vips_interpolate_bilinear_static(), "extend", VIPS_EXTEND_COPY, NULL);
    vips_area_unref(VIPS_AREA(area));
    return r;
}

/* An `iw` x `ih` image of `bands` interleaved uchar bands resized to `ow` x `oh`, bilinear,
   the horizontal pass and then the vertical (each rounded to uchar, as torch's uint8 path):
   enlarged sides by mxs_vips_enlarge, shrunk sides by vips' reduce with its linear kernel
   (antialiased), unchanged sides skipped. */
static inline int mxs_vips_resize(const unsigned char *in, unsigned char *out, int bands, int iw, int ih, int ow, int oh) {
    VipsImage *src = vips_image_new_from_memory(in, (size_t)iw * ih * bands, iw, ih, bands, VIPS_FORMAT_UCHAR);
    if (!src) return -1;
    VipsImage *cur = src, *next = NULL;
    g_object_ref(cur);
    int r = 0;
    if (ow != iw) {
        r = ow < iw ? vips_reduceh(cur, &next, (double)iw / ow, "kernel", VIPS_KERNEL_LINEAR, NULL)
                    : mxs_vips_enlarge(cur, &next, ow, 1);
        g_object_unref(cur); cur = next; next = NULL;
    }
    if (r == 0 && oh != ih) {
        r = oh < ih ? vips_reducev(cur, &next, (double)ih / oh, "kernel", VIPS_KERNEL_LINEAR, NULL)
                    : mxs_vips_enlarge(cur, &next, oh, 0);
        g_object_unref(cur); cur = next; next = NULL;
    }
    if (r == 0) r = mxs_vips_copy_out(cur, out, bands, (size_t)ow * oh * bands);
    if (cur) g_object_unref(cur);
    g_object_unref(src);
    return r;
}

/* vips' last error as one line (then cleared), copied into `buffer`. */
static inline void mxs_vips_error(char *buffer, int size) {
    g_strlcpy(buffer, vips_error_buffer(), size);
    vips_error_clear();
    for (char *p = buffer; *p; p++) if (*p == '\n') *p = ' ';
}

static inline const char *mxs_vips_version(void) { return vips_version_string(); }
#endif
