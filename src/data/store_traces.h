/*
** data/store_traces.h — saving traces to the store and reading them back.
*/
#ifndef MAST_DATA_STORE_TRACES_H
#define MAST_DATA_STORE_TRACES_H

#include <jansson.h>

#include "data/store.h"
#include "observe/trace.h"

/* Saves a finished trace and all its spans in one transaction. */
mast_status mast_store_trace_save(mast_store *store, const mast_trace *trace);
/* n traces in one transaction (all or none). */
mast_status mast_store_traces_save(mast_store *store, mast_trace *const *traces, size_t n);

/* The `limit` most recent traces, newest first, as a JSON array of
** {id, name, start_us, duration_us, status, attributes, n_spans}. Caller owns. */
mast_status mast_store_trace_list(mast_store *store, int limit, json_t **out);

/* One trace by id or unique id prefix, with "spans": [{span_id, parent_id,
** name, start_us, duration_us, status, attributes}] in span order. */
mast_status mast_store_trace_get(mast_store *store, const char *id_prefix, json_t **out);

/* Up to limit traces whose ids come after after_id ("" for the first), in
** id order (the order they began: ids start with their time), each as
** mast_store_trace_get gives it, spans included, in a JSON array. */
mast_status mast_store_traces_after(mast_store *store, const char *after_id, int limit, json_t **out);

/* What the traces take: their count, and their bytes in the file (the
** traces and spans tables and their indexes, as SQLite's dbstat counts
** pages; 0 when this SQLite has no dbstat). */
mast_status mast_store_traces_size(mast_store *store, int64_t *count, uint64_t *bytes);

/* Deletes the traces that began before before_us (0: no age limit), then,
** while their bytes are over max_bytes (0: no limit), the oldest, in
** batches of `batch` (0: 500) each in its own transaction, so that writers
** are never held for long. *deleted (may be NULL) counts them. The file
** keeps its size; freed pages are reused by later traces. */
mast_status mast_store_traces_prune(mast_store *store, int64_t before_us, uint64_t max_bytes,
                                    size_t batch, int64_t *deleted);

#endif
