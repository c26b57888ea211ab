/*
** model/weights.c — shared loader helpers (see weights.h).
*/
#include "model/weights.h"

#include <stdlib.h>

#include "base/buf.h"
#include "base/status.h"
#include "model/quant.h"

mast_status mast_weights_find(const mast_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                              const mast_tensor_info **out)
{
    *out = NULL;
    const mast_tensor_info *t = mast_gguf_tensor(g, name);
    if (!t)
        return mast_fail(MAST_ERR_FORMAT, "%s: missing tensor '%s'", g->path, name);
    int64_t want1 = ne1 > 0 ? ne1 : 1;
    if (t->ne[0] != ne0 || (ne1 >= 0 && t->ne[1] != want1))
        return mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' has shape %lld x %lld, expected %lld x %lld",
                         g->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)ne0,
                         (long long)want1);
    if (!mast_quant_supported(t->type))
        return mast_fail(MAST_ERR_UNSUPPORTED, "%s: tensor '%s' has an unsupported type (%s)",
                         g->path, name, mast_gguf_type_name((mast_gguf_type)t->type));
    *out = t;
    return MAST_OK;
}

mast_status mast_owned_add(mast_owned *o, float *p)
{
    if (!p || !mast_grow_array((void **)&o->p, &o->cap, o->n + 1, sizeof *o->p)) {
        free(p);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    o->p[o->n++] = p;
    return MAST_OK;
}

void mast_owned_free(mast_owned *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->p[i]);
    free(o->p);
    o->p = NULL;
    o->n = o->cap = 0;
}
