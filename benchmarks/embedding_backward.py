"""Why the embedding backward sorts: ways to sum the gradients of repeated ids, timed side by side.

The seed IMDB model looks up 128 x 500 ids in a 5000 x 32 table every batch; most ids repeat
("the", "a", padding), so the backward must add many rows into the same place.

    python benchmarks/embedding_backward.py
"""

import time

import numpy as np

from tinyseq.ops import scatter_add_rows


def add_at(rows, ids, num_rows):
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    np.add.at(out, ids, rows)
    return out


def bincount_per_column(rows, ids, num_rows):
    return np.stack([np.bincount(ids, weights=rows[:, j], minlength=num_rows)
                     for j in range(rows.shape[1])], axis=1).astype(rows.dtype)


def one_hot_matmul(rows, ids, num_rows):
    one_hot = np.zeros((num_rows, len(ids)), dtype=rows.dtype)
    one_hot[ids, np.arange(len(ids))] = 1
    return one_hot @ rows


def main(repeats=20):
    rng = np.random.default_rng(0)
    vocabulary, width = 5000, 32
    ranks = np.minimum(rng.zipf(1.3, size=128 * 500), vocabulary - 1)  # word ids are Zipf-like
    rows = rng.standard_normal((len(ranks), width)).astype(np.float32)
    reference = add_at(rows, ranks, vocabulary)
    print(f"{len(ranks):,} ids ({len(np.unique(ranks))} distinct) into a {vocabulary} x {width} table:")
    for name, fn in [("np.add.at", add_at), ("bincount per column", bincount_per_column),
                     ("one-hot matmul", one_hot_matmul), ("sort + add.reduceat (tinyseq)", scatter_add_rows)]:
        np.testing.assert_allclose(fn(rows, ranks, vocabulary), reference, rtol=1e-4, atol=1e-3)
        best = min(_time(fn, rows, ranks, vocabulary) for _ in range(repeats))
        print(f"  {name:32s} {best * 1e3:7.2f} ms")


def _time(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
