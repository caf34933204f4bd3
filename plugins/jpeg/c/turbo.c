/* JPEG encoding through the system's libjpeg (libjpeg-turbo, with its SIMD
 * colour conversion, DCT and Huffman coding), for the JPEG plugin's writer.
 *
 * One function: the Rust writer checks the image and the options and hands
 * over the pixels, and this file drives libjpeg. The encoded bytes go out
 * through a callback in 64 KiB pieces (no copy of the whole file is held).
 * libjpeg reports fatal errors by calling error_exit, which here jumps back
 * to iio_jpeg_turbo_encode with setjmp/longjmp: the jump never crosses a
 * Rust frame, because the write callback returns before libjpeg raises its
 * error.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "turbo.h"

#define OUT_CHUNK 65536

struct error_mgr {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char *message;
  size_t message_len;
};

struct dest_mgr {
  struct jpeg_destination_mgr pub;
  JOCTET buffer[OUT_CHUNK];
  iio_jpeg_turbo_write write;
  void *ctx;
  int write_failed;
};

static void keep_message(j_common_ptr cinfo) {
  struct error_mgr *err = (struct error_mgr *)cinfo->err;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  if (err->message_len > 0) {
    snprintf(err->message, err->message_len, "%s", text);
  }
}

static void on_error(j_common_ptr cinfo) {
  struct error_mgr *err = (struct error_mgr *)cinfo->err;
  keep_message(cinfo);
  longjmp(err->jump, 1);
}

/* Warnings (libjpeg prints them to stderr by default) are not errors for
 * an encoder that was given valid parameters: they are dropped. */
static void on_message(j_common_ptr cinfo) { (void)cinfo; }

static void dest_init(j_compress_ptr cinfo) {
  struct dest_mgr *dest = (struct dest_mgr *)cinfo->dest;
  dest->pub.next_output_byte = dest->buffer;
  dest->pub.free_in_buffer = OUT_CHUNK;
}

static int dest_send(struct dest_mgr *dest, size_t len) {
  if (len == 0) {
    return 1;
  }
  if (dest->write(dest->ctx, dest->buffer, len) != 0) {
    dest->write_failed = 1;
    return 0;
  }
  return 1;
}

static boolean dest_empty(j_compress_ptr cinfo) {
  struct dest_mgr *dest = (struct dest_mgr *)cinfo->dest;
  if (!dest_send(dest, OUT_CHUNK)) {
    ERREXIT(cinfo, JERR_FILE_WRITE);
  }
  dest->pub.next_output_byte = dest->buffer;
  dest->pub.free_in_buffer = OUT_CHUNK;
  return TRUE;
}

static void dest_term(j_compress_ptr cinfo) {
  struct dest_mgr *dest = (struct dest_mgr *)cinfo->dest;
  if (!dest_send(dest, OUT_CHUNK - dest->pub.free_in_buffer)) {
    ERREXIT(cinfo, JERR_FILE_WRITE);
  }
}

