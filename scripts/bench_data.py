#!/usr/bin/env python3
"""Deterministic data set for scripts/bench-store.sh.

  bench_data.py gen DIR [--files 2000] [--dirs 20] [--mib 1024] [--seed 1]
  bench_data.py mutate DIR [--percent 5] [--seed 1]

gen writes FILES files spread over DIRS directories, about MIB MiB in total, with sizes drawn
log-uniformly between 1 KiB and 8 MiB and then scaled to the total. Files with an even index
hold text-like data (a skewed alphabet with nearby repeats, about 2x under zstd -1), files
with an odd index hold random bytes. The same seed always gives byte-identical files.

mutate overwrites one 64 KiB block (the whole file when smaller) at a random offset in
PERCENT% of the files, with new content of the file's own kind.
"""
import argparse
import math
import os
import random
import sys

MIN_SIZE, MAX_SIZE = 1 << 10, 8 << 20
BLOCK = 64 << 10

# Roughly English letter frequencies, with spaces, newlines, digits and punctuation.
WEIGHTS = {
    " ": 30, "e": 21, "t": 15, "a": 13, "o": 12, "i": 12, "n": 11, "s": 10, "h": 10, "r": 10,
    "d": 7, "l": 6, "u": 5, "c": 4, "m": 4, "w": 4, "f": 4, "g": 3, "y": 3, "p": 3, "b": 2,
    "\n": 4, ",": 2, ".": 2, "v": 2, "k": 1, "0": 1, "1": 1, "2": 1, "3": 1, "4": 1, "5": 1,
    "=": 1, ":": 1, "_": 1, "/": 1, "-": 1, "j": 1, "x": 1, "q": 1, "z": 1,
}


def _table():
    symbols = "".join(ch * w for ch, w in WEIGHTS.items()).encode()
    return bytes(symbols[i * len(symbols) // 256] for i in range(256))


TEXT = _table()


def text_like(rng, n):
    """Low-entropy text where some pieces repeat something from the last 64 KiB (zstd -1: about 2x)."""
    out = bytearray()
    while len(out) < n:
        piece = rng.randint(32, 512)
        if len(out) > piece and rng.random() < 0.15:
            start = rng.randint(max(0, len(out) - (64 << 10)), len(out) - piece)
            out += out[start:start + piece]
        else:
            out += rng.randbytes(piece).translate(TEXT)
    return bytes(out[:n])


def content(rng, index, n):
    return text_like(rng, n) if index % 2 == 0 else rng.randbytes(n)


def layout(files, dirs):
    per_dir = math.ceil(files / dirs)
    return [os.path.join(f"dir{i // per_dir:02d}", f"file{i:05d}.dat") for i in range(files)]


def sizes(seed, files, total):
    rng = random.Random(f"sizes:{seed}")
    raw = [math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))) for _ in range(files)]
    scale = total / sum(raw)
    return [max(1, round(r * scale)) for r in raw]


def gen(args):
    paths = layout(args.files, args.dirs)
    total = 0
    for i, (rel, size) in enumerate(zip(paths, sizes(args.seed, args.files, args.mib << 20))):
        path = os.path.join(args.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content(random.Random(f"file:{args.seed}:{i}"), i, size))
        total += size
    print(f"generated {len(paths)} files, {total} bytes in {args.dir}")


def mutate(args):
    paths = sorted(
        os.path.relpath(os.path.join(d, name), args.dir) for d, _, names in os.walk(args.dir) for name in names
    )
    rng = random.Random(f"mutate:{args.seed}")
    chosen = sorted(rng.sample(range(len(paths)), max(1, len(paths) * args.percent // 100)))
    written = 0
    for i in chosen:
        path = os.path.join(args.dir, paths[i])
        size = os.path.getsize(path)
        block = min(size, BLOCK)
        offset = rng.randint(0, size - block)
        index = int(paths[i][-9:-4]) if paths[i].endswith(".dat") else i
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(content(rng, index, block))
        written += block
    print(f"mutated {len(chosen)} of {len(paths)} files, {written} bytes overwritten")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gen", help="write the data set")
    g.add_argument("dir")
    g.add_argument("--files", type=int, default=2000)
    g.add_argument("--dirs", type=int, default=20)
    g.add_argument("--mib", type=int, default=1024)
    g.add_argument("--seed", type=int, default=1)
    m = sub.add_parser("mutate", help="change a share of the files in place")
    m.add_argument("dir")
    m.add_argument("--percent", type=int, default=5)
    m.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.command == "gen" and os.path.exists(args.dir) and os.listdir(args.dir):
        sys.exit(f"{args.dir} is not empty; remove it first")
    if args.command == "gen":
        gen(args)
    else:
        mutate(args)


if __name__ == "__main__":
    main()
