"""Pathfinder, GSM and BaM side by side with their JAX peers on this machine (BENCHMARKS.md,
issue 21), on the breast-cancer logistic posterior (experiments/logistic-reverse.toml, d = 31),
from N(0, I), at the same settings:

- Pathfinder: BlackJAX's `blackjax.vi.pathfinder.approximate` at its defaults (maxiter 30,
  maxcor 10, 200 ELBO draws per iterate, one path); ours with history 10, 30 L-BFGS
  iterations, 200 ELBO draws, one path (and 200 pooled/resampled draws, which BlackJAX's
  `approximate` does not make).
- GSM (Modi et al. 2023): B = 2, 2000 iterations; the JAX version is reference/gsm_logistic.py's
  (the authors' closed form, a rejected step keeps q), jitted as one lax.scan.
- BaM (Cai et al. 2024): B = 10, 2000 iterations, lambda_t = B d / (t + 1); the JAX version is
  written here from the paper's Algorithm 1 (statistics divided by B as in the authors'
  gsmvi/bam.py): U = lambda Gamma + lambda/(1+lambda) gbar gbar^T,
  V = Sigma + lambda C + lambda/(1+lambda) (mu - xbar)(mu - xbar)^T, Sigma' solves
  Sigma' U Sigma' + Sigma' = V by V = L L^T, L^T U L = Q diag(m) Q^T (jnp.linalg.eigh),
  Sigma' = L Q diag(2 / (1 + sqrt(1 + 4 m))) Q^T L^T; mu' = mu/(1+lambda) + lambda/(1+lambda)
  (Sigma' gbar + xbar).

Times: JAX's are the median of REPEATS calls of the jitted function after a first call that
compiles it (its time reported as "compile + first run"), block_until_ready; ours are the
median of REPEATS runs in one process (examples/vi_race.rs, through the fit builder, after one
warm-up run). Accuracy of each final q, the same scorer for both sides: its ELBO by the exact
quadrature of reference/vi.py and the gap below the best full-rank Gaussian's
(reference/best_gaussian.json), and the largest |mu_i - m_i| / sd_i over the 31 coefficients,
m and sd the NUTS posterior's (reference/logistic_nuts.json).

Run (after `cargo build --release --example vi_race`; a minute):

    python3 -m venv /work/venv-ref && /work/venv-ref/bin/pip install numpy scipy jax blackjax
    /work/venv-ref/bin/python benches/jax/vi_race.py target/release/examples/vi_race

Ran with Python 3.11, jax 0.10.2, blackjax 1.7.1 (printed by the run).
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "reference"))
import targets  # noqa: E402  (sets jax_enable_x64)
import vi  # noqa: E402
import gsm_logistic  # noqa: E402

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import blackjax  # noqa: E402

REPEATS = 20
SEED = 0
BAM_BATCH = 10
BAM_ITERS = 2000


def bam_step(mu, S, xs, gs, lam):
    b = xs.shape[0]
    xbar, gbar = xs.mean(axis=0), gs.mean(axis=0)
    dx, dg = xs - xbar, gs - gbar
    C, G = dx.T @ dx / b, dg.T @ dg / b
    shrink = lam / (1.0 + lam)
    U = lam * G + shrink * jnp.outer(gbar, gbar)
    dm = mu - xbar
    V = S + lam * C + shrink * jnp.outer(dm, dm)
    V = 0.5 * (V + V.T)
    L = jnp.linalg.cholesky(V)
    M = L.T @ U @ L
    m, Q = jnp.linalg.eigh(0.5 * (M + M.T))
    f = 2.0 / (1.0 + jnp.sqrt(1.0 + 4.0 * jnp.maximum(m, 0.0)))
    LQ = L @ Q
    S_new = (LQ * f) @ LQ.T
    S_new = 0.5 * (S_new + S_new.T)
    mu_new = mu / (1.0 + lam) + shrink * (S_new @ gbar + xbar)
    return mu_new, S_new


def make_bam(lpb, d):
    score = jax.vmap(jax.grad(lambda b: lpb(b[None, :])[0]))

    def run(mu0, S0, key):
        def body(carry, tk):
            t, k = tk
            mu, S, C = carry
            lam = BAM_BATCH * d / (t + 1.0)
            xs = mu + jax.random.normal(k, (BAM_BATCH, d)) @ C.T
            nmu, nS = bam_step(mu, S, xs, score(xs), lam)
            nC = jnp.linalg.cholesky(nS)
            ok = jnp.all(jnp.isfinite(nC)) & jnp.all(jnp.isfinite(nmu))
            return (jnp.where(ok, nmu, mu), jnp.where(ok, nS, S), jnp.where(ok, nC, C)), None

        keys = jax.random.split(key, BAM_ITERS)
        ts = jnp.arange(BAM_ITERS, dtype=jnp.float64)
        (mu, S, _), _ = jax.lax.scan(body, (mu0, S0, jnp.linalg.cholesky(S0)), (ts, keys))
        return mu, S

    return jax.jit(run)


def timed(f, *args):
    t = time.perf_counter()
    out = jax.block_until_ready(f(*args))
    first = time.perf_counter() - t
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        out = jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - t)
    return out, first, float(np.median(times))


def main():
    ours_cmd = sys.argv[1:] or [os.path.join(ROOT, "target/release/examples/vi_race")]
    targets.check_against_rust()
    z, y, s = targets.load_logistic()
    d = z.shape[1]
    lpb = targets.logistic_log_prob_batch_fn(z, y, s)
    lp = targets.logistic_log_prob_fn(z, y, s)
    with open(os.path.join(ROOT, "reference/best_gaussian.json")) as f:
        best = json.load(f)["targets"]["logistic"]["full-rank"]["elbo_quadrature"]
    with open(os.path.join(ROOT, "reference/logistic_nuts.json")) as f:
        nuts = json.load(f)
    nmean, nsd = np.asarray(nuts["mean"]), np.asarray(nuts["sd"])
    quad = jax.jit(vi.elbo_quadrature_logistic("full-rank", z, y, s, h=0.02, t_max=10.0))

    def score(mean, cov):
        mean, cov = np.asarray(mean), np.asarray(cov)
        e = float(quad(vi.init_params("full-rank", mean, cov)))
        return best - e, float(np.max(np.abs(mean - nmean) / nsd))

    key = jax.random.PRNGKey(SEED)
    zero, eye = jnp.zeros(d), jnp.eye(d)
    jaxs = {}

    # BlackJAX Pathfinder at its defaults (its gradient evaluations are not counted here: a
    # host callback has no derivative rule; issue 21 counted 63).
    pf = jax.jit(lambda k: blackjax.vi.pathfinder.approximate(k, lp, zero, num_samples=200,
                                                                maxiter=30, maxcor=10))
    (state, info), first, med = timed(pf, key)
    alpha, beta, gamma = state.alpha, state.beta, state.gamma
    mu = state.position + alpha * state.grad_position + beta @ (gamma @ (beta.T @ state.grad_position))
    cov = jnp.diag(alpha) + beta @ gamma @ beta.T
    jaxs["pathfinder"] = dict(mean=mu, cov=cov, first=first, median=med, evals=None,
                              settings="maxiter 30, maxcor 10, 200 ELBO draws, 1 path")

    gsm_logistic.N_ITERS, gsm_logistic.BATCH = 2000, 2
    gsm = gsm_logistic.make_run(lpb, d)
    (mu, S, _), first, med = timed(gsm, zero, eye, key)
    jaxs["gsm"] = dict(mean=mu, cov=S, first=first, median=med, evals=4000,
                       settings="B = 2, 2000 iterations")

    bam = make_bam(lpb, d)
    (mu, S), first, med = timed(bam, zero, eye, key)
    jaxs["bam"] = dict(mean=mu, cov=S, first=first, median=med, evals=BAM_BATCH * BAM_ITERS,
                       settings="B = 10, 2000 iterations, λ = B d / (t + 1)")

    out = subprocess.run(ours_cmd + [str(REPEATS)], check=True, capture_output=True, text=True).stdout
    ours = {o["name"]: o for o in map(json.loads, out.splitlines())}

    print(f"versions: {targets.versions()}, blackjax {blackjax.__version__}, repeats {REPEATS}")
    print("| algorithm | settings | gradient evaluations (ours / JAX) | JAX compile + first run (s) "
          "| JAX run (ms) | ours (ms) | ours sooner by | ELBO gap, nats (ours / JAX) "
          "| max mean error, NUTS sd (ours / JAX) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, j in jaxs.items():
        o = ours[name]
        og, om = score(o["mean"], o["cov"])
        jg, jm = score(j["mean"], j["cov"])
        ev = "63 (issue 21)" if j["evals"] is None else j["evals"]
        print(f"| {name} | {j['settings']} | {o['n_grad_evals']} / {ev} | {j['first']:.2f} "
              f"| {1e3 * j['median']:.1f} | {1e3 * o['median_s']:.1f} "
              f"| {j['median'] / o['median_s']:.1f}× | {og:.3f} / {jg:.3f} | {om:.3f} / {jm:.3f} |")


if __name__ == "__main__":
    main()
