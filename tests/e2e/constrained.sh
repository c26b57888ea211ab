#!/usr/bin/env bash
# tests/e2e/constrained.sh — constrained decoding through the HTTP API, checked by an
# independent validator: 1,008 generations over the 24 schemas of data/schemas.json
# (nested objects, bounded arrays, enums, anyOf/oneOf, $ref and recursion, formats,
# multi-byte strings) from the shared random-weight models (a byte-level BPE vocabulary
# and an SPM one), sampled with 21 seeds and greedy, each validated by python3-jsonschema
# (Draft 2020-12, formats checked); a GBNF arithmetic grammar whose outputs Python's own
# parser must accept; and a schema keyword mast does not support, refused by name.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3   # Debian's, with python3-jsonschema (scripts/setup); else the PATH's
$PY -c 'import jsonschema' 2>/dev/null || PY=python3
if ! $PY -c 'import jsonschema' 2>/dev/null; then
  fail "jsonschema" "python3-jsonschema is missing: run scripts/setup"
  finish
  exit 1
fi
M="$DATA/models"
serve "$WORK/serve.log" --ctx 2048 -m "$M/tiny-llama-gqa-random.gguf" -m "$M/stories260K.gguf"
check "server ready" test -n "$PORT"
$PY - "$PORT" "$(dirname "$0")/data/schemas.json" >"$WORK/out.txt" 2>&1 <<'PYEOF'
import ast, http.client, json, sys
import jsonschema
port, schemas = int(sys.argv[1]), json.load(open(sys.argv[2]))
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
def post(path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read())
checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
bad, total, by_schema = [], 0, [0] * len(schemas)
for model in ("tiny-llama-gqa-random", "stories260K"):
    for i, schema in enumerate(schemas):
        for seed in range(21):
            body = {"model": model, "max_tokens": 400, "seed": seed,
                    "temperature": 0 if seed == 20 else 1.0,
                    "messages": [{"role": "user", "content": "Answer in JSON."}],
                    "response_format": {"type": "json_schema",
                                        "json_schema": {"name": "s%d" % i, "schema": schema, "strict": True}}}
            status, r = post("/v1/chat/completions", body)
            total += 1
            try:
                assert status == 200, r
                choice = r["choices"][0]
                assert choice["finish_reason"] == "stop", choice["finish_reason"]
                value = json.loads(choice["message"]["content"])
                jsonschema.Draft202012Validator(schema, format_checker=checker).validate(value)
                by_schema[i] += 1
            except Exception as e:
                bad.append((model, i, seed, str(e)[:200], r.get("choices", [{}])[0].get("message", {}).get("content")))
print("generations", total, "valid", total - len(bad))
for b in bad[:10]:
    print("INVALID", b)
# GBNF: bounded arithmetic; Python's parser must read every output as one expression
grammar = ('root ::= expr\n'
           'expr ::= term (("+" | "-") term){0,3}\n'
           'term ::= factor (("*" | "/") factor){0,2}\n'
           'factor ::= num | "(" inner ")"\n'
           'inner ::= num (("+" | "-" | "*") num){0,3}\n'
           'num ::= "0" | [1-9] [0-9]{0,2}\n')   # no leading zeros: Python refuses them
arith_bad = 0
for seed in range(40):
    status, r = post("/v1/completions", {"model": "tiny-llama-gqa-random", "prompt": "1+1=",
                                         "max_tokens": 200, "seed": seed, "grammar": grammar})
    text = r["choices"][0]["text"] if status == 200 else None
    try:
        tree = ast.parse(text, mode="eval")
        ok = all(isinstance(n, (ast.Expression, ast.BinOp, ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.Div))
                 for n in ast.walk(tree)) and r["choices"][0]["finish_reason"] == "stop"
    except Exception:
        ok = False
    if not ok:
        arith_bad += 1
        print("ARITH", seed, repr(text))
print("arithmetic", 40, "valid", 40 - arith_bad)
status, r = post("/v1/chat/completions", {"model": "stories260K", "messages": [{"role": "user", "content": "x"}],
                 "response_format": {"type": "json_schema", "json_schema": {"name": "p",
                                     "schema": {"type": "string", "pattern": "^a+$"}}}})
print("pattern", status, r["error"]["param"], r["error"]["message"])
PYEOF
OUT="$(cat "$WORK/out.txt")"
echo "$OUT" | grep -E "^(generations|arithmetic|pattern)" >&2
check "1008 schema-constrained generations all valid" contains "$OUT" "generations 1008 valid 1008"
check "40 arithmetic generations all parse" contains "$OUT" "arithmetic 40 valid 40"
check "an unsupported keyword is a 400 naming it" contains "$OUT" "pattern 400 response_format response_format.json_schema.schema: schema at #: the keyword 'pattern' is not supported"
contains "$OUT" "INVALID" && echo "$OUT" | grep -E "INVALID|ARITH|Traceback|Error" | head -12 >&2
kill "$SERVER"
wait "$SERVER"
finish
