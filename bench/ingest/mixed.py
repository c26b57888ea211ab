#!/usr/bin/env python3
"""End-to-end ingest of a mixed folder of real documentation, with and without embeddings.

    python3 bench/ingest/mixed.py [--mast build/mast] [--model PATH.gguf]

The folder is made of what Debian installed on this machine (symlinks, so nothing is copied):
bash-doc's HTML and PDF manuals, the first 400 gzip'd man pages of section 1, every HTML
file under /usr/share/doc, the first 400 copyright files (plain text) and the first 300
gzip'd changelogs. Each configuration ingests it into a fresh database, best of 2 runs:

  - no embeddings (BM25 only);
  - embeddings with the shared tiny-bert-random model (128 dimensions, 2 layers: a small
    model, so this is the pipeline's cost more than the model's), at --threads 1 and 2.

Prints MB/s, files/s and seconds per configuration as a Markdown table.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("MAST_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))


def folder(dst):
    picks = sorted(glob.glob("/usr/share/doc/bash-doc/*.html")) + \
        sorted(glob.glob("/usr/share/doc/bash-doc/*.pdf")) + \
        sorted(glob.glob("/usr/share/man/man1/*.1.gz"))[:400] + \
        sorted(glob.glob("/usr/share/doc/**/*.html", recursive=True)) + \
        sorted(glob.glob("/usr/share/doc/*/copyright"))[:400] + \
        sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz"))[:300]
    seen = set()
    for i, p in enumerate(picks):
        if p in seen or not os.path.isfile(p):
            continue
        seen.add(p)
        os.symlink(p, os.path.join(dst, "%05d-%s" % (i, os.path.basename(p))))
    return len(seen), sum(os.path.getsize(p) for p in seen)


def ingest(mast, docs, db, extra):
    best = None
    for _ in range(2):
        for f in glob.glob(db + "*"):
            subprocess.run(["rm", "-rf", f])
        if extra.get("model"):
            subprocess.run([mast, "collection", "create", "mixed", "--embed", extra["model"],
                            "--db", db], check=True, capture_output=True)
        t0 = time.perf_counter()
        r = subprocess.run([mast, "ingest", docs, "-c", "mixed", "--json", "--db", db] +
                           extra.get("args", []), capture_output=True, text=True)
        dt = time.perf_counter() - t0
        out = json.loads(r.stdout)
        if best is None or dt < best[0]:
            best = (dt, out)
    return best


def main(argv):
    mast = os.path.join(ROOT, "build", "mast")
    model = os.path.join(SHARED, "models", "tiny-bert-random.gguf")
    for i in range(1, len(argv), 2):
        if argv[i] == "--mast":
            mast = argv[i + 1]
        elif argv[i] == "--model":
            model = argv[i + 1]
        else:
            sys.exit(__doc__)
    tmp = tempfile.mkdtemp(prefix="mast-mixed-")
    docs = os.path.join(tmp, "docs")
    os.mkdir(docs)
    n, size = folder(docs)
    print("%d files, %.1f MB on disk (compressed ones as they are)" % (n, size / 1e6))
    print("| configuration | seconds | MB/s | files/s | documents | chunks | PDF pages |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    db = os.path.join(tmp, "m.db")
    for name, extra in (("no embeddings", {}),
                        ("embeddings, --threads 1", {"model": model, "args": ["--threads", "1"]}),
                        ("embeddings, --threads 2", {"model": model, "args": ["--threads", "2"]})):
        dt, out = ingest(mast, docs, db, extra)
        print("| %s | %.2f | %.2f | %.0f | %d | %d | %d |" % (
            name, dt, out["bytes"] / 1e6 / dt, out["files"]["seen"] / dt,
            out["documents"]["ingested"], out["chunks"], out["pages"]))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main(sys.argv)
