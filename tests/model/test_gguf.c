/* tests/model/test_gguf.c — GGUF reading, writing and refusing bad files. */
#include <unistd.h>

#include "base/mmap.h"
#include "model/gguf.h"
#include "test.h"

static char *tmp_path(const char *name)
{
    static char *dir;
    if (!dir)
        dir = test_tmpdir();
    char *p = malloc(512);
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void test_round_trip_of_every_metadata_and_tensor_type(void)
{
    mast_gguf_writer *w;
    REQUIRE(mast_gguf_writer_new(&w) == MAST_OK);
    uint8_t u8 = 200;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    int64_t i64 = -5000000000LL;
    double f64 = 3.25;
    REQUIRE(mast_gguf_set_scalar(w, "t.u8", MAST_GGUF_UINT8, &u8) == MAST_OK);
    REQUIRE(mast_gguf_set_scalar(w, "t.i8", MAST_GGUF_INT8, &i8) == MAST_OK);
    REQUIRE(mast_gguf_set_scalar(w, "t.u16", MAST_GGUF_UINT16, &u16) == MAST_OK);
    REQUIRE(mast_gguf_set_scalar(w, "t.i16", MAST_GGUF_INT16, &i16) == MAST_OK);
    REQUIRE(mast_gguf_set_u32(w, "t.u32", 4000000000u) == MAST_OK);
    REQUIRE(mast_gguf_set_i32(w, "t.i32", -7) == MAST_OK);
    REQUIRE(mast_gguf_set_f32(w, "t.f32", 0.5f) == MAST_OK);
    REQUIRE(mast_gguf_set_bool(w, "t.bool", true) == MAST_OK);
    REQUIRE(mast_gguf_set_str(w, "t.str", "héllo") == MAST_OK);
    REQUIRE(mast_gguf_set_u64(w, "t.u64", 1ULL << 60) == MAST_OK);
    REQUIRE(mast_gguf_set_scalar(w, "t.i64", MAST_GGUF_INT64, &i64) == MAST_OK);
    REQUIRE(mast_gguf_set_scalar(w, "t.f64", MAST_GGUF_FLOAT64, &f64) == MAST_OK);
    float fa[3] = {1, 2, 3};
    REQUIRE(mast_gguf_set_arr(w, "t.arr_f32", MAST_GGUF_FLOAT32, fa, 3) == MAST_OK);
    mast_gguf_str strs[2] = {{"a", 1}, {"bc", 2}};
    REQUIRE(mast_gguf_set_arr_str(w, "t.arr_str", strs, 2) == MAST_OK);
    CHECK_EQ_INT(mast_gguf_set_u32(w, "t.u32", 1), MAST_ERR_EXISTS);
    /* one tensor of every supported type, 256 elements per row, 2 rows */
    static const mast_dtype types[] = {MAST_F32, MAST_F16, MAST_BF16, MAST_Q4_0, MAST_Q4_1,
                                       MAST_Q5_0, MAST_Q5_1, MAST_Q8_0, MAST_Q2_K, MAST_Q3_K,
                                       MAST_Q4_K, MAST_Q5_K, MAST_Q6_K, MAST_Q8_K};
    enum { NT = sizeof types / sizeof *types };
    unsigned char *data[NT];
    for (int i = 0; i < NT; i++) {
        size_t bytes = 2 * mast_dtype_row_size(types[i], 256);
        data[i] = malloc(bytes);
        for (size_t b = 0; b < bytes; b++)
            data[i][b] = (unsigned char)(b * 31 + i);
        char name[32];
        snprintf(name, sizeof name, "t.%s", mast_dtype_get(types[i])->name);
        int64_t ne[2] = {256, 2};
        REQUIRE(mast_gguf_add_tensor(w, name, types[i], ne, 2, data[i]) == MAST_OK);
    }
    char *path = tmp_path("rt.gguf");
    REQUIRE(mast_gguf_write(w, path) == MAST_OK);
    mast_gguf_writer_free(w);

    mast_gguf *g;
    REQUIRE(mast_gguf_open(&g, path) == MAST_OK);
    CHECK_EQ_INT(g->version, 3);
    CHECK_EQ_INT(g->n_kv, 14);
    CHECK_EQ_INT(mast_gguf_find(g, "t.u8")->v.u, 200);
    CHECK_EQ_INT(mast_gguf_find(g, "t.i8")->v.i, -100);
    CHECK_EQ_INT(mast_gguf_find(g, "t.u16")->v.u, 60000);
    CHECK_EQ_INT(mast_gguf_find(g, "t.i16")->v.i, -30000);
    uint32_t u32;
    REQUIRE(mast_gguf_get_u32(g, "t.u32", &u32) == MAST_OK);
    CHECK(u32 == 4000000000u);
    int64_t v;
    REQUIRE(mast_gguf_get_i64(g, "t.i32", &v) == MAST_OK);
    CHECK_EQ_INT(v, -7);
    CHECK_EQ_INT(mast_gguf_get_u32(g, "t.i32", &u32), MAST_ERR_FORMAT);   /* negative */
    float f;
    REQUIRE(mast_gguf_get_f32(g, "t.f32", &f) == MAST_OK);
    CHECK(f == 0.5f);
    bool b;
    REQUIRE(mast_gguf_get_bool(g, "t.bool", &b) == MAST_OK);
    CHECK(b);
    mast_gguf_str s;
    REQUIRE(mast_gguf_get_str(g, "t.str", &s) == MAST_OK);
    CHECK(s.len == 6 && memcmp(s.data, "héllo", 6) == 0);
    CHECK_EQ_INT(mast_gguf_get_str(g, "t.u32", &s), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "/rt.gguf: key 't.u32' should be a string, not u32") != NULL);
    CHECK(mast_gguf_find(g, "t.u64")->v.u == 1ULL << 60);
    CHECK_EQ_INT(mast_gguf_find(g, "t.i64")->v.i, -5000000000LL);
    CHECK(mast_gguf_find(g, "t.f64")->v.f == 3.25);
    const mast_gguf_kv *arr;
    REQUIRE(mast_gguf_get_arr(g, "t.arr_f32", MAST_GGUF_FLOAT32, &arr) == MAST_OK);
    CHECK_EQ_INT(arr->arr_n, 3);
    CHECK(memcmp(arr->arr_data, fa, 12) == 0);
    REQUIRE(mast_gguf_get_arr(g, "t.arr_str", MAST_GGUF_STRING, &arr) == MAST_OK);
    CHECK(arr->arr_strs[1].len == 2 && memcmp(arr->arr_strs[1].data, "bc", 2) == 0);
    CHECK_EQ_INT(mast_gguf_get_u32(g, "absent", &u32), MAST_ERR_NOT_FOUND);
    REQUIRE(g->n_tensors == NT);
    for (int i = 0; i < NT; i++) {
        const mast_tensor_info *t = &g->tensors[i];
        CHECK_EQ_INT(t->type, types[i]);
        CHECK_EQ_INT(t->ne[0], 256);
        CHECK_EQ_INT(t->ne[1], 2);
        CHECK_EQ_INT(t->offset % g->alignment, 0);
        CHECK(memcmp(t->data, data[i], t->nbytes) == 0);
        free(data[i]);
    }
    mast_gguf_close(g);
    free(path);
}

