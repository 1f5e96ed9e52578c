#!/usr/bin/env python3
"""The plain numpy loop dspgd is compared with (README, "Performance").

Per iteration: R = X @ W - Y; G = X.T @ R; W -= eta * G  (X is read twice,
plus interpreter overhead). Optional: needs numpy; never run by the tests.

Usage (set the BLAS thread count before Python starts, as for dspgd's --threads):
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python3 benches/peers/numpy_loop.py --shape S4 --dtype f64
Prints iterations per second (median of --repeats loops of --iters iterations).
"""
import argparse
import time

import numpy as np

SHAPES = {"S1": (200, 2000, 1), "S2": (200, 2000, 10), "S3": (1000, 10000, 10), "S4": (2000, 50000, 1), "S5": (500, 5000, 100)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="S2", choices=sorted(SHAPES))
    ap.add_argument("--dtype", default="f64", choices=["f64", "f32"])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    n, d, k = SHAPES[a.shape]
    dt = np.float64 if a.dtype == "f64" else np.float32
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(dt)
    Y = rng.standard_normal((n, k)).astype(dt)
    W = np.zeros((d, k), dtype=dt)
    eta = dt(1e-6)
    times = []
    for _ in range(a.repeats + 1):
        t = time.perf_counter()
        for _ in range(a.iters):
            R = X @ W - Y
            G = X.T @ R
            W -= eta * G
        times.append((time.perf_counter() - t) / a.iters)
    per = sorted(times[1:])[len(times[1:]) // 2]
    cfg = np.__config__.CONFIG if hasattr(np.__config__, "CONFIG") else {}
    blas = cfg.get("Build Dependencies", {}).get("blas", {}).get("name", "?") if isinstance(cfg, dict) else "?"
    print(f"numpy {np.__version__} ({blas}) {a.shape} {a.dtype}: {1.0 / per:.1f} iterations/s ({per * 1e3:.3f} ms/iter)")


if __name__ == "__main__":
    main()
