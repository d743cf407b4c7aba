"""End-to-end race on the breast-cancer logistic posterior (experiments/logistic-reverse.toml,
d = 31) for BENCHMARKS.md: how much wall time and how many gradient evaluations a full-rank
Gaussian VI fit needs to come within 0.03 nats of the best Gaussian ELBO
(reference/best_gaussian.json, logistic / full-rank / elbo_quadrature).

NumPyro side: SVI with AutoMultivariateNormal (its defaults: init_to_uniform, init_scale 0.1),
Trace_ELBO with 1 or 8 particles, ClippedAdam (NumPyro's Adam with gradient clipping, clip_norm
10) whose step size decays exponentially, lr_t = lr0 * 0.1^(t / decay_steps) (the
jax.example_libraries `exponential_decay` schedule NumPyro's optimizers accept), CPU, float64.
A small grid (particles x lr0 x decay_steps, see GRID) is run, each configuration until it is
within 0.03 nats or MAX_STEPS steps (10^5 with 1 particle, 12 500 with 8: 10^5 gradient
evaluations). The SVI steps run in jitted chunks of
CHECK_EVERY steps; after each chunk (outside the timing) the guide's q = N(loc, scale_tril
scale_tril^T) is scored: first by the exact quadrature ELBO of reference/vi.py (cheap), and
whenever that is within 0.045 nats, by the Monte Carlo ELBO mean(log p~ - log q) over 10^5
FIXED draws (seed EVAL_SEED), the same draws for every configuration and for our side. The gap
is the best q's ELBO minus the current q's, both on those fixed draws (common random numbers:
the best q scores -0.3483 on them, 0.0055 above its exact -0.3538, and that error cancels). A
configuration has "reached" at the first checkpoint whose fixed-draw gap is <= 0.03 nats. Gradient evaluations = steps x particles. Times: "run" = the SVI chunks only
(compiled, block_until_ready); "with start-up" = run + the configuration's svi.init and the
compilation of its chunk + the process's JAX/NumPyro import time (measured once, at the top).
The grid's first configuration also pays one-off XLA costs, the others do not, so the fastest
configuration is finally re-run alone in a fresh process (`--single IDX`): its "end to end" time
is that process's wall clock (Python start, imports, data, svi.init, compilation, the steps)
minus the scorer's set-up and the scoring, which the process measures and reports.

Our side (`--ours CMD...`): runs CMD (our release CLI), e.g.

    /work/venv-ref/bin/python benches/numpyro/advi_race.py --skip-numpyro --ours \\
        target/release/forward-backward-kl fit experiments/logistic-reverse.toml --out /tmp/race

times the whole process (wall clock, start-up included: there is no compilation), reads
<out>/<name>/trace.json (the folder from the command's `--out`, appended as a temporary folder if
absent) and scores, with the same 10^5 fixed draws, the q of its last iteration (`mean` and the
`covariance` rows) and of its averaged `answer` when present; it also scans the recorded
iterations for the first one within 0.03 nats (by quadrature, confirmed by the fixed draws) and
reports its `n_grad_evals`.

Run (NumPyro part, a few minutes on 2 cores; output kept in advi_race_numpyro.txt):

    python3 -m venv /work/venv-ref && /work/venv-ref/bin/pip install numpy scipy jax numpyro
    /work/venv-ref/bin/python benches/numpyro/advi_race.py > benches/numpyro/advi_race_numpyro.txt

Seeds: SVI_SEED (+ the configuration's index), EVAL_SEED for the fixed draws. Ran with Python
3.11, numpy 2.4.6, scipy 1.17.1, jax/jaxlib 0.10.2, numpyro 0.22.0 (printed by the run).
"""
import time

T_PROCESS = time.time()

import argparse  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "reference"))

import numpy as np  # noqa: E402
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from jax.example_libraries.optimizers import exponential_decay  # noqa: E402
from numpyro.infer import SVI, Trace_ELBO  # noqa: E402
from numpyro.infer.autoguide import AutoMultivariateNormal  # noqa: E402

numpyro.enable_x64()
T_IMPORT = time.time() - T_PROCESS

import targets  # noqa: E402
import vi  # noqa: E402

