/*
** tests/fuzz/fuzz_vindex.c — libFuzzer target: arbitrary bytes as a vector
** index file, opened without the checksum (so that mutations reach the
** structural checks); an index that opens is searched (plain, filtered,
** re-ranked), changed (delete, add, which copies it off the bytes) and
** compacted. Built only with clang (-DMAST_FUZZ=ON); see tests/fuzz/run.sh.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "data/vindex/vindex_impl.h"

static bool odd(void *ctx, int64_t id)
{
    (void)ctx;
    return id & 1;
}

static bool fill(void *ctx, int64_t id, float *out)
{
    int dim = *(const int *)ctx;
    for (int i = 0; i < dim; i++)
        out[i] = (float)((id + i) % 7) - 3;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mast_mapped bytes = {data, size};
    mast_vindex *v;
    if (vindex_open_bytes(bytes, "fuzz.vix", 0, &v, NULL) != MAST_OK)
        return 0;
    int dim = mast_vindex_params_of(v)->dim;
    float *q = malloc((size_t)dim * sizeof *q);
    for (int i = 0; i < dim; i++)
        q[i] = (float)(i % 5) - 2;
    mast_vhit hits[8];
    size_t n;
    mast_vsearch_opts plain = {8, 16, NULL, NULL, NULL, NULL, 0, NULL};
    mast_vsearch_opts filtered = {8, 16, odd, NULL, fill, &dim, 16, NULL};
    mast_vindex_search(v, q, &plain, hits, &n, NULL);
    mast_vindex_search(v, q, &filtered, hits, &n, NULL);
    if (n)
        mast_vindex_delete(v, hits[0].id);
    int64_t id = INT64_MIN + 7;
    mast_vindex_add(v, NULL, 1, &id, q);
    mast_vindex_search(v, q, &plain, hits, &n, NULL);
    mast_vindex_compact(v, NULL);
    mast_vindex_search(v, q, &plain, hits, &n, NULL);
    free(q);
    mast_vindex_free(v);
    return 0;
}
