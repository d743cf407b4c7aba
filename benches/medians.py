"""Collects the scale table's medians into benches/medians.json (standard library only).

    CARGO_TARGET_DIR=target-bench cargo bench --bench scale
    python3 benches/medians.py target-bench/criterion benches/jax/medians.json > benches/medians.json

Rows: {objective, d, k, n, ours_us, per_point_us (reverse KL through `common::PerPoint`, d > 8),
resample_us (the draws alone), jax_us, roofline_us, gemm_us, gemm_count, load}. The roofline
of a step is its flop count in GEMMs of faer (measured in the same run, `scale/gemm/...`):
reverse KL (n x d)(d x d) GEMMs: 1 push-forward + K x (two triangular solves = 1) + 1 for
sum g eps^T = K + 2; forward KL exact d x d x d GEMMs: L L^T (1/2) + Cholesky (1/6) + W = S^-1 L
(two solves, 1) + M W (1) + S^-1 (S W) (1) = 11/3. `load` is the 1-minute load average noted by
hand next to the run (argument 3, optional).
"""

import glob
import json
import os
import sys

SHAPES = [(2, 2, 1000), (16, 8, 10_000), (32, 4, 1000), (64, 4, 1000), (128, 4, 1000), (256, 1, 1000)]


def medians(root):
    out = {}
    for path in glob.glob(os.path.join(root, "**", "new", "estimates.json"), recursive=True):
        bench = os.path.join(os.path.dirname(path), "benchmark.json")
        try:
            with open(bench) as f:
                full_id = json.load(f)["full_id"]
            with open(path) as f:
                out[full_id] = json.load(f)["median"]["point_estimate"] / 1000.0
        except (OSError, ValueError, KeyError):
            continue  # an interrupted run (e.g. --profile-time) leaves partial files
    return out


def main():
    crit = medians(sys.argv[1])
    jax = {}
    if len(sys.argv) > 2 and os.path.exists(sys.argv[2]):
        with open(sys.argv[2]) as f:
            for r in json.load(f)["rows"]:
                jax[(r["objective"], r["d"])] = r["jax_us"]
    load = sys.argv[3] if len(sys.argv) > 3 else None
    rows = []
    for d, k, n in SHAPES:
        g_rev = crit.get(f"scale/gemm/{n}x{d}x{d}")
        g_fwd = crit.get(f"scale/gemm/{d}x{d}x{d}")
        rows.append({
            "objective": "reverse-kl", "d": d, "k": k, "n": n,
            "ours_us": crit.get(f"scale/reverse-kl/d{d}/k{k}/n{n}"),
            "per_point_us": crit.get(f"scale/reverse-kl-per-point/d{d}/k{k}/n{n}"),
            "resample_us": crit.get(f"scale/resample/d{d}/n{n}"),
            "jax_us": jax.get(("reverse-kl", d)),
            "roofline_us": None if g_rev is None else (k + 2) * g_rev,
            "gemm_us": g_rev, "gemm_count": k + 2, "load": load,
        })
        rows.append({
            "objective": "forward-kl-exact", "d": d, "k": None, "n": None,
            "ours_us": crit.get(f"scale/forward-kl-exact/d{d}"),
            "jax_us": jax.get(("forward-kl-exact", d)),
            "roofline_us": None if g_fwd is None else 11.0 / 3.0 * g_fwd,
            "gemm_us": g_fwd, "gemm_count": 11.0 / 3.0, "load": load,
        })
    json.dump(rows, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
