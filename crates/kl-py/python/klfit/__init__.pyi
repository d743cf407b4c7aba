"""Type stubs of klfit: fit a Gaussian q to a target p by forward or reverse KL (or Rényi α)."""

from collections.abc import Callable, Mapping
from os import PathLike
from typing import Any, Literal, Union, overload

import numpy as np
import numpy.typing as npt

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

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: A float64 ndarray (int or float32 arrays are refused with a ValueError, no silent casts;
#: strided views such as a column a[:, j] are read in C order), or nested lists of numbers.
ArrayLike = Union[FloatArray, "list[Any]", "tuple[Any, ...]"]

Objective = Literal[
    "reverse-kl", "forward-kl-samples", "forward-kl-is", "forward-kl-exact",
    "reverse-kl-exact", "renyi", "pathfinder", "gsm", "bam",
]
FamilyName = Literal["full-rank", "mean-field"]
OptimizerName = Literal["adam", "sgd"]
EstimatorName = Literal["stl", "total"]
InitSpec = Union[
    None, Literal["standard", "random", "laplace", "pathfinder"], "Mvn", Mapping[str, ArrayLike]
]

class FitError(RuntimeError):
    """A fit that failed: it diverged, blew up, turned non-finite, or found no step size."""

class Target:
    """A target distribution p (build a subclass; the base class has no constructor)."""

    @property
    def dim(self) -> int:
        """The dimension d."""
    @property
    def name(self) -> str:
        """"mvn", "mixture", "banana", "funnel", "student-t", "ring", "logistic-regression"
        or "callable"."""
    @property
    def mean(self) -> FloatArray | None:
        """The exact mean (d,), where it is known and exists."""
    @property
    def cov(self) -> FloatArray | None:
        """The exact covariance (d, d), where it is known and finite."""
    @overload
    def log_prob(self, x: FloatArray) -> FloatArray | float:
        """log p at the rows of an (n, d) array (shape (n,)), or at one (d,) point (a float)."""
    @overload
    def log_prob(self, x: ArrayLike) -> FloatArray | float: ...
    def grad_log_prob(self, x: ArrayLike) -> tuple[Any, FloatArray]:
        """(log_p, grad) at the rows of x: shapes (n,) and (n, d); a float and (d,) for one
        point."""
    def sample(self, n: int, seed: int = 0) -> FloatArray:
        """n exact draws of p, shape (n, d), seeded (ValueError without an exact sampler: the
        logistic regression posterior, a LogDensity)."""

class Mvn(Target):
    """The normal N(mean, cov): mean (d,), cov (d, d) symmetric positive definite."""
    def __init__(self, mean: ArrayLike, cov: ArrayLike) -> None: ...

class Mixture(Target):
    """Σₖ weights[k] N(means[k], covs[k]): weights (k,) summing to 1, means (k, d),
    covs (k, d, d)."""
    def __init__(self, weights: ArrayLike, means: ArrayLike, covs: ArrayLike) -> None: ...

class Banana(Target):
    """N(x₁; 0, scale²) · N(x₂; curvature (x₁² − scale²), 1) in 2-D (normalized)."""
    def __init__(self, scale: float = 1.0, curvature: float = 0.8) -> None: ...

class Funnel(Target):
    """Neal's funnel: x₀ ~ N(0, scale²), xᵢ ~ N(0, e^{x₀}), i = 1..dim−1."""
    def __init__(self, dim: int = 2, scale: float = 1.5) -> None: ...

class StudentT(Target):
    """The multivariate t with df degrees of freedom, location mean (d,), shape scale (d, d)."""
    def __init__(self, df: float, mean: ArrayLike, scale: ArrayLike) -> None: ...

class Ring(Target):
    """∝ exp(−(‖x‖ − radius)² / 2 width²) in dim dimensions."""
    def __init__(self, dim: int = 2, radius: float = 2.0, width: float = 0.3) -> None: ...

class LogisticRegression(Target):
    """The posterior of Bayesian logistic regression: features X (n, k), labels y (n,) of 0/1,
    prior N(0, prior_scale²) on every coefficient (unnormalized, no sampler)."""
    def __init__(
        self,
        X: ArrayLike,
        y: ArrayLike,
        prior_scale: float = 2.5,
        intercept: bool = True,
        standardize: bool = True,
    ) -> None: ...

class LogDensity(Target):
    """Your own log density, vectorized: f(X) -> (log_p, grad) with X (n, d), log_p (n,),
    grad (n, d) (numpy arrays, or anything np.asarray takes, e.g. jax arrays). Called once
    per batch of draws (n = 1 for a single point); log p may be unnormalized. An exception in
    f, a NaN in log_p, a non-finite grad or a wrong shape stops the fit and is raised."""
    def __init__(
        self, f: Callable[[FloatArray], tuple[npt.ArrayLike, npt.ArrayLike]], dim: int
    ) -> None: ...

class Fit:
    """A finished fit: q, why it stopped, whether it can be trusted, the recorded states."""

    @property
    def dim(self) -> int: ...
    @property
    def mean(self) -> FloatArray:
        """q's mean (d,): for a Monte Carlo objective the average of the final window."""
    @property
    def cov(self) -> FloatArray:
        """q's covariance (d, d)."""
    @property
    def last_mean(self) -> FloatArray:
        """The last iterate's mean."""
    @property
    def last_cov(self) -> FloatArray:
        """The last iterate's covariance."""
    @property
    def iterations(self) -> IntArray:
        """The iteration of each recorded state (k,)."""
    @property
    def loss(self) -> FloatArray:
        """The objective at each recorded state (k,)."""
    @property
    def grad_norm(self) -> FloatArray:
        """The gradient's norm at each recorded state (k,)."""
    @property
    def n_grad_evals(self) -> IntArray:
        """Gradient evaluations of the target so far, at each recorded state (k,)."""
    @property
    def total_grad_evals(self) -> int:
        """Gradient evaluations in all (step-size search and diagnostics included)."""
    @property
    def kl_forward(self) -> FloatArray | None:
        """Exact D(p‖q) at each recorded state, where the target has it (else None)."""
    @property
    def kl_reverse(self) -> FloatArray | None:
        """Exact D(q‖p) at each recorded state, where the target has it (else None)."""
    @property
    def means(self) -> FloatArray:
        """q's mean at each recorded state (k, d)."""
    @property
    def covs(self) -> FloatArray:
        """q's covariance at each recorded state (k, d, d)."""
    @property
    def termination(self) -> Literal["converged", "max-iters", "interrupted"]:
        """Why the fit stopped."""
    @property
    def n_iters(self) -> int:
        """Iterations made (where it stopped)."""
    @property
    def learning_rate(self) -> float:
        """The step size used (the chosen one for learning_rate="auto")."""
    @property
    def objective(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def k_hat(self) -> float | None:
        """Pareto k̂ of the weights p/q: < 0.5 good, 0.5–0.7 usable, > 0.7 unreliable."""
    @property
    def ess(self) -> float | None:
        """The effective sample size of those weights."""
    @property
    def iw_elbo(self) -> float | None:
        """The importance-weighted ELBO (a lower bound on log Z)."""
    @property
    def verdict(self) -> Literal["good", "usable", "unreliable"] | None: ...
    def sample(self, n: int, seed: int = 0) -> FloatArray:
        """n draws of q, shape (n, d)."""
    def figure(self, kind: Literal["fit", "loss"] = "fit") -> bytes:
        """PNG bytes: "fit" (2-D: q's contours over p's, with q's path) or "loss".
        Show with IPython.display.Image(fit.figure())."""

class Experiment:
    """An experiment file run by the engine, exactly as the command line's `fit` runs it."""

    @property
    def name(self) -> str: ...
    @property
    def trace(self) -> dict[str, Any]:
        """json.loads(trace_json)."""
    @property
    def trace_json(self) -> bytes:
        """The bytes the command line writes to trace.json."""
    @property
    def figures(self) -> dict[str, bytes]:
        """{file name: PNG/GIF bytes}, the command line's figures."""

def fit(
    target: Target | FloatArray,
    objective: Objective = "reverse-kl",
    family: FamilyName = "full-rank",
    optimizer: OptimizerName = "adam",
    learning_rate: float | Literal["auto"] = "auto",
    n_iters: int = 1000,
    n_samples: int = 100,
    tol_rel_obj: float | None = None,
    eval_every: int = 100,
    init: InitSpec = None,
    diagnostics: int = 4000,
    seed: int = 0,
    estimator: EstimatorName = "stl",
    alpha: float | None = None,
    exact_kl: bool = True,
    history: int | None = None,
    n_paths: int | None = None,
) -> Fit:
    """Fit a Gaussian q to target.

    target: a Target, or an (n, d) array of samples with objective="forward-kl-samples".
    objective: "reverse-kl" (reparameterized draws of q; estimator "stl" or "total"),
      "forward-kl-samples" (maximum likelihood on n_samples exact draws of p, or on the given
      samples), "forward-kl-is" (self-normalized importance sampling from q),
      "forward-kl-exact" / "reverse-kl-exact" (closed form, an Mvn target), "renyi" (alpha);
      the score-based algorithms (full rank, no optimizer): "pathfinder" (n_iters L-BFGS
      iterations per path; history J and n_paths, Stan's defaults 5 and 4), "gsm" (n_samples
      draws per iteration) and "bam" (n_samples draws; learning_rate is λ: a number for a
      constant λ, "auto" for λₜ = B d / (t + 1)).
    family: "full-rank" or "mean-field". optimizer: "adam" or "sgd".
    learning_rate: a positive float, or "auto" (a short search, then a decay).
    n_iters: the maximum number of iterations; n_samples: draws per step.
    tol_rel_obj, eval_every: Stan's relative-tolerance stopping rule (off when None).
    init: None (N(0, I)), "random", "laplace" (logistic regression), "pathfinder" (Pathfinder's
      Gaussian, its evaluations counted), an Mvn, or a dict with "mean" and one of "raw" (a
      square factor L, Σ = L Lᵀ), "sd" (mean field) or "cov".
    diagnostics: draws of q for Pareto k̂, ESS and IW-ELBO (0: off). seed: every draw.
    exact_kl: compute the exact KL at every recorded state (kl_forward, kl_reverse) for the
      targets that have it (closed form, quadrature or seeded Monte Carlo); off for speed.

    Raises ValueError for bad input, FitError when the fit fails, KeyboardInterrupt on Ctrl-C,
    and the exception of a LogDensity's callable. The GIL is released during the fit.
    """

def run_experiment(path: str | PathLike[str], figures: bool = True) -> Experiment:
    """Run an experiment file (TOML) as `forward-backward-kl fit FILE` does: the same
    trace.json bytes and figures (not drawn when figures is False). Raises ValueError for an invalid file, FileNotFoundError,
    FitError, KeyboardInterrupt."""