int iio_jpeg_turbo_encode(const struct iio_jpeg_turbo_job *job, iio_jpeg_turbo_write write, void *ctx,
                          char *message, size_t message_len) {
  struct jpeg_compress_struct cinfo;
  struct error_mgr err;
  /* Volatile: they change after setjmp and are read after a longjmp. */
  struct dest_mgr *volatile dest = NULL;
  JSAMPLE *volatile row = NULL;
  int status = IIO_JPEG_TURBO_FAILED;

  if (message_len > 0) {
    message[0] = '\0';
  }
  memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.output_message = on_message;
  err.message = message;
  err.message_len = message_len;
  if (setjmp(err.jump)) {
    if (dest != NULL && dest->write_failed) {
      status = IIO_JPEG_TURBO_WRITE_FAILED;
    }
    jpeg_destroy_compress(&cinfo);
    free(dest);
    free(row);
    return status;
  }
  jpeg_create_compress(&cinfo);

  dest = calloc(1, sizeof *dest);
  if (dest == NULL) {
    snprintf(message, message_len, "no memory for the encoder's output buffer");
    jpeg_destroy_compress(&cinfo);
    return IIO_JPEG_TURBO_FAILED;
  }
  dest->pub.init_destination = dest_init;
  dest->pub.empty_output_buffer = dest_empty;
  dest->pub.term_destination = dest_term;
  dest->write = write;
  dest->ctx = ctx;
  cinfo.dest = &dest->pub;

  cinfo.image_width = job->width;
  cinfo.image_height = job->height;
  cinfo.input_components = job->components;
  switch (job->components) {
  case 1:
    cinfo.in_color_space = JCS_GRAYSCALE;
    break;
  case 3:
    cinfo.in_color_space = JCS_RGB;
    break;
  default:
    cinfo.in_color_space = JCS_CMYK;
    break;
  }
  jpeg_set_defaults(&cinfo);
  /* CMYK is kept as CMYK (libjpeg writes the Adobe marker), every
   * component at full resolution; YCbCr as asked (4:2:0 by default, as
   * Pillow writes it). */
  if (job->components == 4) {
    jpeg_set_colorspace(&cinfo, JCS_CMYK);
  } else if (job->components == 3) {
    cinfo.comp_info[0].h_samp_factor = job->luma_h;
    cinfo.comp_info[0].v_samp_factor = job->luma_v;
  }
  jpeg_set_quality(&cinfo, job->quality, TRUE);
  cinfo.optimize_coding = job->optimize ? TRUE : FALSE;
  if (job->progressive) {
    jpeg_simple_progression(&cinfo);
  }
  if (job->has_density) {
    /* The density lives in the JFIF header, which libjpeg leaves out of
     * CMYK files unless asked (Pillow asks too when given a dpi). */
    cinfo.write_JFIF_header = TRUE;
    cinfo.density_unit = 1; /* dots per inch */
    cinfo.X_density = job->x_density;
    cinfo.Y_density = job->y_density;
  }
  jpeg_start_compress(&cinfo, TRUE);
  for (size_t i = 0; i < job->marker_count; i++) {
    const struct iio_jpeg_turbo_marker *m = &job->markers[i];
    if (m->icc) {
      jpeg_write_icc_profile(&cinfo, m->data, (unsigned int)m->len);
    } else {
      jpeg_write_marker(&cinfo, JPEG_APP0 + m->app, m->data, (unsigned int)m->len);
    }
  }
  size_t stride = (size_t)job->width * (size_t)job->components;
  if (job->components == 4) {
    /* Adobe CMYK files store the inks inverted (as Photoshop and Pillow
     * write them): one row at a time through a scratch row. */
    row = malloc(stride);
    if (row == NULL) {
      snprintf(message, message_len, "no memory for a row of %zu bytes", stride);
      jpeg_destroy_compress(&cinfo);
      free(dest);
      return IIO_JPEG_TURBO_FAILED;
    }
    while (cinfo.next_scanline < cinfo.image_height) {
      const unsigned char *src = job->pixels + (size_t)cinfo.next_scanline * stride;
      for (size_t x = 0; x < stride; x++) {
        row[x] = (JSAMPLE)(255 - src[x]);
      }
      JSAMPROW rows[1] = {row};
      jpeg_write_scanlines(&cinfo, rows, 1);
    }
  } else {
    JSAMPROW rows[64];
    while (cinfo.next_scanline < cinfo.image_height) {
      JDIMENSION n = 0;
      while (n < 64 && cinfo.next_scanline + n < cinfo.image_height) {
        /* libjpeg's API takes non-const rows; it only reads them. */
        rows[n] = (JSAMPROW)(job->pixels + (size_t)(cinfo.next_scanline + n) * stride);
        n++;
      }
      jpeg_write_scanlines(&cinfo, rows, n);
    }
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  free(dest);
  free(row);
  return IIO_JPEG_TURBO_OK;
}
