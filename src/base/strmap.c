/*
** base/strmap.c — string -> int32 hash map (see strmap.h).
*/
#include "base/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/status.h"

static size_t find_slot(const mast_strmap *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->n_slots - 1, i = h & mask;
    while (m->slots[i]) {
        uint32_t e = m->slots[i] - 1;
        if (m->key_len[e] == len && memcmp(m->keys + m->key_off[e], key, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static int rehash(mast_strmap *m)
{
    size_t n_slots = m->n_slots ? m->n_slots * 2 : 1024;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return 0;
    for (size_t e = 0; e < m->n; e++) {
        size_t i = mast_hash64(m->keys + m->key_off[e], m->key_len[e]) & (n_slots - 1);
        while (slots[i])
            i = (i + 1) & (n_slots - 1);
        slots[i] = (uint32_t)e + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n_slots;
    return 1;
}

mast_status mast_strmap_put(mast_strmap *m, const char *key, size_t len, int32_t value)
{
    if ((m->n + 1) * 2 > m->n_slots && !rehash(m))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    uint64_t h = mast_hash64(key, len);
    size_t i = find_slot(m, key, len, h);
    if (m->slots[i]) {
        m->values[m->slots[i] - 1] = value;
        return MAST_OK;
    }
    size_t c1 = m->cap_entries, c2 = m->cap_entries, c3 = m->cap_entries;
    if (!mast_grow_array((void **)&m->keys, &m->keys_cap, m->keys_len + len + 1, 1) ||
        !mast_grow_array((void **)&m->key_off, &c1, m->n + 1, sizeof *m->key_off) ||
        !mast_grow_array((void **)&m->key_len, &c2, m->n + 1, sizeof *m->key_len) ||
        !mast_grow_array((void **)&m->values, &c3, m->n + 1, sizeof *m->values))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    m->cap_entries = c1;
    memcpy(m->keys + m->keys_len, key, len);
    m->key_off[m->n] = (uint32_t)m->keys_len;
    m->key_len[m->n] = (uint32_t)len;
    m->values[m->n] = value;
    m->keys_len += len;
    m->slots[i] = (uint32_t)++m->n;
    return MAST_OK;
}

int32_t mast_strmap_get(const mast_strmap *m, const char *key, size_t len)
{
    if (!m->n_slots)
        return -1;
    size_t i = find_slot(m, key, len, mast_hash64(key, len));
    return m->slots[i] ? m->values[m->slots[i] - 1] : -1;
}

void mast_strmap_free(mast_strmap *m)
{
    free(m->keys);
    free(m->key_off);
    free(m->key_len);
    free(m->values);
    free(m->slots);
    memset(m, 0, sizeof *m);
}
