#ifndef MIXSHARDS_CPNG_SHIM_H
#define MIXSHARDS_CPNG_SHIM_H
#include <png.h>

/* PNG_IMAGE_VERSION and friends are macros; expose the ones we need. */
static inline unsigned mxs_png_image_version(void) { return PNG_IMAGE_VERSION; }
static inline unsigned mxs_png_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline unsigned mxs_png_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline int mxs_png_image_failed(png_imagep image) { return PNG_IMAGE_FAILED(*image); }

/* Further format constants (8-bit, interleaved). */
static inline unsigned mxs_png_format_ga(void) { return PNG_FORMAT_GA; }
static inline unsigned mxs_png_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline unsigned mxs_png_format_flag_linear(void) { return PNG_FORMAT_FLAG_LINEAR; }

/* Read flag: 16-bit samples without gamma information are sRGB-encoded, not linear. */
static inline unsigned mxs_png_image_flag_16bit_srgb(void) { return PNG_IMAGE_FLAG_16BIT_sRGB; }

/* Bytes of a buffer holding the whole image in image->format (PNG_IMAGE_SIZE). */
static inline size_t mxs_png_image_size(png_imagep image) { return PNG_IMAGE_SIZE(*image); }

/* An upper bound on the encoded PNG size for image (PNG_IMAGE_PNG_SIZE_MAX). */
static inline size_t mxs_png_image_png_size_max(png_imagep image) { return PNG_IMAGE_PNG_SIZE_MAX(*image); }

/* ---- Decoding through libpng's full API ------------------------------------------------
 * The simplified png_image API composites alpha onto a background and treats 16-bit
 * samples as linear light; mixprep wants what PIL's Image.convert("RGB") gives: palette
 * expanded (tRNS ignored), grey replicated, alpha dropped, 16-bit samples reduced to their
 * high byte, no gamma correction. That needs png_set_* transforms, and libpng reports
 * errors by longjmp, which must never cross Swift frames: these functions catch it here and
 * return a message instead. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t at;
    char message[200];
} mxs_png_source;

static void mxs_png_error(png_structp png, png_const_charp msg) {
    mxs_png_source *src = (mxs_png_source *)png_get_error_ptr(png);
    snprintf(src->message, sizeof src->message, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void mxs_png_warning(png_structp png, png_const_charp msg) {
    (void)png; (void)msg; /* ancillary problems (bad CRC of a text chunk, …) are not failures */
}

static void mxs_png_read(png_structp png, png_bytep out, size_t n) {
    mxs_png_source *src = (mxs_png_source *)png_get_io_ptr(png);
    if (n > src->size - src->at) png_error(png, "the file ends before the image data does (truncated)");
    memcpy(out, src->data + src->at, n);
    src->at += n;
}

/* Decodes `size` bytes of PNG into `out` as 8-bit interleaved RGB. `out_capacity` bounds what
 * may be written: the caller sizes it from the header (mxs_png_header) after checking limits.
 * When the file has an eXIf chunk, up to `exif_capacity` of its bytes are copied to `exif`
 * and `*exif_size` is set (0 otherwise). Returns 1 on success, 0 with `message` filled. */
static int mxs_png_decode_rgb8(const unsigned char *data, size_t size,
                               unsigned char *out, size_t out_capacity,
                               png_uint_32 *width, png_uint_32 *height,
                               unsigned char *exif, size_t exif_capacity, size_t *exif_size,
                               char *message, size_t message_capacity) {
    mxs_png_source src = { data, size, 0, "" };
    png_bytep *volatile rows = NULL;
    volatile int image_done = 0;  /* after the pixels, only the eXIf chunk is sought: errors there are not failures */
    png_infop info = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, mxs_png_error, mxs_png_warning);
    *exif_size = 0;
    if (!png) { snprintf(message, message_capacity, "out of memory"); return 0; }
    info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); snprintf(message, message_capacity, "out of memory"); return 0; }
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        if (image_done) {  /* e.g. a file cut after its image data, without IEND: PIL reads it too */
            png_destroy_read_struct(&png, &info, NULL);
            return 1;
        }
        snprintf(message, message_capacity, "%s", src.message);
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    png_set_read_fn(png, &src, mxs_png_read);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    /* Expanding a palette also turns its tRNS into alpha: strip that too (PIL keeps the colours). */
    if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    /* libpng's default user limits keep w and h ≤ 1,000,000, so the product fits in 64 bits. */
    if (png_get_rowbytes(png, info) != (size_t)w * 3 || (size_t)w * 3 * h > out_capacity) {
        snprintf(src.message, sizeof src.message, "decoded rows are not %lu×%lu RGB within the buffer",
                 (unsigned long)w, (unsigned long)h);
        png_longjmp(png, 1);
    }
    rows = (png_bytep *)malloc(sizeof(png_bytep) * (h ? h : 1));
    if (!rows) { snprintf(src.message, sizeof src.message, "out of memory"); png_longjmp(png, 1); }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = out + (size_t)y * w * 3;
    png_read_image(png, rows);
    *width = w;
    *height = h;
    image_done = 1;
    png_read_end(png, info);  /* an eXIf chunk may follow the image data */
    png_uint_32 n = 0;
    png_bytep e = NULL;
#ifdef PNG_eXIf_SUPPORTED
    if (png_get_eXIf_1(png, info, &n, &e) && e && n <= exif_capacity) {
        memcpy(exif, e, n);
        *exif_size = n;
    }
#endif
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 1;
}
#endif
