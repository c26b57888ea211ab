#!/usr/bin/env python3
"""bench/ingest/pdf.py — PDF text extraction, mast vs poppler's pdftotext vs
pdfminer.six, on the same files in one run (docs/benchmarks.md has figures).

  python3 bench/ingest/pdf.py [--mast-pdf build/mast-pdf] [--runs 3] [PDF...]

Default corpus: the PDFs Debian ships in bash-doc (bash.pdf, bashref.pdf) and
debian-reference-en (debian-reference.en.pdf) — real manuals made by
Ghostscript, pdfTeX and xdvipdfmx. For each file and tool: the best wall time
of --runs runs (pdfminer: one run, it is slow), pages/s, MB/s, and the text's
fidelity as word-level F1 (multiset of words) against pdftotext's, the
reference. mast drops running headers, footers and page numbers on purpose,
so its F1 against pdftotext, which keeps them, is bounded below 1 by them;
"F1 body" compares both without the lines mast identified as furniture's
words (digits-only words and the recurring header words are ignored).
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time

# bash-doc's manuals (in /usr/share/doc/bash or bash-doc, by release) and debian-reference-en's
DEFAULT = [next((d + name for d in ("/usr/share/doc/bash/", "/usr/share/doc/bash-doc/")
                 if os.path.exists(d + name)), "/usr/share/doc/bash/" + name)
           for name in ("bash.pdf", "bashref.pdf")] + \
          ["/usr/share/debian-reference/debian-reference.en.pdf"]


def pages_of(path):
    out = subprocess.run(["pdfinfo", path], capture_output=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", out).group(1))


def timed(cmd, stdin=None, runs=1):
    best, out = None, None
    for _ in range(runs):
        t0 = time.perf_counter()
        with open(stdin, "rb") if stdin else open(os.devnull, "rb") as f:
            p = subprocess.run(cmd, stdin=f, capture_output=True)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"{cmd[0]} failed on {stdin or cmd[-1]}: {p.stderr[:200]!r}")
        best = dt if best is None or dt < best else best
        out = p.stdout
    return best, out.decode("utf-8", "replace")


def words(text):
    # hyphenated line ends joined the same way for every tool before counting
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    return collections.Counter(w.lower() for w in re.findall(r"\w+", text))


def f1(ref, got, ignore=()):
    ref = collections.Counter({w: c for w, c in ref.items() if w not in ignore})
    got = collections.Counter({w: c for w, c in got.items() if w not in ignore})
    common = sum((ref & got).values())
    if not common:
        return 0.0
    p, r = common / sum(got.values()), common / sum(ref.values())
    return 2 * p * r / (p + r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mast-pdf", default="build/mast-pdf")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-pdfminer", action="store_true")
    ap.add_argument("pdfs", nargs="*", default=DEFAULT)
    a = ap.parse_args()
    rows = []
    totals = collections.defaultdict(float)
    for path in a.pdfs:
        n_pages = pages_of(path)
        mb = os.path.getsize(path) / 1e6
        t_pop, pop = timed(["pdftotext", "-enc", "UTF-8", path, "-"], runs=a.runs)
        t_mast, out = timed([a.mast_pdf], stdin=path, runs=a.runs)
        mast = "\n\n".join(json.loads(l).get("t", "") for l in out.splitlines())
        ref, got = words(pop), words(mast)
        # the furniture's words: digits, and words only pdftotext has on most pages
        ignore = {w for w in ref if w.isdigit()} | {w for w, c in (ref - got).items()
                                                     if c >= n_pages // 3}
        row = {"file": os.path.basename(path), "pages": n_pages, "MB": round(mb, 2),
               "pdftotext_s": t_pop, "mast_s": t_mast,
               "mast_f1": f1(ref, got), "mast_f1_body": f1(ref, got, ignore)}
        if not a.no_pdfminer:
            t_min, mined = timed(["pdf2txt", path], runs=1)
            row.update(pdfminer_s=t_min, pdfminer_f1=f1(ref, words(mined)),
                       pdfminer_f1_body=f1(ref, words(mined), ignore))
            totals["pdfminer_s"] += t_min
        totals["pages"] += n_pages
        totals["MB"] += mb
        totals["mast_s"] += t_mast
        totals["pdftotext_s"] += t_pop
        rows.append(row)
    print(f"{'file':28} {'pages':>5} {'MB':>5} | {'tool':9} {'pages/s':>8} {'MB/s':>6} {'F1':>6} {'F1 body':>7}")
    for r in rows:
        tools = [("mast", r["mast_s"], r["mast_f1"], r["mast_f1_body"]),
                 ("pdftotext", r["pdftotext_s"], 1.0, 1.0)]
        if "pdfminer_s" in r:
            tools.append(("pdfminer", r["pdfminer_s"], r["pdfminer_f1"], r["pdfminer_f1_body"]))
        for i, (name, t, f, fb) in enumerate(tools):
            head = f"{r['file']:28} {r['pages']:>5} {r['MB']:>5}" if i == 0 else " " * 40
            print(f"{head} | {name:9} {r['pages'] / t:8.0f} {r['MB'] / t:6.1f} {f:6.3f} {fb:7.3f}")
    print(f"all: {totals['pages']:.0f} pages, {totals['MB']:.1f} MB: mast {totals['pages'] / totals['mast_s']:.0f} pages/s, "
          f"pdftotext {totals['pages'] / totals['pdftotext_s']:.0f} pages/s" +
          (f", pdfminer {totals['pages'] / totals['pdfminer_s']:.1f} pages/s" if totals["pdfminer_s"] else "") +
          f"; mast/pdftotext speed {totals['pdftotext_s'] / totals['mast_s']:.2f}x")


if __name__ == "__main__":
    main()
