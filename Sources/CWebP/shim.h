#ifndef MIXSHARDS_CWEBP_SHIM_H
#define MIXSHARDS_CWEBP_SHIM_H
/* libwebp's decoder (libwebp-dev), imported only by ImageCodecs/WebP.swift. */
#include <webp/decode.h>

/* WebPGetFeatures is a static inline wrapper around a versioned call; name it plainly. */
static inline int mxs_webp_features(const uint8_t *data, size_t size, int *width, int *height,
                                    int *has_alpha, int *has_animation) {
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(data, size, &f) != VP8_STATUS_OK) return 0;
    *width = f.width;
    *height = f.height;
    *has_alpha = f.has_alpha;
    *has_animation = f.has_animation;
    return 1;
}
#endif
