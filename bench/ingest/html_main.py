#!/usr/bin/python3
"""HTML main-content extraction: mast against readability-lxml and BeautifulSoup's get_text.

    /usr/bin/python3 bench/ingest/html_main.py [--mast build/mast]

Needs Debian's python3-readability and python3-bs4 (scripts/setup --with-bench), hence
Debian's python3, not another one on the PATH.

The pages are real documentation that Debian installs, from three generators, each with
its own furniture:
  - Node.js API pages (nodejs): a sidebar of every module, a header with version links
    and a table of contents around the text;
  - the Valgrind manual (valgrind, DocBook): navigation tables above and below, and a table
    of contents;
  - libxslt's API reference (libxslt1-dev, gtk-doc): navigation bars.
The main text of each page was chosen by reading the pages' structure, and is written down
here as a rule per generator: Node.js's div#apicontent; Valgrind's div.chapter without its
div.toc; gtk-doc's body without its table.navigation. Fidelity is word-level F1 (a multiset
of lowercased \\w+ words) of each extractor's text against that main text. Speed is pages
per second, best of 3: mast's extraction alone in process (build/bench/bench_html: bytes
decoded, parsed by gumbo, main content found) and its whole `mast ingest` of the pages
(process start, chunking, storing and indexing included), against the two libraries'
extraction alone in this process.
"""
import collections
import warnings
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import lxml.html
from bs4 import BeautifulSoup
from readability import Document

warnings.filterwarnings("ignore")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PAGES = [
    ("nodejs", "/usr/share/doc/nodejs/api/%s.html" % n) for n in ("fs", "process", "stream", "url")
] + [
    ("valgrind", "/usr/share/doc/valgrind/html/%s.html" % n)
    for n in ("manual-core", "mc-manual", "cg-manual", "hg-manual")
] + [
    ("gtkdoc", "/usr/share/doc/libxslt1-dev/gtk-doc/html/libxslt/libxslt-%s.html" % n)
    for n in ("transform", "xsltInternals", "extensions", "pattern")
]


def main_text(kind, html):
    root = lxml.html.fromstring(html)
    if kind == "nodejs":
        nodes = root.xpath("//div[@id='apicontent']")
    elif kind == "valgrind":
        nodes = root.xpath("//div[@class='chapter']")
        for toc in root.xpath("//div[@class='chapter']//div[@class='toc']"):
            toc.drop_tree()
    else:
        nodes = root.xpath("//body")
        for nav in root.xpath("//table[@class='navigation']"):
            nav.drop_tree()
    return " ".join(n.text_content() for n in nodes)


def words(text):
    return collections.Counter(re.findall(r"\w+", text.lower()))


def f1(got, want):
    common = sum((got & want).values())
    total = sum(got.values()) + sum(want.values())
    return 2 * common / total if total else 1.0


def best_of(n, fn):
    best = None
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return best


def main(argv):
    mast = os.path.join(ROOT, "build", "mast")
    if len(argv) == 3 and argv[1] == "--mast":
        mast = argv[2]
    elif len(argv) != 1:
        sys.exit(__doc__)
    pages = [(k, p) for k, p in PAGES if os.path.exists(p)]
    if len(pages) < len(PAGES):
        print("missing pages: %s" % [p for _, p in PAGES if not os.path.exists(p)], file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="mast-html-")
    docs = os.path.join(tmp, "docs")
    os.mkdir(docs)
    for i, (_, p) in enumerate(pages):
        os.symlink(p, os.path.join(docs, "%02d-%s" % (i, os.path.basename(p))))
    db = os.path.join(tmp, "h.db")

    def mast_run():
        for f in glob.glob(db + "*"):
            subprocess.run(["rm", "-rf", f])
        subprocess.run([mast, "ingest", docs, "-c", "h", "--chunk-tokens", "100000", "--db", db],
                       check=True, capture_output=True)

    t_mast = best_of(3, mast_run)
    htmls = [open(p, "rb").read() for _, p in pages]
    t_read = best_of(3, lambda: [lxml.html.fromstring(Document(h).summary()).text_content()
                                 for h in htmls])
    t_bs4 = best_of(3, lambda: [BeautifulSoup(h, "lxml").get_text(" ") for h in htmls])
    listing = json.loads(subprocess.run([mast, "documents", "list", "-c", "h", "--limit", "1000",
                                         "--json", "--db", db], check=True, capture_output=True,
                                        text=True).stdout)
    mast_text = {}
    for d in listing["data"]:
        shown = json.loads(subprocess.run([mast, "documents", "show", d["id"], "-c", "h",
                                           "--chunks", "--json", "--db", db], check=True,
                                          capture_output=True, text=True).stdout)
        mast_text[os.path.basename(d["id"])[3:]] = "\n".join(
            [d.get("title", "")] + [c["text"] for c in shown["chunk_list"]])
    print("| page | words | mast F1 | readability F1 | bs4 get_text F1 |")
    print("|---|---:|---:|---:|---:|")
    sums = [0.0, 0.0, 0.0]
    for (kind, p), h in zip(pages, htmls):
        want = words(main_text(kind, h))
        got = [words(mast_text[os.path.basename(p)]),
               words(lxml.html.fromstring(Document(h).summary()).text_content()),
               words(BeautifulSoup(h, "lxml").get_text(" "))]
        scores = [f1(g, want) for g in got]
        sums = [a + b for a, b in zip(sums, scores)]
        print("| %s %s | %d | %.3f | %.3f | %.3f |" % (kind, os.path.basename(p),
                                                     sum(want.values()), *scores))
    n = len(pages)
    print("| **mean** | | **%.3f** | %.3f | %.3f |" % tuple(s / n for s in sums))
    print()
    alone = subprocess.run([os.path.join(os.path.dirname(mast), "bench", "bench_html")] +
                           [p for _, p in pages], check=True, capture_output=True,
                           text=True).stdout.split()
    t_alone = float(alone[3])
    mb = sum(len(h) for h in htmls) / 1e6
    print("%.1f MB of HTML. pages/s: mast %.0f in process (bench_html: decoding and extraction),"
          " %.0f for the whole `mast ingest`; readability %.1f; bs4 get_text %.1f" %
          (mb, n / t_alone, n / t_mast, n / t_read, n / t_bs4))
    print("mast is %.1fx readability's speed in process, %.1fx as a whole ingest" %
          (t_read / t_alone, t_read / t_mast))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main(sys.argv)
