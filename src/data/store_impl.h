/*
** data/store_impl.h — the SQLite store's private parts, shared by the files
** that implement store.h (store.c, store_docs.c, store_traces.c) and seen by
** no other file: all SQL lives there.
*/
#ifndef MAST_DATA_STORE_IMPL_H
#define MAST_DATA_STORE_IMPL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "data/store.h"

#define MAST_STORE_CACHED 8

struct mast_store {
    sqlite3 *db;
    char *path;
    int readonly;     /* opened read-only: writes fail, traces and index files are not saved */
    struct {          /* statements kept prepared (mast_store_cached) */
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[MAST_STORE_CACHED];
};

/* Runs one SQL statement without results; errors carry the SQLite message. */
mast_status mast_store_exec(mast_store *store, const char *sql);
/* Prepares a statement; errors carry the SQLite message. */
mast_status mast_store_prepare(mast_store *store, const char *sql, sqlite3_stmt **stmt);
/* The statement for sql (a string constant: it is found by its address),
** prepared the first time and kept, reset and unbound, until the store
** closes: for statements run once per request. Do not finalize it. */
mast_status mast_store_cached(mast_store *store, const char *sql, sqlite3_stmt **stmt);

/* Replaces a document's signature (or removes it: NULL), in the caller's
** transaction (store_dedup.c). */
mast_status mast_store_minhash_write(mast_store *store, int64_t doc_id, const uint32_t *sig);

#endif
