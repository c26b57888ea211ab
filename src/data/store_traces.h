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

#endif
