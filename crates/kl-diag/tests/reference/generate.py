"""Reference values for kl-diag's PSIS, ESS and IW-ELBO tests, generated once with ArviZ.

Run (from anywhere; a throwaway venv, nothing here is needed by the Rust tests):

    python3 -m venv /tmp/venv-diag
    /tmp/venv-diag/bin/pip install arviz numpy scipy
    /tmp/venv-diag/bin/python crates/kl-diag/tests/reference/generate.py

It writes psis.json next to this file. Every case stores its input log weights, ArviZ's
`arviz.psislw(log_weights, reff=1)` output (smoothed, normalized log weights and k-hat), and the
ESS `(sum w)^2 / sum w^2` and IW-ELBO `logsumexp(lw) - log S` of the raw weights computed directly
with numpy/scipy (not by ArviZ). JSON has no infinities, so non-finite numbers are written as the
strings "inf", "-inf" and "nan".

Draws come from numpy's PCG64 with fixed seeds, so the file is reproducible with the versions
recorded in its "meta" entry.
"""

import json
import math
import pathlib
import warnings

import arviz
import numpy as np
import scipy
from scipy import stats
from scipy.special import logsumexp

OUT = pathlib.Path(__file__).with_name("psis.json")


def enc(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def ess_direct(lw):
    lw = np.asarray(lw, dtype=float)
    return float(np.exp(2.0 * logsumexp(lw) - logsumexp(2.0 * lw)))


def iw_elbo_direct(lw):
    lw = np.asarray(lw, dtype=float)
    return float(logsumexp(lw) - np.log(lw.size))


def case(name, lw, note):
    lw = np.asarray(lw, dtype=float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        smoothed, khat = arviz.psislw(lw.copy(), reff=1.0)
    smoothed = np.asarray(smoothed, dtype=float)
    return {
        "name": name,
        "note": note,
        "n_samples": int(lw.size),
        "log_weights": [enc(v) for v in lw],
        "arviz_pareto_k": enc(np.asarray(khat)),
        "arviz_log_weights": [enc(v) for v in smoothed],
        "arviz_warnings": [str(w.message) for w in caught],
        "ess": enc(ess_direct(lw)),
        "ess_smoothed": enc(ess_direct(smoothed)),
        "iw_elbo": enc(iw_elbo_direct(lw)),
    }


def rng(seed):
    return np.random.Generator(np.random.PCG64(seed))


def main():
    cases = []

    # Light tails: normal log weights (log-normal weights).
    for s, sd, seed in [(1000, 0.5, 1), (1000, 1.0, 2), (4000, 1.0, 3)]:
        cases.append(case(f"normal_sd{sd}_S{s}", rng(seed).normal(0.0, sd, s),
                          f"log weights ~ N(0, {sd}^2)"))

    # Heavy tails: target Cauchy / Student-t(3), proposal N(0, 1), x ~ N(0, 1).
    for s, seed in [(1000, 4), (4000, 5)]:
        x = rng(seed).normal(size=s)
        cases.append(case(f"cauchy_over_normal_S{s}", stats.cauchy.logpdf(x) - stats.norm.logpdf(x),
                          "lw = log Cauchy(x) - log N(x; 0, 1), x ~ N(0, 1)"))
    x = rng(6).normal(size=1000)
    cases.append(case("t3_over_normal_S1000", stats.t.logpdf(x, 3) - stats.norm.logpdf(x),
                      "lw = log t_3(x) - log N(x; 0, 1), x ~ N(0, 1)"))
    # Proposal much narrower than the target: k-hat well above 0.7.
    x = rng(7).normal(scale=0.3, size=1000)
    cases.append(case("normal_over_narrow_normal_S1000",
                      stats.norm.logpdf(x) - stats.norm.logpdf(x, scale=0.3),
                      "lw = log N(x; 0, 1) - log N(x; 0, 0.3^2), x ~ N(0, 0.3^2)"))
    # Proposal wider than the target: bounded weights, negative raw k-hat.
    x = rng(8).normal(scale=2.0, size=1000)
    cases.append(case("normal_over_wide_normal_S1000",
                      stats.norm.logpdf(x) - stats.norm.logpdf(x, scale=2.0),
                      "lw = log N(x; 0, 1) - log N(x; 0, 2^2), x ~ N(0, 2^2): bounded weights"))

    # A few huge weights.
    lw = rng(9).normal(size=1000)
    lw[[17, 500, 999]] = [30.0, 25.0, 20.0]
    cases.append(case("three_huge_weights_S1000", lw, "N(0, 1) log weights, three set to 30, 25, 20"))

    # Ties: many equal weights (rounded to one decimal), equal values in the tail, all equal.
    cases.append(case("rounded_ties_S1000", np.round(rng(10).normal(size=1000), 1),
                      "N(0, 1) log weights rounded to 0.1: ties everywhere, also at the cutoff"))
    lw = rng(11).normal(size=1000)
    lw[:20] = 4.0
    cases.append(case("equal_tail_values_S1000", lw,
                      "N(0, 1) log weights, the first 20 set to 4.0 (inside the 95-draw tail)"))
    lw = rng(12).normal(size=500)
    lw[100:200] = 5.0
    cases.append(case("tail_all_tied_S500", lw,
                      "100 of 500 log weights equal the maximum 5.0: the tail is empty"))
    cases.append(case("all_equal_S100", np.full(100, -3.0), "all log weights equal"))

    # Tiny S: ArviZ's tail has ceil(S / 5) draws, so S <= 20 never has the 5 it needs.
    for s, seed in [(2, 13), (3, 14), (5, 15), (10, 16), (20, 17), (21, 18), (25, 19), (30, 20), (50, 21)]:
        cases.append(case(f"tiny_S{s}", rng(seed).normal(0.0, 2.0, s), "log weights ~ N(0, 2^2)"))

    # Zero weights (-inf log weights).
    lw = rng(22).normal(size=100)
    lw[::5] = -np.inf
    cases.append(case("some_zero_weights_S100", lw, "every fifth log weight is -inf"))
    lw = np.full(200, -np.inf)
    lw[:12] = rng(23).normal(size=12)
    cases.append(case("mostly_zero_weights_S200", lw,
                      "188 of 200 log weights are -inf: the cutoff is floored at log(tiny)"))
    # Weights spread over more than the f64 range: the cutoff floor log(tiny) matters.
    cases.append(case("spread_sd300_S500", rng(24).normal(0.0, 300.0, 500),
                      "log weights ~ N(0, 300^2): most weights underflow relative to the largest"))
    # Degenerate tail: every tail value is within 2e-20 of the cutoff, so exp(x) - exp(cutoff)
    # is exactly 0 for all of them and the GPD fit has no data. ArviZ 0.23 returns a finite k-hat
    # (5 / 30, the prior alone) with NaN log weights; kl-diag reports a failed fit instead
    # (k-hat = inf, weights only normalized). The Rust test checks that documented deviation.
    lw = np.full(100, -1.0)
    lw[79] = -2e-20
    lw[80:100] = -np.linspace(1e-20, 0.0, 20)
    cases.append(case("degenerate_tail_S100", lw,
                      "tail values equal the cutoff after exp: ArviZ returns k = 1/6 and NaN weights"))
    # Large offset: only differences matter.
    cases.append(case("offset_1e4_S1000", 1.0e4 + rng(25).normal(size=1000), "1e4 + N(0, 1)"))

    # Realistic: a Gaussian fit q to a 2-D two-component mixture target p, lw = log p - log q.
    for s, seed, scale in [(1000, 26, 1.0), (4000, 27, 1.0), (4000, 28, 0.6)]:
        r = rng(seed)
        z = r.normal(size=(s, 2)) * scale
        logq = stats.multivariate_normal(mean=[0.0, 0.0], cov=np.eye(2) * scale**2).logpdf(z)
        comp = [
            stats.multivariate_normal(mean=[-1.5, 0.0], cov=[[0.5, 0.2], [0.2, 0.5]]),
            stats.multivariate_normal(mean=[1.5, 0.5], cov=[[0.4, -0.1], [-0.1, 0.6]]),
        ]
        logp = logsumexp(np.stack([np.log(0.4) + comp[0].logpdf(z), np.log(0.6) + comp[1].logpdf(z)]), axis=0)
        cases.append(case(f"mixture2d_q_scale{scale}_S{s}", logp - logq,
                          f"lw = log p - log q, p a 2-D two-Gaussian mixture, q = N(0, {scale}^2 I)"))

    meta = {
        "arviz": arviz.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "function": "arviz.psislw(log_weights, reff=1.0) (normalize=True)",
    }
    # One case per line: diffable without a 50 000-line file.
    lines = ",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c in cases)
    OUT.write_text('{"meta":' + json.dumps(meta) + ',\n"cases":[\n' + lines + "\n]}\n")
    for c in cases:
        print(f'{c["name"]:40s} S={c["n_samples"]:5d} k={c["arviz_pareto_k"]!s:>22} '
              f'ess={c["ess"]!s:.8} warn={len(c["arviz_warnings"])}')


if __name__ == "__main__":
    main()
