/* fuzz_safetensors.c - libFuzzer target for the .safetensors reader: any bytes must parse or
 * fail cleanly (with the output zeroed); whatever parses must hold tensors inside its buffer,
 * and writing it back out must give a file that reads back the same, bit for bit.
 *   clang -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       fuzz/fuzz_safetensors.c src/io/safetensors.c src/core/core.c -o /tmp/fuzz_st */
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const gb_st_file *a, const gb_st_file *b) {
    if (a->n != b->n || a->n_meta != b->n_meta) return 0;
    for (size_t i = 0; i < a->n; i++) {
        const gb_st_tensor *x = &a->t[i], *y = &b->t[i];
        if (strcmp(x->name, y->name) || x->ndim != y->ndim || x->n != y->n ||
            memcmp(x->shape, y->shape, sizeof x->shape) ||
            (x->n && memcmp(x->data, y->data, x->n * 4)))
            return 0;
    }
    for (size_t i = 0; i < 2 * a->n_meta; i++)
        if (strcmp(a->meta[i], b->meta[i])) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gb_st_file f;
    gb_error e;
    if (gb_st_parse(data, size, &f, &e) != GB_OK) {
        if (f.t || f.n || f.meta || f.n_meta || f.buf.data || !e.msg[0]) abort();
        return 0;
    }
    gb_st_tensor_in *in = calloc(f.n ? f.n : 1, sizeof *in);
    const char **kv = calloc(2 * f.n_meta + 1, sizeof *kv);
    if (!in || !kv) abort();
    for (size_t i = 0; i < f.n; i++) {
        const gb_st_tensor *t = &f.t[i];
        if ((const uint8_t *)t->data < f.buf.data ||
            (size_t)((const uint8_t *)t->data - f.buf.data) + t->n * 4 > f.buf.len ||
            gb_st_find(&f, t->name) != t)
            abort();
        volatile float sink = t->n ? t->data[t->n - 1] : 0; /* ASan checks the last float */
        (void)sink;
        in[i] = (gb_st_tensor_in){t->name, t->data, t->ndim, {0}};
        memcpy(in[i].shape, t->shape, sizeof t->shape);
    }
    for (size_t i = 0; i < 2 * f.n_meta; i++) kv[i] = f.meta[i];
    gb_buf out;
    if (gb_st_encode(in, f.n, kv, &out, &e) == GB_OK) {
        gb_st_file back; /* what the writer writes, the reader must read, and read the same */
        if (gb_st_parse(out.data, out.len, &back, &e) != GB_OK || !same(&f, &back)) abort();
        gb_st_free(&back);
        gb_buf_free(&out);
    } else if (e.status != GB_ERR_LIMIT) {
        abort(); /* only a header grown past 100 MB by escaping may fail to write back */
    }
    free(kv);
    free(in);
    gb_st_free(&f);
    return 0;
}
