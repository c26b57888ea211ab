#!/usr/bin/env bash
# bench/template/run.sh [R] — the cost of rendering a chat template, mast's
# interpreter (build/bench/bench_template) beside the reference engine (Python
# jinja2 as transformers configures it: bench/template/reference.py, which renders
# all 310 shared pairs exactly as expected.json) on the 310 pairs of the 56 shared
# templates, each rendered R times (default 200). Prints both totals and the ratio.
# Needs python3 with jinja2 (Debian: python3-jinja2).
set -euo pipefail
cd "$(dirname "$0")/../.."
R="${1:-200}"
DATA="${MAST_SHARED_DATA:-../shared/data}"
build/bench/bench_template "$DATA/templates" "$R" >/tmp/mast-template-bench.jsonl
python3 bench/template/reference.py "$DATA/templates" "$R" >/tmp/jinja2-template-bench.jsonl
python3 - <<'PY'
import json
def load(p):
    rows = [json.loads(l) for l in open(p)]
    return {r["template"]: r for r in rows if "template" in r}, rows[-1]
m, mt = load("/tmp/mast-template-bench.jsonl")
j, jt = load("/tmp/jinja2-template-bench.jsonl")
ratios = sorted(j[k]["render_us"] / m[k]["render_us"] for k in m if k in j)
pr = sorted(j[k]["parse_us"] / m[k]["parse_us"] for k in m if k in j)
print(json.dumps({"pairs": mt["pairs"], "mast_mean_render_us": mt["mean_render_us"],
                  "jinja2_mean_render_us": jt["mean_render_us"],
                  "render_speedup_mean": round(jt["mean_render_us"] / mt["mean_render_us"], 1),
                  "render_speedup_min_median_max": [round(ratios[0], 1), round(ratios[len(ratios) // 2], 1),
                                                     round(ratios[-1], 1)],
                  "parse_speedup_median": round(pr[len(pr) // 2])}))
PY
