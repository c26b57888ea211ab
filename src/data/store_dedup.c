/*
** data/store_dedup.c — documents' MinHash signatures and LSH band keys
** (store.h; what they mean is data/dedup.h's). A signature is stored as a
** blob of MAST_STORE_MINHASH_K 32-bit values in this machine's byte order.
*/
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

#define Q7 "?,?,?,?,?,?,?"
_Static_assert(MAST_STORE_MINHASH_BANDS == 42, "the candidates query has 42 band placeholders");

mast_status mast_store_minhash_candidates(mast_store *store, int64_t collection_id,
                                          const int64_t *bands, int64_t before_id,
                                          mast_minhash_visit_fn fn, void *ctx)
{
    static const char sql[] =
        "SELECT d.id, d.uri, m.signature FROM documents d JOIN doc_minhash m ON m.document_id = d.id"
        " WHERE d.id < ?1 AND d.id IN (SELECT document_id FROM doc_bands WHERE collection_id = ?2"
        " AND band IN (" Q7 "," Q7 "," Q7 "," Q7 "," Q7 "," Q7 ")) ORDER BY d.id";
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_cached(store, sql, &stmt));
    sqlite3_bind_int64(stmt, 1, before_id);
    sqlite3_bind_int64(stmt, 2, collection_id);
    for (int i = 0; i < MAST_STORE_MINHASH_BANDS; i++)
        sqlite3_bind_int64(stmt, 3 + i, bands[i]);
    return visit_rows(store, stmt, fn, ctx);
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
