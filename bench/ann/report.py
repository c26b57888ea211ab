#!/usr/bin/env python3
"""bench/ann/report.py GT.json RESULTS.jsonl... — the ANN benchmark's tables.

Each RESULTS line is one (library, configuration, ef) run printed by bench_ann
or peer_ann, naming the file of its ids; GT.json is the exact top-100 of
`mast vindex search --type flat -k 100 --json`. Prints, per configuration,
recall@10 and queries/s for every ef, the build time and index memory, the
queries/s interpolated at recall@10 = 0.95, and mast's ratios to hnswlib.
"""
import json
import sys


def recall10(gt, path):
    ids = json.load(open(path))["ids"]
    return sum(len(set(g[:10]) & set(r[:10])) for g, r in zip(gt, ids)) / (10.0 * len(gt))


def qps_at(points, target=0.95):
    """queries/s at `target` recall, linear between the two ef runs around it"""
    pts = sorted(points)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1:
            return q0 + (q1 - q0) * (target - r0) / (r1 - r0) if r1 > r0 else q0
    return None


def main():
    gt = json.load(open(sys.argv[1]))["ids"]
    runs, filters = {}, []
    for path in sys.argv[2:]:
        for line in open(path):
            r = json.loads(line)
            if "filter_keeps" in r:
                filters.append(r)
                continue
            key = (r["lib"], r["m"], r["storage"])
            r["recall"] = recall10(gt, r["file"])
            runs.setdefault(key, []).append(r)
    print("| library | M | storage | build s | index MB | ef: recall@10 / queries/s (1 thread) |"
          " q/s at recall 0.95 | distances/query at ef 128 |")
    print("|---|---:|---|---:|---:|---|---:|---:|")
    at95 = {}
    for key, rs in sorted(runs.items()):
        rs.sort(key=lambda r: r["ef"])
        q95 = qps_at([(r["recall"], r["qps"]) for r in rs])
        at95[key] = (q95, rs[0]["build_s"], rs[0]["index_mb"])
        curve = ", ".join("%d: %.3f / %.0f" % (r["ef"], r["recall"], r["qps"]) for r in rs)
        d128 = [r.get("distances_per_query") for r in rs if r["ef"] == 128 and "distances_per_query" in r]
        print("| %s | %d | %s | %.1f | %.1f | %s | %s | %s |" % (
            key[0], key[1], key[2], rs[0]["build_s"], rs[0]["index_mb"], curve,
            "%.0f" % q95 if q95 else "-", "%.0f" % d128[0] if d128 else "-"))
    print()
    for (lib, m, storage), (q95, build, mem) in sorted(at95.items()):
        peer = at95.get(("hnswlib", m, "f32"))
        if lib != "mast" or not peer or not q95 or not peer[0]:
            continue
        print("mast M=%d %s vs hnswlib M=%d: queries/s at recall 0.95 %.2fx, build time %.2fx, "
              "memory %.2fx" % (m, storage, m, q95 / peer[0], build / peer[1], mem / peer[2]))
    if filters:
        print()
        print("| M | storage | filter keeps | ef | recall@10 | queries/s | queries scanned exactly |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for f in filters:
            print("| %d | %s | %.0f%% | %d | %.4f | %.0f | %d of 1000 |" % (
                f["m"], f["storage"], 100 * f["filter_keeps"], f["ef"], f["recall"], f["qps"],
                f["scanned"]))


if __name__ == "__main__":
    main()
