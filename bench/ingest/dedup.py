#!/usr/bin/env python3
"""Measures mast's near-duplicate detector and chooses its default threshold.

    python3 bench/ingest/dedup.py [--mast build/mast] [--originals N] [--families F]

Plants edited copies among real abstracts (tests/e2e/data/plant_dups.py: the
shared SciFact corpus; copies with 2/5/10% of words edited are near-duplicates,
30/50% copies and spliced documents are not), ingests them with --dedup off
(signatures are still stored), reads every candidate pair's estimated
similarity from `mast dedup report --pairs --json`, and for each threshold
replays what ingest decides — a document is a near-duplicate when an older one
is at least that similar — scoring it against the truth: precision, recall and
F1 per document (a duplicate linked to another family counts as wrong). Also
times ingest with --dedup off and link (the lookups' cost) and prints the
similarities of the hardest negatives and positives.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("MAST_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def main(argv):
    mast = os.path.join(ROOT, "build", "mast")
    originals, families = "300", "60"
    i = 1
    while i < len(argv):
        if argv[i] == "--mast":
            mast = argv[i + 1]
        elif argv[i] == "--originals":
            originals = argv[i + 1]
        elif argv[i] == "--families":
            families = argv[i + 1]
        else:
            sys.exit(__doc__)
        i += 2
    tmp = tempfile.mkdtemp(prefix="mast-dedup-")
    docs = os.path.join(tmp, "docs")
    os.mkdir(docs)
    truth_path = os.path.join(tmp, "truth.json")
    run([sys.executable, os.path.join(ROOT, "tests/e2e/data/plant_dups.py"),
         os.path.join(SHARED, "ir/scifact/corpus.jsonl.zst"), docs, truth_path,
         "--originals", originals, "--families", families])
    truth = json.load(open(truth_path))
    times = {}
    for mode in ("off", "link"):
        db = os.path.join(tmp, mode + ".db")
        t0 = time.perf_counter()
        run([mast, "ingest", docs, "-c", "planted", "--dedup", mode, "--json", "--db", db])
        times[mode] = time.perf_counter() - t0
    db = os.path.join(tmp, "off.db")
    rep = json.loads(run([mast, "dedup", "report", "-c", "planted", "--threshold", "0.05",
                          "--pairs", "--json", "--db", db]).stdout)
    listing = json.loads(run([mast, "documents", "list", "-c", "planted", "--limit", "1000000",
                              "--json", "--db", db]).stdout)
    name = {d["doc_id"]: os.path.basename(d["id"]) for d in listing["data"]}
    older = {}   # doc id -> [(older doc id, similarity)]
    for p in rep["pairs"]:
        older.setdefault(p["b"], []).append((p["a"], p["similarity"]))

    def score(t):
        tp = fp = fn = 0
        for doc_id, n in name.items():
            truth_n = truth[n]
            best = max((s, a) for a, s in older.get(doc_id, [(0, 0.0)]))
            predicted = best[0] >= t and best[1] in name
            right = predicted and truth[name[best[1]]]["family"] == truth_n["family"]
            if predicted and truth_n["near_duplicate"] and right:
                tp += 1
            elif predicted:
                fp += 1
            elif truth_n["near_duplicate"]:
                fn += 1
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        return p, r, 2 * p * r / (p + r) if p + r else 0.0

    print("%d documents (%s originals, %s families: copies edited 2/5/10%% = near-duplicates, "
          "30/50%% and spliced = not)" % (len(name), originals, families))
    print("ingest: %.2f s with --dedup off, %.2f s with --dedup link" % (times["off"], times["link"]))
    print("| threshold | precision | recall | F1 |")
    print("|---|---|---|---|")
    results = []
    for k in range(4, 19):
        t = k * 0.05
        p, r, f = score(t)
        results.append((f, t))
        print("| %.2f | %.3f | %.3f | %.3f |" % (t, p, r, f))
    best_f = max(f for f, _ in results)
    plateau = [t for f, t in results if f == best_f]
    print("best F1 %.3f at thresholds %.2f-%.2f; the middle: %.2f" %
          (best_f, plateau[0], plateau[-1], plateau[len(plateau) // 2]))
    # how close the classes come: best older similarity per kind of document
    kinds = {}
    for doc_id, n in name.items():
        tr = truth[n]
        kind = ("copy %d%%" % tr["rate"]) if "rate" in tr else "spliced" if tr.get("spliced") \
            else "original"
        best = max([s for _, s in older.get(doc_id, [])] or [0.0])
        kinds.setdefault(kind, []).append(best)
    for kind in sorted(kinds):
        v = sorted(kinds[kind])
        print("%-10s best similarity to an older document: min %.3f median %.3f max %.3f" %
              (kind, v[0], v[len(v) // 2], v[-1]))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main(sys.argv)