static void test_every_shared_file_loads_with_the_right_architecture(void)
{
    static const struct {
        const char *file, *arch;
        size_t n_tensors;
    } files[] = {
        {"models/stories260K.gguf", "llama", 48},
        {"models/tiny-llama-gqa-random.gguf", "llama", 20},
        {"models/tiny-llama-gqa-random-q8_0.gguf", "llama", 20},
        {"models/tiny-llama-gqa-random-q4_0.gguf", "llama", 20},
        {"models/tiny-bert-random.gguf", "bert", 37},
        {"vocab/ggml-vocab-llama-spm.gguf", "llama", 0},
        {"vocab/ggml-vocab-phi-3.gguf", "phi3", 0},
        {"vocab/ggml-vocab-baichuan.gguf", "baichuan", 0},
        {"vocab/ggml-vocab-bert-bge.gguf", "bert", 0},
        {"vocab/ggml-vocab-gpt-2.gguf", "gpt2", 0},
        {"vocab/ggml-vocab-deepseek-coder.gguf", "llama", 0},
        {"vocab/ggml-vocab-deepseek-llm.gguf", "llama", 0},
        {"vocab/ggml-vocab-falcon.gguf", "falcon", 0},
        {"vocab/ggml-vocab-mpt.gguf", "mpt", 0},
        {"vocab/ggml-vocab-gpt-neox.gguf", "gptneox", 0},
        {"vocab/ggml-vocab-refact.gguf", "refact", 0},
        {"vocab/ggml-vocab-starcoder.gguf", "starcoder2", 0},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", test_shared_data(), files[i].file);
        mast_gguf *g;
        mast_status st = mast_gguf_open(&g, path);
        if (st != MAST_OK) {
            fprintf(stderr, "  %s\n", mast_errmsg());
            CHECK(st == MAST_OK);
            continue;
        }
        mast_gguf_str arch = {"", 0};
        CHECK(mast_gguf_get_str(g, "general.architecture", &arch) == MAST_OK);
        if (arch.len != strlen(files[i].arch) || memcmp(arch.data, files[i].arch, arch.len) != 0)
            fprintf(stderr, "  %s: architecture %.*s\n", files[i].file, (int)arch.len, arch.data);
        CHECK(arch.len == strlen(files[i].arch) && memcmp(arch.data, files[i].arch, arch.len) == 0);
        CHECK_EQ_INT(g->n_tensors, files[i].n_tensors);
        mast_gguf_close(g);
    }
}

