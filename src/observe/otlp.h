/*
** observe/otlp.h — traces as OpenTelemetry's OTLP/HTTP export: an
** ExportTraceServiceRequest encoded as protobuf (hand-encoded, from
** opentelemetry-proto's trace.proto, common.proto and resource.proto) or as
** OTLP/JSON, and its POST to a collector.
**
** The input is trace records as the store reads them back (data/
** store_traces.h: {id, trace_id, parent_span_id?, spans: [{span_id,
** parent_id, name, start_us, duration_us, status, attributes}]}). A record's
** spans keep their trace (the caller's, from traceparent, else the record's
** own id) and get 16-hex span ids hashed from the record's id and the
** span's index (mast_trace_span_hex_id), so a re-export sends the same ids.
** The root span is a SERVER span named "{gen_ai.operation.name}
** {gen_ai.request.model}" for a generation, else "{method} {path}"; the others
** are INTERNAL. Status "ok" is UNSET, anything else ERROR with the status as
** its message.
**
** Configuration: the standard variables — OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
** (the URL as it is), else OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces";
** OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, the default, or http/json);
** OTEL_EXPORTER_OTLP_HEADERS and ..._TRACES_HEADERS ("k=v,k2=v2",
** percent-encoded values); OTEL_SERVICE_NAME (default "mast");
** OTEL_RESOURCE_ATTRIBUTES ("k=v,...").
*/
#ifndef MAST_OBSERVE_OTLP_H
#define MAST_OBSERVE_OTLP_H

#include <jansson.h>
#include <stdbool.h>

#include "base/buf.h"
#include "mast.h"

typedef struct mast_otlp {
    char *url;                   /* the traces endpoint */
    bool json;                   /* http/json, else http/protobuf */
    char **headers;              /* "Name: value" */
    size_t n_headers;
    json_t *resource;            /* the resource's attributes: {"service.name": ..., ...} */
} mast_otlp;

/* From the environment (url, when not NULL, overrides the endpoint; protocol
** when not NULL overrides OTEL_EXPORTER_OTLP_PROTOCOL). *enabled is false,
** and nothing is allocated, when no endpoint is configured.
** MAST_ERR_INVALID names a bad variable. */
mast_status mast_otlp_from_env(mast_otlp *o, const char *url, const char *protocol, bool *enabled);
void mast_otlp_free(mast_otlp *o);

/* The records (a JSON array) as one export request's body; *n_spans counts them. */
mast_status mast_otlp_encode(const mast_otlp *o, const json_t *records, mast_buf *out, size_t *n_spans);

/* POSTs a body: the HTTP status (0: no answer) and Retry-After in seconds
** (-1: none). MAST_ERR_IO names the failure, with the collector's message
** when it sent one. Never logs the headers (they may carry keys). */
mast_status mast_otlp_post(const mast_otlp *o, const mast_buf *body, long *status, double *retry_after);

#endif
