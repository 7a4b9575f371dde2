#ifndef MIXSHARDS_CVIPS_SHIM_H
#define MIXSHARDS_CVIPS_SHIM_H
/* libvips (libvips-dev), imported only by AugmentOps/VipsSampler.swift: the resampling of
   the policy ops' geometry (nearest-neighbour affine maps, bilinear resizes). libvips'
   operations are C varargs functions, which Swift cannot call; these wrappers fix the
   options each op needs. Every function returns 0 on success, -1 with vips' error buffer set. */
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

/* Copies `dst`'s pixels (exactly `n` bytes) into `out`. */
static inline int mxs_vips_copy_out(VipsImage *dst, unsigned char *out, size_t n) {
    size_t size = 0;
    void *bytes = vips_image_write_to_memory(dst, &size);
    if (!bytes) return -1;
    int r = 0;
    if (size != n) { vips_error("mixshards", "vips wrote %zu bytes, not %zu", size, n); r = -1; }
    else memcpy(out, bytes, n);
    g_free(bytes);
    return r;
}

/* Writes the `w` × `h` one-band uchar image `out` (same size as `in`), where output pixel
   (X, Y) = in(x, y) with (x, y) the forward map's inverse of (X, Y),
   X = a x + b y + dx, Y = c x + d y + dy, sampled by vips' "nearest" interpolator (the
   input pixel floor(x), floor(y)), black where that lies outside. */
static inline int mxs_vips_affine_nearest(const unsigned char *in, unsigned char *out, int w, int h,
                                          double a, double b, double c, double d, double dx, double dy) {
    VipsImage *src = vips_image_new_from_memory(in, (size_t)w * h, w, h, 1, VIPS_FORMAT_UCHAR);
    if (!src) return -1;
    VipsInterpolate *nearest = vips_interpolate_nearest_static();
    VipsArrayInt *area = vips_array_int_newv(4, 0, 0, w, h);
    VipsImage *dst = NULL;
    int r = vips_affine(src, &dst, a, b, c, d, "odx", dx, "ody", dy, "oarea", area,
                        "interpolate", nearest, "extend", VIPS_EXTEND_BLACK, NULL);
    vips_area_unref(VIPS_AREA(area));
    if (r == 0) r = mxs_vips_copy_out(dst, out, (size_t)w * h);
    if (dst) g_object_unref(dst);
    g_object_unref(src);
    return r;
}

/* One axis (horizontal when `horizontal`, else vertical) of an `iw` × `ih` one-band uchar
   image resized to `n` pixels along it, bilinear as Pillow and torch's antialiased resize
   define it: upscaling samples at input position (i + 0.5)·in/n − 0.5 between the two
   nearest pixels, edges extended; shrinking uses vips' reduce with its linear kernel. */
static inline int mxs_vips_resize_axis(const unsigned char *in, unsigned char *out, int iw, int ih, int n, int horizontal) {
    VipsImage *src = vips_image_new_from_memory(in, (size_t)iw * ih, iw, ih, 1, VIPS_FORMAT_UCHAR);
    if (!src) return -1;
    int ow = horizontal ? n : iw, oh = horizontal ? ih : n;
    int size = horizontal ? iw : ih;
    VipsImage *dst = NULL;
    int r;
    if (n > size) {
        double s = (double)n / size;
        VipsInterpolate *bilinear = vips_interpolate_bilinear_static();
        VipsArrayInt *area = vips_array_int_newv(4, 0, 0, ow, oh);
        if (horizontal)
            r = vips_affine(src, &dst, s, 0, 0, 1, "odx", 0.5 * s - 0.5, "oarea", area,
                            "interpolate", bilinear, "extend", VIPS_EXTEND_COPY, NULL);
        else
            r = vips_affine(src, &dst, 1, 0, 0, s, "ody", 0.5 * s - 0.5, "oarea", area,
                            "interpolate", bilinear, "extend", VIPS_EXTEND_COPY, NULL);
        vips_area_unref(VIPS_AREA(area));
    } else {
        double shrink = (double)size / n;
        if (horizontal) r = vips_reduceh(src, &dst, shrink, "kernel", VIPS_KERNEL_LINEAR, NULL);
        else r = vips_reducev(src, &dst, shrink, "kernel", VIPS_KERNEL_LINEAR, NULL);
    }
    if (r == 0 && (dst->Xsize != ow || dst->Ysize != oh)) {
        vips_error("mixshards", "resize gave %dx%d, not %dx%d", dst->Xsize, dst->Ysize, ow, oh);
        r = -1;
    }
    if (r == 0) r = mxs_vips_copy_out(dst, out, (size_t)ow * oh);
    if (dst) g_object_unref(dst);
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