static void test_copy_of_a_real_model_is_identical(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/tiny-bert-random.gguf", test_shared_data());
    mast_gguf *g;
    REQUIRE(mast_gguf_open(&g, path) == MAST_OK);
    mast_gguf_writer *w;
    REQUIRE(mast_gguf_writer_new(&w) == MAST_OK);
    for (size_t i = 0; i < g->n_kv; i++)
        REQUIRE(mast_gguf_copy_kv(w, &g->kv[i]) == MAST_OK);
    for (size_t i = 0; i < g->n_tensors; i++) {
        const mast_tensor_info *t = &g->tensors[i];
        REQUIRE(mast_gguf_add_tensor(w, t->name, t->type, t->ne, t->n_dims, t->data) == MAST_OK);
    }
    char *out = tmp_path("copy.gguf");
    REQUIRE(mast_gguf_write(w, out) == MAST_OK);
    mast_gguf_writer_free(w);
    mast_mapped a, b;
    REQUIRE(mast_mmap_file(path, &a) == MAST_OK);
    REQUIRE(mast_mmap_file(out, &b) == MAST_OK);
    CHECK_EQ_INT(a.size, b.size);
    CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);   /* byte for byte */
    mast_munmap(&a);
    mast_munmap(&b);
    mast_gguf_close(g);
    free(out);
}

static mast_status parse_bytes(const unsigned char *data, size_t size)
{
    mast_gguf *g;
    mast_status st = mast_gguf_parse(&g, data, size, "bad.gguf");
    mast_gguf_close(st == MAST_OK ? g : NULL);
    return st;
}

static void test_truncated_files_are_refused_at_every_length(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", test_shared_data());
    mast_mapped m;
    REQUIRE(mast_mmap_file(path, &m) == MAST_OK);
    /* every prefix of the header and metadata, then coarser steps */
    int refused = 0, tried = 0;
    for (size_t n = 0; n < m.size; n += n < 4096 ? 1 : 997) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, m.data, n);
        mast_status st = parse_bytes(copy, n);
        refused += st != MAST_OK;
        tried++;
        free(copy);
    }
    CHECK_EQ_INT(refused, tried);
    unsigned char *copy = malloc(m.size - 1);
    memcpy(copy, m.data, m.size - 1);
    CHECK_EQ_INT(parse_bytes(copy, m.size - 1), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "bad.gguf: tensor 'blk.4.ffn_norm.weight' extends past end of file (offset 1170944 + 256 bytes > 1171199 bytes of data)") !=
          NULL);
    free(copy);
    mast_munmap(&m);
}

