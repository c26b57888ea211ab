#!/usr/bin/env python3
"""Plants near-duplicates among real documents, with the truth beside them.

    plant_dups.py CORPUS.jsonl[.zst] OUT_DIR TRUTH.json [--originals N] [--families F] [--seed S]

Takes the first N abstracts of at least 120 words from a BEIR corpus (the
shared SciFact one: real abstracts no one here wrote, on related topics, so
the distinct documents are hard negatives) and writes each as
OUT_DIR/a-NNNN.txt. For the first F of them it writes edited copies
OUT_DIR/b-NNNN-rRR.txt, RR the percentage of words edited (each edited word
substituted by a corpus word, deleted, or followed by an inserted one):
2, 5 and 10 are near-duplicates, 30 and 50 are not (rewritten, not copied).
It also writes F spliced documents OUT_DIR/c-NNNN.txt, the first half of one
abstract and the second half of another (similar to each by about a third:
not duplicates). TRUTH.json maps each file name to its family (the original's
number) and whether it is a near-duplicate. Names sort originals first, so a
copy is always ingested after its original.
"""
import json
import random
import subprocess
import sys

NEAR = (2, 5, 10)
FAR = (30, 50)


def read_corpus(path):
    if path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    else:
        data = open(path, "rb").read()
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def edit(words, rate, vocab, rng):
    out = []
    for w in words:
        if rng.random() >= rate:
            out.append(w)
            continue
        op = rng.random()
        if op < 0.6:
            out.append(rng.choice(vocab))
        elif op < 0.8:
            pass
        else:
            out.extend([w, rng.choice(vocab)])
    return out


def main(argv):
    args = argv[1:]
    opts = {"--originals": 300, "--families": 60, "--seed": 17}
    pos = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = int(args[i + 1])
            i += 2
        else:
            pos.append(args[i])
            i += 1
    if len(pos) != 3:
        sys.exit(__doc__)
    corpus, out_dir, truth_path = pos
    rng = random.Random(opts["--seed"])
    docs = []
    for d in read_corpus(corpus):
        words = d.get("text", "").split()
        if len(words) >= 120:
            docs.append(words)
        if len(docs) == opts["--originals"]:
            break
    vocab = sorted({w for words in docs for w in words})
    truth = {}
    for n, words in enumerate(docs):
        name = "a-%04d.txt" % n
        open("%s/%s" % (out_dir, name), "w").write(" ".join(words) + "\n")
        truth[name] = {"family": n, "near_duplicate": False}
    for n in range(opts["--families"]):
        for rate in NEAR + FAR:
            name = "b-%04d-r%02d.txt" % (n, rate)
            text = " ".join(edit(docs[n], rate / 100, vocab, rng))
            open("%s/%s" % (out_dir, name), "w").write(text + "\n")
            truth[name] = {"family": n, "near_duplicate": rate in NEAR, "rate": rate}
        other = docs[(n + opts["--families"]) % len(docs)]
        a, b = docs[n], other
        name = "c-%04d.txt" % n
        open("%s/%s" % (out_dir, name), "w").write(
            " ".join(a[: len(a) // 2] + b[len(b) // 2:]) + "\n")
        truth[name] = {"family": n, "near_duplicate": False, "spliced": True}
    json.dump(truth, open(truth_path, "w"), indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv)
