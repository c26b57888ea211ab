/*
** tests/fuzz/fuzz_json_scan.c — the JSON scanner (base/json_scan.h) against
** jansson on arbitrary bytes: it must accept exactly the objects json_loadb
** accepts (but for one jansson leniency, below), and each key it locates
** (once, unescaped) must hold the value jansson finds under it. Any
** disagreement aborts.
*/
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"model", "usage", "id", "choices"};
    mast_json_span spans[4];
    bool escaped;
    const char *text = (const char *)data;
    bool scanned = mast_json_scan_object(text, size, keys, 4, spans, &escaped);
    json_t *j = json_loadb(text, size, 0, NULL);
    bool parsed = json_is_object(j);
    /* jansson skips a NUL byte that ends a number or literal ({"a": 1\0}); RFC
    ** 8259 does not allow it, nor does the scanner */
    if (scanned != parsed && !(parsed && memchr(text, 0, size)))
        abort();
    for (int i = 0; scanned && !escaped && i < 4; i++) {
        json_t *want = json_object_get(j, keys[i]);
        if ((spans[i].count == 0) != (want == NULL))
            abort();
        if (spans[i].count == 1) {
            json_t *got = json_loadb(text + spans[i].at, spans[i].len, JSON_DECODE_ANY, NULL);
            if (!json_equal(got, want))
                abort();
            json_decref(got);
        }
    }
    json_decref(j);
    return 0;
}
