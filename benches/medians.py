"""Collects the scale table's medians of one or more criterion runs into benches/medians.json
(standard library only).

    CARGO_TARGET_DIR=target-bench cargo bench --bench scale      # once per run; copy
    cp -r target-bench/criterion /tmp/crit_A                      # target-bench/criterion away
    python3 benches/medians.py --jax benches/jax/medians.json \\
        --run runA /tmp/crit_A "06:21-06:26 UTC, load 1.9" \\
        --run runB /tmp/crit_B "..." > benches/medians.json
    python3 benches/medians.py --table benches/medians.json      # BENCHMARKS.md's table

One row per (objective, d): {objective, d, k, n, ours_us, ours_run, jax_us, jax_script_us,
roofline_us, gemm_count, runs}. `runs` holds every run's medians: {ours_us, roofline_us, load,
per_point_us (reverse KL through `common::PerPoint`, d > 8), resample_us (the draws alone)}.
The top-level `ours_us` is the lowest median over the runs and `roofline_us` the roofline of that
same run (a ratio is only taken within one run). `jax_us` is the issue's JAX-jit column (one run
on this machine, quoted in issue 14); `jax_script_us` is the rerun of `benches/jax/steps.py`.

The roofline of a step is its flop count in GEMMs of faer, measured in the same run
(`scale/gemm/...`): reverse KL (n x d)(d x d) GEMMs: 1 push-forward + K x (two triangular
solves = 1) + 1 for sum g eps^T = K + 2; forward KL exact d x d x d GEMMs: L L^T (1/2) +
Cholesky (1/6) + W = S^-1 L (two solves, 1) + M W (1) + S^-1 (S W) (1) = 11/3.
"""

import glob
import json
import os
import sys

SHAPES = [(2, 2, 1000), (16, 8, 10_000), (32, 4, 1000), (64, 4, 1000), (128, 4, 1000), (256, 1, 1000)]

# Issue 14's JAX-jit medians (µs), the column the targets are stated against.
ISSUE_JAX = {
    ("reverse-kl", 2): 330, ("forward-kl-exact", 2): 27,
    ("reverse-kl", 16): 6100, ("forward-kl-exact", 16): 43,
    ("reverse-kl", 32): 2050, ("forward-kl-exact", 32): 74,
    ("reverse-kl", 64): 7900, ("forward-kl-exact", 64): 343,
    ("reverse-kl", 128): 19900, ("forward-kl-exact", 128): 1360,
    ("reverse-kl", 256): 46900, ("forward-kl-exact", 256): 11600,
}


def medians(root):
    """criterion's median (µs) of every benchmark under `root`, by full id."""
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


def r3(v):
    return None if v is None else round(v, 3)


def run_rows(crit, load):
    """{(objective, d): that run's medians} for one criterion directory."""
    rows = {}
    for d, k, n in SHAPES:
        g_rev = crit.get(f"scale/gemm/{n}x{d}x{d}")
        g_fwd = crit.get(f"scale/gemm/{d}x{d}x{d}")
        rev = {
            "ours_us": r3(crit.get(f"scale/reverse-kl/d{d}/k{k}/n{n}")),
            "roofline_us": r3(None if g_rev is None else (k + 2) * g_rev),
            "load": load,
        }
        if d > 8:
            rev["per_point_us"] = r3(crit.get(f"scale/reverse-kl-per-point/d{d}/k{k}/n{n}"))
        rev["resample_us"] = r3(crit.get(f"scale/resample/d{d}/n{n}"))
        rows[("reverse-kl", d)] = rev
        rows[("forward-kl-exact", d)] = {
            "ours_us": r3(crit.get(f"scale/forward-kl-exact/d{d}")),
            "roofline_us": r3(None if g_fwd is None else 11.0 / 3.0 * g_fwd),
            "load": load,
        }
    return rows


def fmt(v):
    if v is None:
        return "–"
    return f"{v:.4g}" if v < 1000 else f"{v:.0f}"


def table(path):
    """The markdown table of BENCHMARKS.md's scale section, from a medians.json."""
    with open(path) as f:
        rows = json.load(f)
    print("| objective | d | K | n | ours µs (run) | per-point µs | draws µs | JAX (issue) µs "
          "| JAX (script) µs | roofline µs | JAX (issue) / ours | JAX (script) / ours "
          "| ours / roofline |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        best = r["runs"].get(r["ours_run"], {}) if r["ours_run"] else {}
        ours, roof = r["ours_us"], r["roofline_us"]
        ratio = lambda a, b: "–" if a is None or b is None else f"{a / b:.2f}×"
        print(f"| {r['objective']} | {r['d']} | {r['k'] or '–'} | {r['n'] or '–'} "
              f"| **{fmt(ours)}** ({r['ours_run']}) | {fmt(best.get('per_point_us'))} "
              f"| {fmt(best.get('resample_us') if r['objective'] == 'reverse-kl' else None)} "
              f"| {fmt(r['jax_us'])} | {fmt(r['jax_script_us'])} | {fmt(roof)} "
              f"| {ratio(r['jax_us'], ours)} | {ratio(r['jax_script_us'], ours)} "
              f"| {ratio(ours, roof)} |")
    print()
    print("Per run (ours µs / ours ÷ that run's roofline):")
    print()
    names = sorted({n for r in rows for n in r["runs"]})
    print("| objective | d | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for r in rows:
        cells = []
        for n in names:
            v = r["runs"].get(n, {})
            o, rf = v.get("ours_us"), v.get("roofline_us")
            cells.append("–" if o is None else f"{fmt(o)} / {ratio(o, rf)}")
        print(f"| {r['objective']} | {r['d']} | " + " | ".join(cells) + " |")


def main(argv):
    if argv[:1] == ["--table"]:
        return table(argv[1])
    jax_path, runs = None, []
    i = 0
    while i < len(argv):
        if argv[i] == "--jax":
            jax_path, i = argv[i + 1], i + 2
        elif argv[i] == "--run":
            runs.append((argv[i + 1], argv[i + 2], argv[i + 3]))
            i += 4
        else:
            sys.exit(f"unknown argument {argv[i]!r} (see the docstring)")
    if not runs:
        sys.exit("at least one --run NAME DIR LOAD")
    script_jax = {}
    if jax_path and os.path.exists(jax_path):
        with open(jax_path) as f:
            for r in json.load(f)["rows"]:
                script_jax[(r["objective"], r["d"])] = r["jax_us"]
    per_run = {name: run_rows(medians(root), load) for name, root, load in runs}
    rows = []
    for d, k, n in SHAPES:
        for objective in ("reverse-kl", "forward-kl-exact"):
            key = (objective, d)
            have = {name: rr[key] for name, rr in per_run.items() if rr[key]["ours_us"] is not None}
            best = min(have, key=lambda name: have[name]["ours_us"]) if have else None
            sj = script_jax.get(key)
            rows.append({
                "objective": objective, "d": d,
                "k": k if objective == "reverse-kl" else None,
                "n": n if objective == "reverse-kl" else None,
                "ours_us": have[best]["ours_us"] if best else None,
                "ours_run": best,
                "jax_us": ISSUE_JAX.get(key),
                "jax_script_us": None if sj is None else round(sj, 1),
                "roofline_us": have[best]["roofline_us"] if best else None,
                "gemm_count": k + 2 if objective == "reverse-kl" else 11.0 / 3.0,
                "runs": {name: rr[key] for name, rr in per_run.items()},
            })
    json.dump(rows, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
