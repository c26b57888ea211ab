#!/usr/bin/env python3
"""bench/template/reference.py TEMPLATES_DIR [R] — the reference engine's cost on the
pairs bench_template renders: Python jinja2 configured as Hugging Face transformers'
apply_chat_template configures it (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, a tojson that is json.dumps(ensure_ascii=False),
raise_exception, strftime_now at a fixed time), each template compiled once and each
conversation rendered R times. Prints one JSON line per template and a total, as
bench_template does."""
import json, sys, time
from datetime import datetime
import jinja2
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

class Generation(Extension):   # {% generation %}…{% endgeneration %} renders its body
    tags = {"generation"}
    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)
    def _render(self, caller):
        return caller()

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)

def main():
    d = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    convs = json.load(open(f"{d}/conversations.json"))
    expected = json.load(open(f"{d}/expected.json"))
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    fixed = datetime(2026, 1, 15, 9, 30, 0)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: fixed.strftime(fmt)
    total, pairs_all = 0.0, 0
    for name in sorted(expected):
        t0 = time.perf_counter()
        tmpl = env.from_string(open(f"{d}/{name}").read())
        parse = time.perf_counter() - t0
        render, pairs = 0.0, 0
        for c in convs:
            if "text" not in expected[name].get(c["name"], {}):
                continue
            kw = dict(c["variables"], messages=c["messages"],
                      add_generation_prompt=c["add_generation_prompt"])
            if "tools" in c:
                kw["tools"] = c["tools"]
            t0 = time.perf_counter()
            for _ in range(reps):
                tmpl.render(**kw)
            render += (time.perf_counter() - t0) / reps
            pairs += 1
        if pairs:
            print(json.dumps({"template": name, "parse_us": round(parse * 1e6, 1),
                              "render_us": round(render / pairs * 1e6, 2), "pairs": pairs}))
        total += render
        pairs_all += pairs
    print(json.dumps({"total": True, "pairs": pairs_all,
                      "mean_render_us": round(total / pairs_all * 1e6, 2)}))

main()
