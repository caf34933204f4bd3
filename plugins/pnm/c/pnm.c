/*
 * The PNM format plugin for imageio-rs, in C, against the public header only.
 *
 * Reads PBM (P1, P4), PGM (P2, P5), PPM (P3, P6) and PAM (P7) with maxval up
 * to 65535; writes all of them. Arrays:
 *   PBM, PAM BLACKANDWHITE       -> bool (H, W), true = white
 *   PGM, PAM depth 1             -> uint8 (H, W), or uint16 when maxval > 255
 *   PPM, PAM depth 3             -> (H, W, 3)
 *   PAM depth 2 or 4             -> (H, W, 2) / (H, W, 4)
 * Sample values are returned as stored (not scaled); `maxval` is in the metadata.
 *
 * This file defines the table accessor iio_pnm_plugin(); entry.c exports it as
 * iio_plugin_entry_v1 when building the shared library.
 */
#include "imageio_plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PNM_BUF 65536

/* ---------------------------------------------------------------- errors */

static iio_status fail(iio_error *err, iio_status code, const char *fmt, ...) {
  if (err != NULL) {
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, IIO_ERROR_MESSAGE_LEN, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ---------------------------------------------------------------- input */

typedef struct pnm_in {
  const iio_stream *stream;
  uint8_t buf[PNM_BUF];
  size_t pos, len;
  int eof;     /* the stream reported end of data */
  int failed;  /* the stream reported an error */
  uint64_t consumed; /* bytes handed out since the last reset */
} pnm_in;

static void in_reset(pnm_in *in) {
  in->pos = in->len = 0;
  in->eof = in->failed = 0;
  in->consumed = 0;
}

static int in_fill(pnm_in *in) {
  size_t got = 0;
  if (in->eof || in->failed) return 0;
  if (in->stream->read(in->stream->ctx, in->buf, sizeof in->buf, &got) != IIO_OK) {
    in->failed = 1;
    return 0;
  }
  if (got == 0 || got > sizeof in->buf) {
    in->eof = 1;
    return 0;
  }
  in->pos = 0;
  in->len = got;
  return 1;
}

/* The next byte, or -1 at the end of data or on a stream error. */
static int in_getc(pnm_in *in) {
  if (in->pos == in->len && !in_fill(in)) return -1;
  in->consumed++;
  return in->buf[in->pos++];
}

/* Reads exactly n bytes; returns 0 when the data ends first. Large reads
 * go from the stream straight into dst, without the bounce buffer. */
static int in_read(pnm_in *in, uint8_t *dst, size_t n) {
  while (n > 0) {
    size_t take;
    if (in->pos == in->len && n >= sizeof in->buf) {
      size_t got = 0;
      if (in->eof || in->failed) return 0;
      if (in->stream->read(in->stream->ctx, dst, n, &got) != IIO_OK) {
        in->failed = 1;
        return 0;
      }
      if (got == 0 || got > n) {
        in->eof = 1;
        return 0;
      }
      in->consumed += got;
      dst += got;
      n -= got;
      continue;
    }
    if (in->pos == in->len && !in_fill(in)) return 0;
    take = in->len - in->pos;
    if (take > n) take = n;
    memcpy(dst, in->buf + in->pos, take);
    in->pos += take;
    in->consumed += take;
    dst += take;
    n -= take;
  }
  return 1;
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Skips white space and '#' comments; returns the first other byte (or -1). */
static int skip_space(pnm_in *in) {
  int c = in_getc(in);
  for (;;) {
    if (c == '#') {
      while (c != -1 && c != '\n' && c != '\r') c = in_getc(in);
    } else if (is_space(c)) {
      c = in_getc(in);
    } else {
      return c;
    }
  }
}

/* Reads an unsigned decimal number (<= limit); *after gets the byte after it. */
static iio_status read_uint(pnm_in *in, uint64_t limit, uint64_t *out, int *after, const char *what,
                            iio_error *err) {
  int c = skip_space(in);
  uint64_t v = 0;
  if (c < '0' || c > '9') {
    if (in->failed) return fail(err, IIO_ERR_IO, "reading the %s failed (stream error)", what);
    return fail(err, IIO_ERR_CORRUPT, c == -1 ? "the file ends before the %s" : "expected a number for the %s", what);
  }
  while (c >= '0' && c <= '9') {
    v = v * 10 + (uint64_t)(c - '0');
    if (v > limit) return fail(err, IIO_ERR_CORRUPT, "the %s is too large (over %llu)", what, (unsigned long long)limit);
    c = in_getc(in);
  }
  *out = v;
  if (after != NULL) *after = c;
  return IIO_OK;
}

/* ---------------------------------------------------------------- header */

typedef struct pnm_header {
  int kind;          /* 1..7 for P1..P7 */
  uint64_t width, height, depth, maxval;
  char tupltype[64];
  int is_bool;       /* PBM, or PAM BLACKANDWHITE */
} pnm_header;

#define MAX_DIM 0x7fffffffull

static iio_status read_pam_header(pnm_in *in, pnm_header *h, iio_error *err) {
  char line[256];
  int have_w = 0, have_h = 0, have_d = 0, have_m = 0;
  h->tupltype[0] = 0;
  for (;;) {
    size_t n = 0;
    int c = in_getc(in);
    while (c != -1 && c != '\n') {
      if (n + 1 < sizeof line) line[n++] = (char)c;
      c = in_getc(in);
    }
    line[n] = 0;
    if (c == -1) return fail(err, in->failed ? IIO_ERR_IO : IIO_ERR_CORRUPT, "the PAM header has no ENDHDR");
    if (n == 0 || line[0] == '#') continue;
    if (strncmp(line, "ENDHDR", 6) == 0) break;
    {
      char key[16];
      unsigned long long v = 0;
      char *p = line;
      size_t k = 0;
      while (*p == ' ' || *p == '\t') p++;
      while (*p && *p != ' ' && *p != '\t' && k + 1 < sizeof key) key[k++] = *p++;
      key[k] = 0;
      while (*p == ' ' || *p == '\t') p++;
      if (strcmp(key, "TUPLTYPE") == 0) {
        size_t len = strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\r')) p[--len] = 0;
        if (len >= sizeof h->tupltype) len = sizeof h->tupltype - 1;
        memcpy(h->tupltype, p, len);
        h->tupltype[len] = 0;
        continue;
      }
      if (*p < '0' || *p > '9') return fail(err, IIO_ERR_CORRUPT, "bad PAM header line '%.40s'", line);
      while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long long)(*p++ - '0');
        if (v > MAX_DIM) return fail(err, IIO_ERR_CORRUPT, "PAM header value too large in '%.40s'", line);
      }
      if (strcmp(key, "WIDTH") == 0) { h->width = v; have_w = 1; }
      else if (strcmp(key, "HEIGHT") == 0) { h->height = v; have_h = 1; }
      else if (strcmp(key, "DEPTH") == 0) { h->depth = v; have_d = 1; }
      else if (strcmp(key, "MAXVAL") == 0) { h->maxval = v; have_m = 1; }
      else return fail(err, IIO_ERR_CORRUPT, "unknown PAM header key '%.20s'", key);
    }
  }
  if (!have_w || !have_h || !have_d || !have_m)
    return fail(err, IIO_ERR_CORRUPT, "the PAM header lacks WIDTH, HEIGHT, DEPTH or MAXVAL");
  if (h->depth < 1 || h->depth > 4)
    return fail(err, IIO_ERR_UNSUPPORTED, "PAM depth %llu is not supported (1 to 4)", (unsigned long long)h->depth);
  h->is_bool = strcmp(h->tupltype, "BLACKANDWHITE") == 0 && h->maxval == 1 && h->depth == 1;
  return IIO_OK;
}

static iio_status read_header(pnm_in *in, pnm_header *h, iio_error *err) {
  int c0 = in_getc(in), c1 = in_getc(in), after = 0;
  iio_status st;
  memset(h, 0, sizeof *h);
  if (c0 != 'P' || c1 < '1' || c1 > '7') {
    if (in->failed) return fail(err, IIO_ERR_IO, "reading the header failed (stream error)");
    return fail(err, IIO_ERR_CORRUPT, "not a PNM file (no P1..P7 magic number)");
  }
  h->kind = c1 - '0';
  if (h->kind == 7) {
    if (in_getc(in) != '\n') return fail(err, IIO_ERR_CORRUPT, "bad PAM magic line");
    st = read_pam_header(in, h, err);
    if (st != IIO_OK) return st;
  } else {
    int has_maxval = h->kind != 1 && h->kind != 4;
    if ((st = read_uint(in, MAX_DIM, &h->width, &after, "width", err)) != IIO_OK) return st;
    if ((st = read_uint(in, MAX_DIM, &h->height, &after, "height", err)) != IIO_OK) return st;
    if (has_maxval) {
      if ((st = read_uint(in, 65535, &h->maxval, &after, "maxval", err)) != IIO_OK) return st;
    } else {
      h->maxval = 1;
    }
    /* one white-space byte separates the header from a binary raster */
    if (h->kind >= 4 && !is_space(after)) return fail(err, IIO_ERR_CORRUPT, "no white space after the header");
    h->depth = (h->kind == 3 || h->kind == 6) ? 3 : 1;
    h->is_bool = !has_maxval;
  }
  if (h->width == 0 || h->height == 0) return fail(err, IIO_ERR_CORRUPT, "the image has no pixels (width or height 0)");
  if (h->maxval == 0 || h->maxval > 65535)
    return fail(err, IIO_ERR_CORRUPT, "maxval %llu is out of range (1 to 65535)", (unsigned long long)h->maxval);
  return IIO_OK;
}

/* ---------------------------------------------------------------- output */

typedef struct pnm_out {
  const iio_stream *stream;
  uint8_t buf[PNM_BUF];
  size_t len;
  int failed;
} pnm_out;

static int out_flush(pnm_out *o) {
  size_t done = 0;
  while (done < o->len && !o->failed) {
    size_t n = 0;
    if (o->stream->write(o->stream->ctx, o->buf + done, o->len - done, &n) != IIO_OK || n == 0) o->failed = 1;
    done += n;
  }
  o->len = 0;
  return !o->failed;
}

static void out_bytes(pnm_out *o, const void *data, size_t n) {
  const uint8_t *p = (const uint8_t *)data;
  while (n > 0 && !o->failed) {
    size_t take = sizeof o->buf - o->len;
    if (take > n) take = n;
    memcpy(o->buf + o->len, p, take);
    o->len += take;
    p += take;
    n -= take;
    if (o->len == sizeof o->buf) out_flush(o);
  }
}

static void out_str(pnm_out *o, const char *s) { out_bytes(o, s, strlen(s)); }

/* ---------------------------------------------------------------- instance */

typedef struct pnm_instance {
  char io_mode;
  const iio_stream *stream;
  /* reading */
  pnm_header header;
  uint64_t raster_start; /* stream position of the raster, when seekable */
  int raster_consumed;   /* the raster was read from a stream that cannot seek */
  pnm_in in;
  /* writing */
  int ascii;
  int pam;     /* the extension asks for PAM */
  int written;
  pnm_out out;
} pnm_instance;

static const char *kind_name(int kind) {
  static const char *names[] = {"", "P1", "P2", "P3", "P4", "P5", "P6", "P7"};
  return (kind >= 1 && kind <= 7) ? names[kind] : "";
}

static int ext_is(const iio_request *req, const char *ext) {
  size_t n = strlen(ext);
  return req->extension.len == n && memcmp(req->extension.ptr, ext, n) == 0;
}

static int32_t pnm_can_read(const iio_request *req) {
  const uint8_t *b = req->first_bytes;
  if (req->image_mode != 'i' && req->image_mode != '?') return 0;
  if (req->first_bytes_len >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && is_space(b[2])) return 90;
  return 0;
}

static int32_t pnm_can_write(const iio_request *req) {
  if (req->image_mode != 'i' && req->image_mode != '?') return 0;
  if (ext_is(req, ".pbm") || ext_is(req, ".pgm") || ext_is(req, ".ppm") || ext_is(req, ".pnm") || ext_is(req, ".pam"))
    return 100;
  return 0;
}

static iio_status pnm_open(const iio_request *req, iio_instance **out, iio_error *err) {
  pnm_instance *inst;
  size_t i;
  iio_status st;
  if (req == NULL || out == NULL || req->stream == NULL) return fail(err, IIO_ERR_INTERNAL, "open: NULL argument");
  inst = (pnm_instance *)calloc(1, sizeof *inst);
  if (inst == NULL) return fail(err, IIO_ERR_NO_MEMORY, "out of memory");
  inst->io_mode = req->io_mode;
  inst->stream = req->stream;
  for (i = 0; i < req->options_len; i++) {
    const iio_kv *kv = &req->options[i];
    if (kv->key.len == 5 && memcmp(kv->key.ptr, "ascii", 5) == 0 && req->io_mode == 'w' &&
        (kv->value.kind == IIO_VALUE_BOOL || kv->value.kind == IIO_VALUE_INT)) {
      inst->ascii = kv->value.i != 0;
    } else {
      free(inst);
      return fail(err, IIO_ERR_INVALID_ARGUMENT, "unknown option \"%.*s\" for format PNM (known options: %s)",
                  (int)(kv->key.len > 64 ? 64 : kv->key.len), kv->key.ptr,
                  req->io_mode == 'w' ? "ascii (a boolean)" : "none");
    }
  }
  if (req->io_mode == 'r') {
    uint64_t pos = 0;
    if (inst->stream->read == NULL) {
      free(inst);
      return fail(err, IIO_ERR_INTERNAL, "the stream is not readable");
    }
    if (inst->stream->seek != NULL && inst->stream->seek(inst->stream->ctx, 0, IIO_SEEK_CUR, &pos) != IIO_OK) pos = 0;
    inst->in.stream = inst->stream;
    in_reset(&inst->in);
    st = read_header(&inst->in, &inst->header, err);
    if (st != IIO_OK) {
      free(inst);
      return st;
    }
    inst->raster_start = pos + inst->in.consumed;
  } else if (req->io_mode == 'w') {
    if (inst->stream->write == NULL) {
      free(inst);
      return fail(err, IIO_ERR_INTERNAL, "the stream is not writable");
    }
    inst->out.stream = inst->stream;
    inst->pam = ext_is(req, ".pam");
  } else {
    free(inst);
    return fail(err, IIO_ERR_INVALID_ARGUMENT, "unknown io mode");
  }
  *out = (iio_instance *)inst;
  return IIO_OK;
}

static iio_status pnm_close(iio_instance *handle, iio_error *err) {
  pnm_instance *inst = (pnm_instance *)handle;
  iio_status st = IIO_OK;
  if (inst == NULL) return IIO_OK;
  if (inst->io_mode == 'w' && inst->written && !out_flush(&inst->out))
    st = fail(err, IIO_ERR_IO, "writing the PNM file failed");
  free(inst);
  return st;
}

static iio_status pnm_get_length(iio_instance *handle, uint64_t *out, iio_error *err) {
  (void)handle;
  (void)err;
  *out = 1;
  return IIO_OK;
}

static iio_status put_meta(const iio_image_sink *sink, const pnm_header *h) {
  iio_value v;
  iio_status st;
  static const char format_key[] = "format", maxval_key[] = "maxval", tupl_key[] = "tupltype";
  iio_str key;
  const char *name = kind_name(h->kind);
  memset(&v, 0, sizeof v);
  v.kind = IIO_VALUE_STR;
  v.ptr = name;
  v.len = strlen(name);
  key.ptr = format_key;
  key.len = sizeof format_key - 1;
  if ((st = sink->set_meta(sink->ctx, key, &v)) != IIO_OK && st != IIO_ERR_UNSUPPORTED) return st;
  memset(&v, 0, sizeof v);
  v.kind = IIO_VALUE_INT;
  v.i = (int64_t)h->maxval;
  key.ptr = maxval_key;
  key.len = sizeof maxval_key - 1;
  if ((st = sink->set_meta(sink->ctx, key, &v)) != IIO_OK && st != IIO_ERR_UNSUPPORTED) return st;
  if (h->kind == 7 && h->tupltype[0]) {
    memset(&v, 0, sizeof v);
    v.kind = IIO_VALUE_STR;
    v.ptr = h->tupltype;
    v.len = strlen(h->tupltype);
    key.ptr = tupl_key;
    key.len = sizeof tupl_key - 1;
    if ((st = sink->set_meta(sink->ctx, key, &v)) != IIO_OK && st != IIO_ERR_UNSUPPORTED) return st;
  }
  return IIO_OK;
}

static iio_status pnm_get_meta_data(iio_instance *handle, uint64_t index, const iio_image_sink *sink, iio_error *err) {
  pnm_instance *inst = (pnm_instance *)handle;
  if (index != 0 && index != IIO_INDEX_GLOBAL)
    return fail(err, IIO_ERR_INDEX_OUT_OF_RANGE, "image index %llu is out of range (the file has 1 image)",
                (unsigned long long)index);
  if (put_meta(sink, &inst->header) != IIO_OK) return fail(err, IIO_ERR_INTERNAL, "the host refused metadata");
  return IIO_OK;
}

static iio_status truncated(pnm_in *in, iio_error *err) {
  if (in->failed) return fail(err, IIO_ERR_IO, "reading the pixel data failed (stream error)");
  return fail(err, IIO_ERR_CORRUPT, "the file is truncated (the pixel data ends early)");
}

static iio_status pnm_get_data(iio_instance *handle, uint64_t index, const iio_image_sink *sink, iio_error *err) {
  pnm_instance *inst = (pnm_instance *)handle;
  const pnm_header *h = &inst->header;
  pnm_in *in = &inst->in;
  uint64_t shape[3];
  uint32_t ndim = h->depth == 1 ? 2 : 3;
  uint64_t count = h->width * h->height * h->depth, i;
  int wide = h->maxval > 255;
  void *data;
  if (index != 0)
    return fail(err, IIO_ERR_INDEX_OUT_OF_RANGE, "image index %llu is out of range (the file has 1 image)",
                (unsigned long long)index);
  if (inst->stream->seek != NULL) {
    uint64_t pos = 0;
    if (inst->stream->seek(inst->stream->ctx, (int64_t)inst->raster_start, IIO_SEEK_SET, &pos) != IIO_OK)
      return fail(err, IIO_ERR_IO, "seeking to the pixel data failed");
    in_reset(in);
  } else if (inst->raster_consumed) {
    return fail(err, IIO_ERR_UNSUPPORTED, "the stream cannot seek, so the image can be read only once");
  }
  inst->raster_consumed = 1;
  shape[0] = h->height;
  shape[1] = h->width;
  shape[2] = h->depth;
  data = sink->alloc(sink->ctx, h->is_bool ? IIO_DTYPE_BOOL : (wide ? IIO_DTYPE_U16 : IIO_DTYPE_U8), ndim, shape);
  if (data == NULL)
    return fail(err, IIO_ERR_NO_MEMORY, "the host refused to allocate %llu x %llu x %llu samples",
                (unsigned long long)h->height, (unsigned long long)h->width, (unsigned long long)h->depth);

  if (h->kind == 4) { /* packed bits, rows padded to a byte, 1 = black */
    uint8_t *px = (uint8_t *)data;
    uint64_t row_bytes = (h->width + 7) / 8, y, x;
    uint8_t *row = (uint8_t *)malloc((size_t)row_bytes);
    if (row == NULL) return fail(err, IIO_ERR_NO_MEMORY, "out of memory");
    for (y = 0; y < h->height; y++) {
      if (!in_read(in, row, (size_t)row_bytes)) {
        free(row);
        return truncated(in, err);
      }
      for (x = 0; x < h->width; x++) px[y * h->width + x] = (uint8_t)!((row[x / 8] >> (7 - x % 8)) & 1);
    }
    free(row);
  } else if (h->kind <= 3) { /* plain (ASCII) formats */
    for (i = 0; i < count; i++) {
      uint64_t v = 0;
      iio_status st;
      if (h->kind == 1) { /* digits may touch each other */
        int c = skip_space(in);
        if (c != '0' && c != '1') return c == -1 ? truncated(in, err) : fail(err, IIO_ERR_CORRUPT, "bad PBM digit");
        ((uint8_t *)data)[i] = (uint8_t)(c == '0'); /* 1 = black */
        continue;
      }
      st = read_uint(in, h->maxval, &v, NULL, "sample", err);
      if (st != IIO_OK) return st;
      if (wide) ((uint16_t *)data)[i] = (uint16_t)v;
      else ((uint8_t *)data)[i] = (uint8_t)v;
    }
  } else { /* binary samples: one byte, or two big-endian bytes */
    if (!wide) {
      if (!in_read(in, (uint8_t *)data, (size_t)count)) return truncated(in, err);
      if (h->is_bool) {
        for (i = 0; i < count; i++) ((uint8_t *)data)[i] = ((uint8_t *)data)[i] != 0;
      }
    } else {
      uint16_t *px = (uint16_t *)data;
      uint8_t *bytes = (uint8_t *)data;
      if (!in_read(in, bytes, (size_t)(count * 2))) return truncated(in, err);
      for (i = 0; i < count; i++) px[i] = (uint16_t)((bytes[2 * i] << 8) | bytes[2 * i + 1]);
    }
    /* No sample can be over a maxval of 255 (bytes) or 65535 (words). */
    for (i = 0; i < count && !h->is_bool && h->maxval != (wide ? 65535u : 255u); i++) {
      uint64_t v = wide ? ((uint16_t *)data)[i] : ((uint8_t *)data)[i];
      if (v > h->maxval)
        return fail(err, IIO_ERR_CORRUPT, "sample %llu is over maxval %llu", (unsigned long long)v,
                    (unsigned long long)h->maxval);
    }
  }
  if (put_meta(sink, h) != IIO_OK) return fail(err, IIO_ERR_INTERNAL, "the host refused metadata");
  return IIO_OK;
}

static iio_status pnm_append_data(iio_instance *handle, const iio_array_view *im, const iio_kv *meta, size_t meta_len,
                                  iio_error *err) {
  pnm_instance *inst = (pnm_instance *)handle;
  pnm_out *o = &inst->out;
  uint64_t h, w, d, count, i;
  int wide, is_bool, kind;
  char head[160];
  (void)meta;
  (void)meta_len;
  if (inst->written) return fail(err, IIO_ERR_UNSUPPORTED, "a PNM file holds one image; this one already has it");
  if (im->ndim == 2) {
    d = 1;
  } else if (im->ndim == 3 && im->shape[2] >= 1 && im->shape[2] <= 4) {
    d = im->shape[2];
  } else {
    return fail(err, IIO_ERR_INVALID_ARGUMENT, "PNM needs shape (H, W) or (H, W, 1..4), not a %u-D array",
                (unsigned)im->ndim);
  }
  h = im->shape[0];
  w = im->shape[1];
  if (h == 0 || w == 0) return fail(err, IIO_ERR_INVALID_ARGUMENT, "PNM cannot store an empty image");
  is_bool = im->dtype == IIO_DTYPE_BOOL;
  wide = im->dtype == IIO_DTYPE_U16;
  if (!is_bool && !wide && im->dtype != IIO_DTYPE_U8)
    return fail(err, IIO_ERR_UNSUPPORTED, "PNM stores uint8, uint16 or bool images (dtype code %u given)",
                (unsigned)im->dtype);
  if (is_bool && d != 1) return fail(err, IIO_ERR_UNSUPPORTED, "a boolean PNM image has one channel");
  if (inst->pam || d == 2 || d == 4) {
    static const char *tuples[] = {"", "GRAYSCALE", "GRAYSCALE_ALPHA", "RGB", "RGB_ALPHA"};
    if (inst->ascii) return fail(err, IIO_ERR_UNSUPPORTED, "PAM has no ASCII variant (option ascii)");
    kind = 7;
    snprintf(head, sizeof head, "P7\nWIDTH %llu\nHEIGHT %llu\nDEPTH %llu\nMAXVAL %u\nTUPLTYPE %s\nENDHDR\n",
             (unsigned long long)w, (unsigned long long)h, (unsigned long long)d,
             is_bool ? 1u : (wide ? 65535u : 255u), is_bool ? "BLACKANDWHITE" : tuples[d]);
  } else if (is_bool) {
    kind = inst->ascii ? 1 : 4;
    snprintf(head, sizeof head, "P%d\n%llu %llu\n", kind, (unsigned long long)w, (unsigned long long)h);
  } else {
    kind = d == 3 ? (inst->ascii ? 3 : 6) : (inst->ascii ? 2 : 5);
    snprintf(head, sizeof head, "P%d\n%llu %llu\n%u\n", kind, (unsigned long long)w, (unsigned long long)h,
             wide ? 65535u : 255u);
  }
  out_str(o, head);
  count = h * w * d;
  if (kind == 4) {
    const uint8_t *px = (const uint8_t *)im->data;
    uint64_t y, x;
    for (y = 0; y < h; y++) {
      uint8_t byte = 0;
      for (x = 0; x < w; x++) {
        if (!px[y * w + x]) byte |= (uint8_t)(0x80 >> (x % 8)); /* false (black) = 1 */
        if (x % 8 == 7 || x == w - 1) {
          out_bytes(o, &byte, 1);
          byte = 0;
        }
      }
    }
  } else if (kind <= 3) {
    uint64_t per_line = 0;
    for (i = 0; i < count; i++) {
      char num[16];
      unsigned v;
      if (kind == 1) v = ((const uint8_t *)im->data)[i] ? 0u : 1u;
      else v = wide ? ((const uint16_t *)im->data)[i] : ((const uint8_t *)im->data)[i];
      snprintf(num, sizeof num, "%u%s", v, (++per_line % 16 == 0 || i + 1 == count) ? "\n" : " ");
      out_str(o, num);
    }
  } else if (wide) {
    const uint16_t *px = (const uint16_t *)im->data;
    for (i = 0; i < count; i++) {
      uint8_t be[2];
      be[0] = (uint8_t)(px[i] >> 8);
      be[1] = (uint8_t)(px[i] & 0xff);
      out_bytes(o, be, 2);
    }
  } else if (is_bool) {
    const uint8_t *px = (const uint8_t *)im->data;
    for (i = 0; i < count; i++) {
      uint8_t v = px[i] != 0;
      out_bytes(o, &v, 1);
    }
  } else {
    out_bytes(o, im->data, (size_t)count);
  }
  if (!out_flush(o)) return fail(err, IIO_ERR_IO, "writing the PNM file failed");
  inst->written = 1;
  return IIO_OK;
}

static iio_status pnm_set_meta_data(iio_instance *handle, const iio_kv *meta, size_t meta_len, iio_error *err) {
  (void)handle;
  (void)meta;
  (void)meta_len;
  (void)err;
  return IIO_OK;
}

#if IIO_ABI_VERSION_MINOR >= 1
/* ABI 1.1: every PNM/PAM file starts with 'P' and a digit 1-7 (mask 0xf8
 * keeps 0x30-0x37); the host skips sources that do not, without calling
 * pnm_can_read. Built against the 1.0 header (the test that 1.0 plugins
 * still load does that), the table simply ends before these fields. */
static const uint8_t pnm_magic[2] = {'P', '0'};
static const uint8_t pnm_magic_mask[2] = {0xff, 0xf8};
static const iio_signature pnm_signatures[] = {{0, 0, pnm_magic, pnm_magic_mask, 2}};
#endif

static const iio_format_v1 pnm_format = {
    sizeof(iio_format_v1),
    IIO_CAP_READ | IIO_CAP_WRITE | IIO_CAP_THREAD_SAFE,
    IIO_STR_LIT("PNM"),
    IIO_STR_LIT("Netpbm PBM/PGM/PPM (binary and ASCII) and PAM, 8 and 16 bit (C plugin)"),
    IIO_STR_LIT(".pnm .pbm .pgm .ppm .pam"),
    IIO_STR_LIT("i"),
    pnm_can_read,
    pnm_can_write,
    pnm_open,
    pnm_close,
    pnm_get_length,
    pnm_get_data,
    pnm_get_meta_data,
    pnm_append_data,
    pnm_set_meta_data,
#if IIO_ABI_VERSION_MINOR >= 1
    pnm_signatures,
    1,
#endif
};

static const iio_format_v1 *const pnm_formats[] = {&pnm_format};

static const iio_plugin_v1 pnm_plugin = {
    IIO_ABI_VERSION, sizeof(iio_plugin_v1), IIO_STR_LIT("imageio-pnm"), IIO_STR_LIT("0.1.0"), pnm_formats, 1,
};

#if IIO_ABI_VERSION_MINOR >= 2
/* ABI 1.2 extensions, offered to the host from the accessor: the image's
 * shape and dtype from the header read at open (no pixel is read), the one
 * option this format knows (the host then refuses any other before open),
 * and the format's own documentation. */
static iio_status pnm_get_properties(iio_instance *handle, uint64_t index, iio_image_properties *out, iio_error *err) {
  const pnm_instance *inst = (const pnm_instance *)handle;
  const pnm_header *h = &inst->header;
  if (inst->io_mode != 'r') return fail(err, IIO_ERR_INVALID_ARGUMENT, "properties of a writer");
  if (index != 0)
    return fail(err, IIO_ERR_INDEX_OUT_OF_RANGE, "image index %llu is out of range (the file has 1 image)",
                (unsigned long long)index);
  out->dtype = h->is_bool ? IIO_DTYPE_BOOL : (h->maxval > 255 ? IIO_DTYPE_U16 : IIO_DTYPE_U8);
  out->ndim = h->depth == 1 ? 2 : 3;
  out->shape[0] = h->height;
  out->shape[1] = h->width;
  out->shape[2] = h->depth;
  return IIO_OK;
}

static const iio_properties_ext_v1 pnm_properties = {sizeof(iio_properties_ext_v1), 0, pnm_get_properties};

static const iio_option_decl pnm_option_decls[] = {
    {IIO_STR_LIT("ascii"), IIO_OPTION_BOOL, IIO_CAP_WRITE, IIO_STR_LIT("false"),
     IIO_STR_LIT("write the plain (ASCII) variant: P1, P2 or P3 instead of P4, P5 or P6")},
};

static const iio_options_ext_v1 pnm_options = {sizeof(iio_options_ext_v1), 0, pnm_option_decls, 1};

static const iio_doc_ext_v1 pnm_doc = {
    sizeof(iio_doc_ext_v1), 0,
    IIO_STR_LIT("Reads PBM, PGM and PPM, binary (P4-P6) and ASCII (P1-P3), and PAM (P7: depth 1-4,\n"
                "BLACKANDWHITE as booleans), maxval up to 65535: uint8 up to 255, else uint16, the samples\n"
                "as stored (not scaled), `maxval` in the metadata. Writes the same from bool, uint8 and\n"
                "uint16 images of 1-4 channels; the extension chooses PAM (.pam) or the classic formats.\n"
                "Metadata: format (str: P1-P7), maxval (int), tupltype (str, PAM only).")};
#endif

/* The table accessor: a unique name, so the plugin can be linked in as a builtin. */
const iio_plugin_v1 *iio_pnm_plugin(const iio_host_v1 *host) {
  if (host != NULL && (host->abi_version >> 16) != IIO_ABI_VERSION_MAJOR) return NULL;
#if IIO_ABI_VERSION_MINOR >= 2
  if (host != NULL && IIO_HAS_FIELD(host, iio_host_v1, provide_extension) && host->provide_extension != NULL) {
    host->provide_extension(&pnm_format, IIO_EXT_PROPERTIES_V1, &pnm_properties);
    host->provide_extension(&pnm_format, IIO_EXT_OPTIONS_V1, &pnm_options);
    host->provide_extension(&pnm_format, IIO_EXT_DOC_V1, &pnm_doc);
  }
#endif
  return &pnm_plugin;
}
