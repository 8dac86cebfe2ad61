/* safetensors.h - checkpoints as .safetensors files (the format PyTorch users open with
 * safetensors.torch.load_file), float32 tensors only. Layout and the reader's rules are in
 * docs/formats.md. Same conventions as groovybee.h: a gb_status and a filled gb_error on
 * failure, outputs zeroed on failure, gb_st_free releases what a read/parse filled. */
#ifndef GB_SAFETENSORS_H
#define GB_SAFETENSORS_H

#include "groovybee.h"

#define GB_ST_MAX_HEADER 100000000u /* header bytes; the reference implementation's own limit */
#define GB_ST_MAX_NAME 127          /* bytes of a tensor name, UTF-8 */
#define GB_ST_MAX_DIMS 4

/* A tensor to write: shape product floats at data, row-major (C order). */
typedef struct {
    const char *name; /* UTF-8, at most 127 bytes, unique, not "__metadata__" */
    const float *data; /* may be NULL when the shape product is 0 */
    int ndim;          /* 0..4; 0 is a scalar holding one value */
    int64_t shape[GB_ST_MAX_DIMS];
} gb_st_tensor_in;

/* A tensor read: data points into the owning gb_st_file's buffer and is 4-byte aligned. */
typedef struct {
    char name[GB_ST_MAX_NAME + 1];
    int ndim;
    int64_t shape[GB_ST_MAX_DIMS]; /* dimensions past ndim are 0 */
    const float *data;
    size_t n; /* number of floats: the shape product */
} gb_st_tensor;

typedef struct {
    gb_st_tensor *t; /* in the header's order */
    size_t n;
    char **meta;   /* __metadata__ as meta[2i] = key, meta[2i + 1] = value, header order */
    size_t n_meta; /* pairs */
    gb_buf buf;    /* the data section, which the tensors' data point into */
} gb_st_file;

/* Builds a file's bytes in out (which it resets): tensors in the order given, contiguous.
 * meta_kv is NULL or "key", "value", ..., NULL (UTF-8, keys unique). */
gb_status gb_st_encode(const gb_st_tensor_in *t, size_t n, const char *const *meta_kv,
                       gb_buf *out, gb_error *err);
/* gb_st_encode, then gb_file_write_atomic: the old file stays whole if anything fails. */
gb_status gb_st_write(const char *path, const gb_st_tensor_in *t, size_t n,
                      const char *const *meta_kv, gb_error *err);

/* Parses a file from memory; the data is copied, the caller keeps its buffer. */
gb_status gb_st_parse(const uint8_t *bytes, size_t len, gb_st_file *out, gb_error *err);
/* Reads and parses a file (one copy of it in memory). */
gb_status gb_st_read(const char *path, gb_st_file *out, gb_error *err);
void gb_st_free(gb_st_file *f);

/* The tensor of that name, or NULL. */
const gb_st_tensor *gb_st_find(const gb_st_file *f, const char *name);
/* The metadata value of that key, or NULL. */
const char *gb_st_meta(const gb_st_file *f, const char *key);

#endif
