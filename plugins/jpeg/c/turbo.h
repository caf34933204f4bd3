/* The JPEG plugin's encoder through libjpeg(-turbo): the one call the Rust
 * writer makes (src/turbo.rs mirrors these declarations). */
#ifndef IIO_JPEG_TURBO_H
#define IIO_JPEG_TURBO_H

#include <stddef.h>

/* An APPn marker to write after the JFIF/Adobe header; `icc` set means the
 * bytes are an ICC profile, split over APP2 markers as the ICC spec says. */
struct iio_jpeg_turbo_marker {
  const unsigned char *data;
  size_t len;
  int app;
  int icc;
};

/* One image to encode: `height` rows of `width` pixels of `components`
 * bytes (1 gray, 3 RGB, 4 CMYK, not inverted), rows contiguous. */
struct iio_jpeg_turbo_job {
  const unsigned char *pixels;
  unsigned int width;
  unsigned int height;
  int components;
  int quality;
  int progressive;
  int optimize;
  /* The luma component's sampling factors (1 or 2 each; chroma is 1x1):
   * 2x2 is 4:2:0, 2x1 4:2:2, 1x1 4:4:4. Used for RGB input only. */
  int luma_h;
  int luma_v;
  int has_density;
  unsigned int x_density;
  unsigned int y_density;
  const struct iio_jpeg_turbo_marker *markers;
  size_t marker_count;
};

/* Receives `len` encoded bytes; returns 0, or nonzero to stop encoding. */
typedef int (*iio_jpeg_turbo_write)(void *ctx, const unsigned char *data, size_t len);

#define IIO_JPEG_TURBO_OK 0
#define IIO_JPEG_TURBO_FAILED 1
#define IIO_JPEG_TURBO_WRITE_FAILED 2

/* Encodes `job`, sending the file to `write`. Returns IIO_JPEG_TURBO_OK, or
 * an error code with libjpeg's message in `message` (NUL-terminated). */
int iio_jpeg_turbo_encode(const struct iio_jpeg_turbo_job *job, iio_jpeg_turbo_write write, void *ctx,
                          char *message, size_t message_len);

#endif
