/*
** data/store_dedup.c — documents' MinHash signatures and LSH band keys
** (store.h; what they mean is data/dedup.h's). A signature is stored as a
** blob of MAST_STORE_MINHASH_K 32-bit values in this machine's byte order.
*/
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/store_impl.h"

mast_status mast_store_minhash_write(mast_store *store, int64_t collection_id, int64_t doc_id,
                                     const uint32_t *sig, const int64_t *bands)
{
    static const char del_sig[] = "DELETE FROM doc_minhash WHERE document_id = ?";
    static const char del_bands[] = "DELETE FROM doc_bands WHERE document_id = ?";
    static const char put_sig[] = "INSERT INTO doc_minhash(document_id, signature) VALUES(?, ?)";
    static const char put_band[] =
        "INSERT OR IGNORE INTO doc_bands(collection_id, band, document_id) VALUES(?, ?, ?)";
    sqlite3_stmt *stmt;
    const char *const dels[] = {del_sig, del_bands};
    for (int i = 0; i < 2; i++) {
        MAST_TRY(mast_store_cached(store, dels[i], &stmt));
        sqlite3_bind_int64(stmt, 1, doc_id);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            return mast_store_error(store, "cannot replace a document's signature");
    }
    if (!sig || !bands)
        return MAST_OK;
    MAST_TRY(mast_store_cached(store, put_sig, &stmt));
    sqlite3_bind_int64(stmt, 1, doc_id);
    sqlite3_bind_blob(stmt, 2, sig, MAST_STORE_MINHASH_K * (int)sizeof *sig, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        return mast_store_error(store, "cannot write a document's signature");
    MAST_TRY(mast_store_cached(store, put_band, &stmt));
    for (int i = 0; i < MAST_STORE_MINHASH_BANDS; i++) {
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 1, collection_id);
        sqlite3_bind_int64(stmt, 2, bands[i]);
        sqlite3_bind_int64(stmt, 3, doc_id);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            return mast_store_error(store, "cannot write a document's band keys");
    }
    return MAST_OK;
}

/* Steps a statement of (id, uri, signature) rows into fn. */
static mast_status visit_rows(mast_store *store, sqlite3_stmt *stmt, mast_minhash_visit_fn fn,
                              void *ctx)
{
    int rc;
    uint32_t sig[MAST_STORE_MINHASH_K];
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(stmt, 2);
        if (!blob || sqlite3_column_bytes(stmt, 2) != (int)sizeof sig)
            continue;   /* not a signature this mast wrote */
        memcpy(sig, blob, sizeof sig);
        const unsigned char *uri = sqlite3_column_text(stmt, 1);
        if (fn(ctx, sqlite3_column_int64(stmt, 0), uri ? (const char *)uri : "", sig))
            break;
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? MAST_OK
                                                 : mast_store_error(store, "cannot read signatures");
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

mast_status mast_store_minhash_candidates(mast_store *store, int64_t collection_id,
                                          const int64_t *bands, int64_t before_id,
                                          mast_minhash_visit_fn fn, void *ctx)
{
    /* the oldest few documents of each band: a band thousands of copies share
    ** costs no more than any other, and the oldest copy is among them */
    static const char by_band[] =
        "SELECT document_id FROM doc_bands WHERE collection_id = ? AND band = ?"
        " AND document_id < ? ORDER BY document_id LIMIT 8";
    _Static_assert(MAST_STORE_BAND_CANDIDATES == 8, "the LIMIT above");
    static const char by_id[] =
        "SELECT d.uri, m.signature FROM documents d JOIN doc_minhash m ON m.document_id = d.id"
        " WHERE d.id = ?";
    int64_t ids[MAST_STORE_MINHASH_BANDS * MAST_STORE_BAND_CANDIDATES];
    size_t n = 0;
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_cached(store, by_band, &stmt));
    for (int b = 0; b < MAST_STORE_MINHASH_BANDS; b++) {
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 1, collection_id);
        sqlite3_bind_int64(stmt, 2, bands[b]);
        sqlite3_bind_int64(stmt, 3, before_id);
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
            ids[n++] = sqlite3_column_int64(stmt, 0);
        if (rc != SQLITE_DONE)
            return mast_store_error(store, "cannot read band keys");
    }
    qsort(ids, n, sizeof *ids, cmp_id);
    MAST_TRY(mast_store_cached(store, by_id, &stmt));
    uint32_t sig[MAST_STORE_MINHASH_K];
    for (size_t i = 0; i < n; i++) {
        if (i && ids[i] == ids[i - 1])
            continue;
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 1, ids[i]);
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            continue;
        if (rc != SQLITE_ROW)
            return mast_store_error(store, "cannot read signatures");
        const void *blob = sqlite3_column_blob(stmt, 1);
        if (!blob || sqlite3_column_bytes(stmt, 1) != (int)sizeof sig)
            continue;
        memcpy(sig, blob, sizeof sig);
        const unsigned char *uri = sqlite3_column_text(stmt, 0);
        if (fn(ctx, ids[i], uri ? (const char *)uri : "", sig))
            break;
    }
    return MAST_OK;
}

mast_status mast_store_minhash_scan(mast_store *store, int64_t collection_id,
                                    mast_minhash_visit_fn fn, void *ctx)
{
    static const char sql[] =
        "SELECT d.id, d.uri, m.signature FROM documents d JOIN doc_minhash m ON m.document_id = d.id"
        " WHERE d.collection_id = ? ORDER BY d.id";
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store, sql, &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    mast_status st = visit_rows(store, stmt, fn, ctx);
    sqlite3_finalize(stmt);
    return st;
}

mast_status mast_store_minhash_count(mast_store *store, int64_t collection_id, int64_t *n_docs,
                                     int64_t *n_signed)
{
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store,
                                "SELECT count(*), count(m.document_id) FROM documents d LEFT JOIN"
                                " doc_minhash m ON m.document_id = d.id WHERE d.collection_id = ?",
                                &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    mast_status st = MAST_OK;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *n_docs = sqlite3_column_int64(stmt, 0);
        *n_signed = sqlite3_column_int64(stmt, 1);
    } else {
        st = mast_store_error(store, "cannot count signatures");
    }
    sqlite3_finalize(stmt);
    return st;
}
