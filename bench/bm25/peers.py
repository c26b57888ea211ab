#!/usr/bin/python3
"""bench/bm25/peers.py BEIR_DIR WORK_DIR [SECONDS] — the BM25 peers of issue 6 on
one test collection, set up as ../shared/data/ir/README.md's baselines:

* SQLite FTS5 (Python's sqlite3): fts5(title, text, tokenize='porter unicode61'),
  ranked by bm25() (k1 1.2, b 0.75), the table in a file (index bytes = its size).
* Xapian (python3-xapian, Debian's /usr/bin/python3): English stemmer (STEM_SOME),
  title + text in one field, BM25Weight(1.2, 0, 1, 0.75, 0.5), a disk database.
* Query: lower-cased, split on non-alphanumerics, duplicates removed, OR-ed;
  top 100. nDCG@10 (linear gain, trec_eval's ndcg_cut_10) and Recall@100 over
  the judged queries; queries/s single-threaded over all of them, repeated
  until SECONDS (default 10) have passed, Python's driver overhead included.

Prints one JSON line per engine.
"""
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import xapian


def read_jsonl(path):
    if path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
        lines = data.decode().splitlines()
    else:
        lines = open(path, encoding="utf-8").read().splitlines()
    return [json.loads(l) for l in lines if l.strip()]


def load(d):
    corpus = os.path.join(d, "corpus.jsonl")
    if not os.path.exists(corpus):
        corpus += ".zst"
    docs = read_jsonl(corpus)
    queries = {q["_id"]: q["text"] for q in read_jsonl(os.path.join(d, "queries.jsonl"))}
    qrels = {}
    for i, line in enumerate(open(os.path.join(d, "qrels", "test.tsv"))):
        parts = line.split("\t")
        if i == 0 and not parts[-1].strip().lstrip("-").isdigit():
            continue
        qid, did, score = parts[0], parts[1], int(parts[2])
        qrels.setdefault(qid, {})[did] = score
    return docs, queries, qrels


def terms(text):
    seen = []
    for t in re.split(r"[^0-9a-z]+", text.lower()):
        if t and t not in seen:
            seen.append(t)
    return seen


def metrics(ranked, judged):
    rel = {d: s for d, s in judged.items() if s >= 1}
    if not rel:
        return None
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rel.values(), reverse=True)
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:10]))
    return dcg / idcg, len(set(ranked[:100]) & set(rel)) / len(rel)


def evaluate(search, queries, qrels, seconds):
    nd = rc = n = 0
    judged = [q for q in queries if q in qrels]
    for q in judged:
        m = metrics(search(queries[q]), qrels[q])
        if m:
            nd, rc, n = nd + m[0], rc + m[1], n + 1
    done, t0 = 0, time.perf_counter()
    while True:
        for q in judged:
            search(queries[q])
        done += len(judged)
        if time.perf_counter() - t0 >= seconds:
            break
    return nd / n, rc / n, done / (time.perf_counter() - t0)


def fts5(docs, queries, qrels, work, seconds):
    path = os.path.join(work, "fts5.db")
    if os.path.exists(path):
        os.remove(path)
    t0 = time.perf_counter()
    c = sqlite3.connect(path)
    c.execute("CREATE VIRTUAL TABLE d USING fts5(id UNINDEXED, title, text, tokenize='porter unicode61')")
    c.executemany("INSERT INTO d VALUES (?, ?, ?)", ((x["_id"], x.get("title", ""), x["text"]) for x in docs))
    c.commit()
    build = time.perf_counter() - t0

    def search(q):
        t = terms(q)
        if not t:
            return []
        match = " OR ".join('"%s"' % w for w in t)
        return [r[0] for r in c.execute("SELECT id FROM d WHERE d MATCH ? ORDER BY bm25(d) LIMIT 100", (match,))]

    nd, rc, qps = evaluate(search, queries, qrels, seconds)
    c.close()
    return {"engine": "fts5", "ndcg@10": nd, "recall@100": rc, "qps": qps, "index_seconds": build,
            "index_bytes": os.path.getsize(path)}


def xap(docs, queries, qrels, work, seconds):
    path = os.path.join(work, "xapian")
    shutil.rmtree(path, ignore_errors=True)
    t0 = time.perf_counter()
    db = xapian.WritableDatabase(path, xapian.DB_CREATE_OR_OVERWRITE)
    tg = xapian.TermGenerator()
    tg.set_stemmer(xapian.Stem("english"))
    tg.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
    for x in docs:
        doc = xapian.Document()
        tg.set_document(doc)
        tg.index_text((x.get("title", "") + " " + x["text"]).strip())
        doc.set_data(x["_id"])
        db.add_document(doc)
    db.commit()
    db.close()
    build = time.perf_counter() - t0
    rdb = xapian.Database(path)
    enq = xapian.Enquire(rdb)
    enq.set_weighting_scheme(xapian.BM25Weight(1.2, 0, 1, 0.75, 0.5))
    qp = xapian.QueryParser()
    qp.set_stemmer(xapian.Stem("english"))
    qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
    qp.set_default_op(xapian.Query.OP_OR)

    def search(q):
        t = terms(q)
        if not t:
            return []
        enq.set_query(qp.parse_query(" ".join(t)))
        return [m.document.get_data().decode() for m in enq.get_mset(0, 100)]

    nd, rc, qps = evaluate(search, queries, qrels, seconds)
    size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    return {"engine": "xapian", "ndcg@10": nd, "recall@100": rc, "qps": qps, "index_seconds": build,
            "index_bytes": size}


def main():
    d, work = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10
    os.makedirs(work, exist_ok=True)
    docs, queries, qrels = load(d)
    name = os.path.basename(os.path.normpath(d))
    for f in (fts5, xap):
        r = f(docs, queries, qrels, work, seconds)
        r["collection"] = name
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