static void test_bit_flips_never_crash(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-bert-bge.gguf", test_shared_data());
    mast_mapped m;
    REQUIRE(mast_mmap_file(path, &m) == MAST_OK);
    unsigned char *copy = malloc(m.size);
    uint32_t seed = 12345;
    int refused = 0;
    for (int i = 0; i < 400; i++) {
        memcpy(copy, m.data, m.size);
        seed = seed * 1664525u + 1013904223u;
        size_t at = (seed >> 8) % (i < 300 ? 2048 : m.size);   /* mostly in the header */
        copy[at] ^= (unsigned char)(1u << (seed & 7));
        refused += parse_bytes(copy, m.size) != MAST_OK;
    }
    CHECK(refused > 0);   /* some flips are harmless (inside strings), many are not */
    free(copy);
    mast_munmap(&m);
}

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

static void test_absurd_counts_are_refused_with_a_message(void)
{
    unsigned char h[64] = {0};
    put_u32(h, MAST_GGUF_MAGIC);
    put_u32(h + 4, 3);
    put_u64(h + 8, 0);
    put_u64(h + 16, 1ULL << 60);   /* n_kv */
    CHECK_EQ_INT(parse_bytes(h, 24), MAST_ERR_FORMAT);
    CHECK_EQ_STR(mast_errmsg(), "bad.gguf: 1152921504606846976 metadata entries cannot fit in 24 bytes");
    put_u64(h + 8, 1ULL << 62);    /* n_tensors */
    put_u64(h + 16, 0);
    CHECK_EQ_INT(parse_bytes(h, 24), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "tensors cannot fit") != NULL);
    put_u32(h + 4, 7);
    CHECK_EQ_INT(parse_bytes(h, 24), MAST_ERR_UNSUPPORTED);
    CHECK_EQ_STR(mast_errmsg(), "bad.gguf: GGUF version 7 is not supported (2 or 3)");
    memcpy(h, "GGML", 4);
    CHECK_EQ_INT(parse_bytes(h, 24), MAST_ERR_FORMAT);
    CHECK_EQ_STR(mast_errmsg(), "bad.gguf: not a GGUF file (bad magic)");
    /* a string array claiming 2^40 elements */
    unsigned char a[64] = {0};
    put_u32(a, MAST_GGUF_MAGIC);
    put_u32(a + 4, 3);
    put_u64(a + 16, 1);
    put_u64(a + 24, 1);
    a[32] = 'k';
    put_u32(a + 33, MAST_GGUF_ARRAY);
    put_u32(a + 37, MAST_GGUF_STRING);
    put_u64(a + 41, 1ULL << 40);
    CHECK_EQ_INT(parse_bytes(a, 49), MAST_ERR_FORMAT);
    CHECK_EQ_STR(mast_errmsg(), "bad.gguf: key 'k': array of 1099511627776 elements cannot fit in the file");
}

static void test_missing_file_names_the_path(void)
{
    mast_gguf *g;
    CHECK_EQ_INT(mast_gguf_open(&g, "/no/such/model.gguf"), MAST_ERR_NOT_FOUND);
    CHECK_EQ_STR(mast_errmsg(), "/no/such/model.gguf: No such file or directory");
}

int main(void)
{
    RUN(test_round_trip_of_every_metadata_and_tensor_type);
    RUN(test_every_shared_file_loads_with_the_right_architecture);
    RUN(test_copy_of_a_real_model_is_identical);
    RUN(test_truncated_files_are_refused_at_every_length);
    RUN(test_bit_flips_never_crash);
    RUN(test_absurd_counts_are_refused_with_a_message);
    RUN(test_missing_file_names_the_path);
    return test_summary();
}
