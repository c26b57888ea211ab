/*
** tests/fuzz/fuzz_html.c — the HTML loader (data/ingest/html.c) on arbitrary
** bytes: gumbo repairs any markup, and the walk over what it builds must
** end, within its depth bound, with blocks or an error.
*/
#include <stdint.h>

#include "data/ingest/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mast_doc doc;
    mast_doc_init(&doc);
    mast_load_html(&doc, (const char *)data, size, "fuzz");
    mast_doc_free(&doc);
    return 0;
}