T_PROCESS_STOP = [float("nan")]  # when --single reached the tolerance
SVI_SEED = 7
EVAL_SEED = 20261204
N_FIXED = 100_000
TOL = 0.03
CHECK_EVERY = 100
MAX_STEPS = {1: 100_000, 8: 12_500}  # per particle count
# (particles, lr0, decay_steps): lr_t = lr0 * 0.1^(t / decay_steps)
GRID = [(p, lr, ds) for p in (1, 8) for lr in (1e-2, 3e-2, 1e-1) for ds in (2000, 5000, 20000)]


def model(Z, y, s):
    beta = numpyro.sample("beta", dist.Normal(0.0, s).expand([Z.shape[1]]).to_event(1))
    numpyro.sample("y", dist.Bernoulli(logits=Z @ beta), obs=y)


class Scorer:
    """ELBO of a full-rank q = N(mean, L L^T): exact (quadrature) and on the fixed draws."""

    def __init__(self):
        z, y, s = targets.load_logistic()
        self.z, self.y, self.s = z, y, s
        self.d = z.shape[1]
        self.lpb = targets.logistic_log_prob_batch_fn(z, y, s)
        self.eps = jax.random.normal(jax.random.PRNGKey(EVAL_SEED), (N_FIXED, self.d))
        self.quad = jax.jit(vi.elbo_quadrature_logistic("full-rank", z, y, s, h=0.02, t_max=10.0))
        with open(os.path.join(ROOT, "reference", "best_gaussian.json")) as f:
            best = json.load(f)["targets"]["logistic"]["full-rank"]
        self.best = best["elbo_quadrature"]
        self.best_params = vi.init_params("full-rank", best["mean"], best["covariance"])
        self.best_fixed = self.fixed(self.best_params)

    def params(self, mean, scale_tril):
        return {"mu": jnp.asarray(mean, dtype=jnp.float64), "L": jnp.asarray(scale_tril, dtype=jnp.float64)}

    def fixed(self, params):
        return vi.elbo_fixed("full-rank", self.lpb, params, self.eps)[0]

    def gap_fixed(self, params):
        """The best q's ELBO minus this q's, both on the same fixed draws (common random
        numbers: the draws' own error of ~0.004 nats largely cancels)."""
        return self.best_fixed - self.fixed(params)

    def exact(self, params):
        return float(self.quad(params))


