"""NUTS reference for the breast-cancer logistic-regression posterior
(experiments/logistic-reverse.toml: label `benign`, the 30 other columns standardized by their
population sd, an intercept, prior N(0, 2.5^2) on all 31 coefficients).

Computes: NumPyro NUTS (default settings: target accept 0.8, max tree depth 10, diagonal mass
matrix adapted during warm-up), 4 chains x 2000 warm-up x 2000 draws, chain_method="sequential",
CPU, float64, PRNG seed SEED below. Writes reference/logistic_nuts.json: the posterior mean, sd,
full 31 x 31 covariance (row-major rows) of the 8000 pooled draws, the Monte Carlo standard error
of each mean (sd / sqrt(ESS)), split R-hat and bulk ESS per coefficient (numpyro's
`summary`), divergences, the versions and the seed. Asserts max R-hat < 1.01.

The model's log joint equals the Rust `LogisticRegression::log_prob` up to the constant of the
normal prior (checked below at the MAP); reference/targets.py checks the data handling and the
density against values printed by the Rust crate.

Run (about 2-4 minutes on 2 cores):

    python3 -m venv /work/venv-ref && /work/venv-ref/bin/pip install numpy scipy jax numpyro
    /work/venv-ref/bin/python reference/logistic_nuts.py

Ran with: Python 3.11, numpy 2.4.6, scipy 1.17.1, jax/jaxlib 0.10.2, numpyro 0.22.0 (the JSON
records the versions of the run that wrote it).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402  (sets jax_enable_x64)

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.diagnostics import summary  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402
from numpyro.infer.util import log_density  # noqa: E402

SEED = 20261203
NUM_CHAINS, NUM_WARMUP, NUM_SAMPLES = 4, 2000, 2000
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logistic_nuts.json")


def model(Z, y, s):
    beta = numpyro.sample("beta", dist.Normal(0.0, s).expand([Z.shape[1]]).to_event(1))
    numpyro.sample("y", dist.Bernoulli(logits=Z @ beta), obs=y)


def main():
    targets.check_against_rust()
    z, y, s = targets.load_logistic()
    Z, Y = jnp.asarray(z), jnp.asarray(y)
    d = z.shape[1]
    lp = targets.logistic_log_prob_fn(z, y, s)
    # The model's log joint - the Rust log p~ is the prior's constant -d (ln s + ln 2pi / 2).
    bmap, lap_cov = targets.logistic_laplace(z, y, s)
    const = -d * (np.log(s) + 0.5 * np.log(2 * np.pi))
    for b in [bmap, np.zeros(d), 0.1 * np.ones(d)]:
        ld, _ = log_density(model, (Z, Y, s), {}, {"beta": jnp.asarray(b)})
        assert abs(float(ld) - float(lp(jnp.asarray(b))) - const) < 1e-9

    mcmc = MCMC(NUTS(model), num_warmup=NUM_WARMUP, num_samples=NUM_SAMPLES,
                num_chains=NUM_CHAINS, chain_method="sequential", progress_bar=False)
    t0 = time.time()
    mcmc.run(jax.random.PRNGKey(SEED), Z, Y, s, extra_fields=("diverging", "num_steps"))
    wall = time.time() - t0
    draws = np.asarray(mcmc.get_samples(group_by_chain=True)["beta"])  # (chains, draws, d)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    n_div = int(np.asarray(extra["diverging"]).sum())
    steps = np.asarray(extra["num_steps"])
    summ = summary({"beta": draws}, prob=0.9, group_by_chain=True)["beta"]
    r_hat = np.asarray(summ["r_hat"])
    ess = np.asarray(summ["n_eff"])
    pooled = draws.reshape(-1, d)
    mean = pooled.mean(axis=0)
    cov = np.cov(pooled, rowvar=False)
    sd = np.sqrt(np.diag(cov))
    lap_sd = np.sqrt(np.diag(lap_cov))
    out = {
        "what": "NumPyro NUTS on the breast-cancer logistic posterior (experiments/logistic-reverse.toml)",
        "target": {"data": "data/breast_cancer.csv", "label": "benign", "intercept": True,
                   "standardize": "population sd", "prior_scale": s, "dim": d,
                   "n_rows": int(len(y)), "coefficient_order": "intercept, then the feature columns in file order"},
        "sampler": {"kind": "NUTS", "target_accept_prob": 0.8, "max_tree_depth": 10,
                    "dense_mass": False, "num_chains": NUM_CHAINS, "num_warmup": NUM_WARMUP,
                    "num_samples": NUM_SAMPLES, "chain_method": "sequential"},
        "seed": SEED,
        "versions": targets.versions(),
        "wall_seconds": wall,
        "mean": mean.tolist(),
        "sd": sd.tolist(),
        "covariance": cov.tolist(),
        "mean_mcse": (sd / np.sqrt(ess)).tolist(),
        "r_hat": r_hat.tolist(),
        "ess_bulk": ess.tolist(),
        "summary": {"max_r_hat": float(r_hat.max()), "min_ess": float(ess.min()),
                    "median_ess": float(np.median(ess)), "divergences": n_div,
                    "mean_leapfrog_steps": float(steps.mean()),
                    "max_abs_mean_minus_map_in_sd": float(np.max(np.abs(mean - bmap) / sd)),
                    "sd_over_laplace_sd_range": [float((sd / lap_sd).min()), float((sd / lap_sd).max())]},
        "laplace": {"map": bmap.tolist(), "sd": lap_sd.tolist()},
    }
    assert r_hat.max() < 1.01, r_hat.max()
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out["summary"], indent=1), f"wall {wall:.1f} s")
    print("mean", np.round(mean, 3).tolist())
    print("sd  ", np.round(sd, 3).tolist())


if __name__ == "__main__":
    main()
