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
#endif