def race_numpyro(sc, particles, lr0, decay_steps, seed, log):
    """One configuration. `sc` is a Scorer, or a function making one: then it is made after the
    SVI is set up and compiled (a fresh process's XLA start-up is charged to NumPyro, not to the
    scorer), and its set-up time is returned as scorer_setup_s."""
    z, y, s = targets.load_logistic()
    Z, Y = jnp.asarray(z), jnp.asarray(y)
    t0 = time.time()
    guide = AutoMultivariateNormal(model)
    opt = numpyro.optim.ClippedAdam(step_size=exponential_decay(lr0, decay_steps, 0.1), clip_norm=10.0)
    svi = SVI(model, guide, opt, loss=Trace_ELBO(num_particles=particles))
    state = svi.init(jax.random.PRNGKey(seed), Z, Y, s)

    def chunk(st):
        return jax.lax.fori_loop(0, CHECK_EVERY, lambda i, s_: svi.update(s_, Z, Y, s)[0], st)
    chunk = jax.jit(chunk).lower(state).compile()
    t_setup = time.time() - t0
    t_sc = 0.0
    if callable(sc):
        t1 = time.time()
        sc = sc()
        t_sc = time.time() - t1
    run = 0.0
    steps = 0
    reached = None
    hist = []
    gap_fixed = None
    t_score = 0.0
    while steps < MAX_STEPS[particles]:
        t1 = time.time()
        state = chunk(state)
        jax.block_until_ready(state)
        run += time.time() - t1
        steps += CHECK_EVERY
        # --- scoring, not timed ---
        t2 = time.time()
        post = guide.get_posterior(svi.get_params(state))
        p = sc.params(post.loc, post.scale_tril)
        gap_exact = sc.best - sc.exact(p)
        gap_fixed = None
        if gap_exact < TOL + 0.015:
            gap_fixed = sc.gap_fixed(p)
        t_score += time.time() - t2
        hist.append((steps, gap_exact, gap_fixed, run))
        if gap_fixed is not None and gap_fixed <= TOL:
            reached = steps
            T_PROCESS_STOP[0] = time.time()
            break
        if not np.isfinite(gap_exact):
            break
    last = hist[-1]
    return {"particles": particles, "lr0": lr0, "decay_steps": decay_steps, "seed": seed,
            "reached": reached is not None, "steps": last[0], "grad_evals": last[0] * particles,
            "run_s": run, "setup_s": t_setup, "with_startup_s": run + t_setup + T_IMPORT,
            "gap_exact": last[1], "gap_fixed": last[2], "scoring_s": t_score,
            "scorer_setup_s": t_sc,
            "trajectory": [{"steps": h[0], "gap_exact": h[1], "gap_fixed": h[2], "run_s": h[3]}
                           for h in hist[:: max(1, len(hist) // 40)] + [hist[-1]]]}


def race_ours(sc, cmd, log):
    cmd = list(cmd)
    if "--out" in cmd:
        out = cmd[cmd.index("--out") + 1]
    else:
        out = tempfile.mkdtemp(prefix="advi_race_")
        cmd += ["--out", out]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"our command failed ({proc.returncode}): {shlex.join(cmd)}\n{proc.stderr}")
    traces = sorted(glob.glob(os.path.join(out, "*", "trace.json")), key=os.path.getmtime)
    if not traces:
        raise SystemExit(f"no */trace.json under {out}")
    with open(traces[-1]) as f:
        tr = json.load(f)

    def q_params(mean, cov):
        return sc.params(mean, np.linalg.cholesky(np.asarray(cov, float)))
    last = tr["iterations"][-1]
    p_last = q_params(last["mean"], last["covariance"])
    res = {"command": shlex.join(cmd), "trace": traces[-1], "wall_s": wall,
           "n_grad_evals_total": tr.get("n_grad_evals"), "last_iteration": last["iteration"],
           "last_n_grad_evals": last.get("n_grad_evals"),
           "gap_fixed_last": sc.gap_fixed(p_last), "gap_exact_last": sc.best - sc.exact(p_last)}
    if tr.get("answer"):
        p_ans = q_params(tr["answer"]["mean"], tr["answer"]["covariance"])
        res["gap_fixed_answer"] = sc.gap_fixed(p_ans)
        res["gap_exact_answer"] = sc.best - sc.exact(p_ans)
    first = None
    for it in tr["iterations"]:
        try:
            p = q_params(it["mean"], it["covariance"])
        except np.linalg.LinAlgError:
            continue
        if sc.best - sc.exact(p) < TOL + 0.015 and sc.gap_fixed(p) <= TOL:
            first = it
            break
    res["first_within_tol"] = None if first is None else {
        "iteration": first["iteration"], "n_grad_evals": first.get("n_grad_evals")}
    return res


def main():
    ap = argparse.ArgumentParser(description="NumPyro ADVI vs our CLI on the logistic posterior")
    ap.add_argument("--ours", nargs=argparse.REMAINDER, default=None,
                    help="our command, e.g. target/release/forward-backward-kl fit "
                         "experiments/logistic-reverse.toml --out DIR (must be last)")
    ap.add_argument("--skip-numpyro", action="store_true", help="only run our side")
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    ap.add_argument("--single", type=int, default=None,
                    help="run only GRID[IDX] and print its result as one JSON line (used for the "
                         "fresh-process end-to-end time)")
    args = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if args.single is not None:
        p, lr, ds = GRID[args.single]
        r = race_numpyro(Scorer, p, lr, ds, SVI_SEED + args.single, log)
        r["process_s_at_stop"] = T_PROCESS_STOP[0] - T_PROCESS
        print(json.dumps(r))
        return
    sc = Scorer()
    v = targets.versions()
    print(f"# ADVI race: breast-cancer logistic posterior, d = {sc.d}, full-rank Gaussian, "
          f"target: within {TOL} nats of the best ELBO")
    print(f"best ELBO (reference/best_gaussian.json, quadrature) {sc.best:.6f}; the best q on the "
          f"{N_FIXED} fixed draws: {sc.best_fixed:.6f}")
    print("versions: " + ", ".join(f"{k} {x}" for k, x in v.items()) +
          f"; JAX devices {jax.devices()}; JAX+NumPyro import {T_IMPORT:.2f} s; "
          f"load average at start {os.getloadavg()[0]:.2f} (2 shared cores)")
    print(f"checkpoints every {CHECK_EVERY} steps; cap {MAX_STEPS} steps (by particles); "
          f"SVI seed {SVI_SEED}+i, eval seed {EVAL_SEED}\n")
    results = {"numpyro": [], "ours": None, "best_elbo": sc.best, "versions": v, "tol": TOL}
    if not args.skip_numpyro:
        print("| # | particles | lr0 | decay (x0.1 per) | reached | steps | grad evals | run s | "
              "with start-up s | gap at stop (fixed draws) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for i, (p, lr, ds) in enumerate(GRID):
            r = race_numpyro(sc, p, lr, ds, SVI_SEED + i, log)
            results["numpyro"].append(r)
            gap = r["gap_fixed"] if r["gap_fixed"] is not None else r["gap_exact"]
            print(f"| {i} | {p} | {lr:g} | {ds} | {'yes' if r['reached'] else 'no'} | {r['steps']} | "
                  f"{r['grad_evals']} | {r['run_s']:.2f} | {r['with_startup_s']:.2f} | {gap:.4f} |",
                  flush=True)
        ok = [r for r in results["numpyro"] if r["reached"]]
        if ok:
            fast = min(ok, key=lambda r: r["run_s"])
            few = min(ok, key=lambda r: r["grad_evals"])
            print(f"\nfastest NumPyro configuration to {TOL} nats: particles {fast['particles']}, "
                  f"lr0 {fast['lr0']:g}, decay {fast['decay_steps']}: {fast['run_s']:.2f} s run, "
                  f"{fast['with_startup_s']:.2f} s with start-up, {fast['grad_evals']} gradient evaluations")
            print(f"fewest gradient evaluations: particles {few['particles']}, lr0 {few['lr0']:g}, "
                  f"decay {few['decay_steps']}: {few['grad_evals']} ({few['run_s']:.2f} s run)")
            idx = results["numpyro"].index(fast)
            t0 = time.time()
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--single", str(idx)],
                                  capture_output=True, text=True)
            wall = time.time() - t0
            if proc.returncode == 0:
                one = json.loads(proc.stdout.strip().splitlines()[-1])
                # Everything after the process reached 0.03 nats, and the scorer, is not the race.
                e2e = one["process_s_at_stop"] - one["scorer_setup_s"] - one["scoring_s"]
                results["fresh_process"] = dict(one, index=idx, subprocess_wall_s=wall, end_to_end_s=e2e)
                print(f"the same configuration (#{idx}) alone in a fresh process: reached "
                      f"{'yes' if one['reached'] else 'no'} after {one['steps']} steps "
                      f"({one['grad_evals']} gradient evaluations); end to end {e2e:.2f} s "
                      f"(Python start, imports, svi.init, compile {one['setup_s']:.2f} s, steps "
                      f"{one['run_s']:.2f} s; scorer set-up {one['scorer_setup_s']:.1f} s and scoring "
                      f"{one['scoring_s']:.1f} s excluded)")
            else:
                print(f"fresh-process re-run failed: {proc.stderr[-500:]}")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}; whole script {time.time() - T_PROCESS:.0f} s")
    if args.ours:
        r = race_ours(sc, args.ours, log)
        results["ours"] = r
        print("\n| ours | wall s (whole process) | grad evals (total) | gap last iter (fixed) | "
              "gap answer (fixed) | first iteration within tol (grad evals) |")
        print("|---|---|---|---|---|---|")
        fw = r["first_within_tol"]
        first = "never" if fw is None else "%s (%s)" % (fw["iteration"], fw["n_grad_evals"])
        print(f"| `{r['command']}` | {r['wall_s']:.3f} | {r['n_grad_evals_total']} | "
              f"{r['gap_fixed_last']:.4f} | {r.get('gap_fixed_answer', float('nan')):.4f} | "
              f"{first} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
