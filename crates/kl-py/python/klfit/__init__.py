"""Fit a Gaussian q to a target p by forward or reverse KL (or Rényi α), numpy in and numpy out.

>>> import numpy as np, klfit
>>> p = klfit.Banana(scale=1.0, curvature=0.8)
>>> fit = klfit.fit(p, objective="reverse-kl", n_iters=2000, seed=1)
>>> fit.mean.shape, fit.cov.shape
((2,), (2, 2))

The numerics are the workspace's Rust crates (``kl-fit``, ``kl-dist``, the experiment engine);
this package converts arrays at the edge and releases the GIL while Rust works.
"""

from ._klfit import (
    Banana,
    Experiment,
    Fit,
    FitError,
    Funnel,
    LogDensity,
    LogisticRegression,
    Mixture,
    Mvn,
    Ring,
    StudentT,
    Target,
    fit,
    run_experiment,
)

__all__ = [
    "Banana",
    "Experiment",
    "Fit",
    "FitError",
    "Funnel",
    "LogDensity",
    "LogisticRegression",
    "Mixture",
    "Mvn",
    "Ring",
    "StudentT",
    "Target",
    "fit",
    "run_experiment",
]
