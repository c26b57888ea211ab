/*
** data/store_impl.h — the SQLite store's private parts, shared by the files
** that implement store.h (store.c, store_docs.c, store_traces.c) and seen by
** no other file: all SQL lives there.
*/
#ifndef MAST_DATA_STORE_IMPL_H
#define MAST_DATA_STORE_IMPL_H

#include <sqlite3.h>

#include "data/store.h"

struct mast_store {
    sqlite3 *db;
    char *path;
    int readonly;     /* opened read-only: writes fail, traces and index files are not saved */
};

/* Runs one SQL statement without results; errors carry the SQLite message. */
mast_status mast_store_exec(mast_store *store, const char *sql);
/* Prepares a statement; errors carry the SQLite message. */
mast_status mast_store_prepare(mast_store *store, const char *sql, sqlite3_stmt **stmt);

#endif
