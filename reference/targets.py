"""JAX log densities of the project's targets, written to match the Rust `log_prob` of
crates/kl-dist/src/targets/*.rs and crates/kl-dist/src/mixture.rs exactly (same parameters as
experiments/zoo-*-reverse.toml and experiments/logistic-reverse.toml). Shared by the scripts of
reference/ and benches/numpyro/; not a script itself.

`check_against_rust()` compares these densities with values printed by the Rust crate (kl-dist
0.x, release build of 2026-12-03) at fixed points; the scripts call it before they run, so a
drift between the two definitions stops them.
"""
import csv
import math
import os

import numpy as np
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from scipy import integrate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data", "breast_cancer.csv")
LN_2PI = math.log(2.0 * math.pi)


# --- logistic regression (experiments/logistic-reverse.toml) -------------------------------
def load_logistic(path=DATA, label="benign", prior_scale=2.5):
    """Design matrix [1, standardized features] (population sd), labels, prior scale: as
    LogisticRegression::new with intercept = true, standardize = true; the features are every
    column but the label, in file order."""
    with open(path) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    li = header.index(label)
    a = np.array([[float(v) for v in r] for r in body])
    y = a[:, li]
    x = np.delete(a, li, axis=1)
    m = x.mean(axis=0)
    s = np.sqrt(((x - m) ** 2).mean(axis=0))  # population sd (divisor n)
    z = np.hstack([np.ones((len(y), 1)), (x - m) / s])
    return z, y, prior_scale


def logistic_log_prob_fn(z, y, s):
    """log p~(b) = sum_i [y_i eta_i - softplus(eta_i)] - |b|^2 / 2 s^2, eta = Z b (unnormalized,
    no prior constant), as LogisticRegression::log_prob."""
    Z = jnp.asarray(z)
    Y = jnp.asarray(y)

    def lp(b):
        eta = Z @ b
        return jnp.sum(Y * eta - jnp.logaddexp(0.0, eta)) - 0.5 * jnp.sum(b * b) / s**2

    return lp


def logistic_log_prob_batch_fn(z, y, s):
    """The same log p~ for a batch of coefficient vectors (n, d) -> (n,), with the softplus
    written as max(eta, 0) + log1p(exp(-|eta|)) (as the Rust code; faster than logaddexp)."""
    Z = jnp.asarray(z)
    Y = jnp.asarray(y)

    def lpb(b):
        eta = b @ Z.T
        sp = jnp.maximum(eta, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(eta)))
        return jnp.sum(Y * eta - sp, axis=-1) - 0.5 * jnp.sum(b * b, axis=-1) / s**2

    return lpb


def logistic_laplace(z, y, s):
    """MAP by Newton from 0 and the Laplace covariance (inverse negative Hessian)."""
    b = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(z @ b)))
        g = z.T @ (y - p) - b / s**2
        h = z.T @ (z * (p * (1 - p))[:, None]) + np.eye(len(b)) / s**2
        step = np.linalg.solve(h, g)
        b = b + step
        if np.abs(step).max() < 1e-13:
            break
    p = 1.0 / (1.0 + np.exp(-(z @ b)))
    h = z.T @ (z * (p * (1 - p))[:, None]) + np.eye(len(b)) / s**2
    return b, np.linalg.inv(h)


# --- the zoo ---------------------------------------------------------------------------------
def banana_log_prob(a=1.0, b=0.8):
    """Banana: -ln 2pi - ln a - x1^2/2a^2 - (x2 - b (x1^2 - a^2))^2 / 2 (normalized)."""
    def lp(x):
        u = x[0] / a
        r = x[1] - b * (x[0] ** 2 - a * a)
        return -LN_2PI - math.log(a) - 0.5 * (u * u + r * r)
    return lp


def funnel_log_prob(dim=2, sigma=1.5):
    """Neal's funnel: -(d/2) ln 2pi - ln s - x0^2/2s^2 - (d-1) x0/2 - e^{-x0} sum xi^2 / 2."""
    def lp(x):
        x0 = x[0]
        ss = jnp.sum(x[1:] ** 2)
        return (-0.5 * dim * LN_2PI - math.log(sigma) - 0.5 * (x0 / sigma) ** 2
                - 0.5 * (dim - 1) * x0 - 0.5 * jnp.exp(-x0) * ss)
    return lp


def student_t_log_prob(df=3.0, mean=(0.0, 0.0), scale=((1.0, 0.5), (0.5, 1.0))):
    """Multivariate t_nu(mu, Sigma), normalized."""
    mu = np.asarray(mean, float)
    S = np.asarray(scale, float)
    d = len(mu)
    C = np.linalg.cholesky(S)
    Cinv = jnp.asarray(np.linalg.inv(C))
    logdet = 2.0 * np.log(np.diag(C)).sum()
    norm = (math.lgamma(0.5 * (df + d)) - math.lgamma(0.5 * df)
            - 0.5 * d * math.log(df * math.pi) - 0.5 * logdet)

    def lp(x):
        r = Cinv @ (x - mu)
        q = jnp.sum(r * r)
        return norm - 0.5 * (df + d) * jnp.log1p(q / df)
    return lp


def ring_log_norm(radius=2.0, width=0.3):
    """ln Z of the 2-D ring exp(-(|x| - r)^2 / 2w^2): Z = 2 pi int_0^inf rho g(rho) d rho."""
    f = lambda rho: rho * math.exp(-0.5 * ((rho - radius) / width) ** 2)
    val, _ = integrate.quad(f, 0.0, radius + 60 * width, epsabs=0, epsrel=1e-13, limit=500,
                            points=[radius])
    return math.log(2.0 * math.pi * val)


def ring_log_prob(radius=2.0, width=0.3):
    log_z = ring_log_norm(radius, width)

    def lp(x):
        rho = jnp.sqrt(jnp.sum(x * x))
        return -log_z - 0.5 * ((rho - radius) / width) ** 2
    return lp


MIXTURE = dict(weights=[0.8, 0.2],
               means=[[0.5, -0.7], [-2.5, 2.5]],
               covs=[[[1.0, 1.0], [1.0, 2.0]], [[0.5, 0.1], [0.1, 0.5]]])


def mixture_log_prob(weights=MIXTURE["weights"], means=MIXTURE["means"], covs=MIXTURE["covs"]):
    """log sum_k w_k N(x; m_k, S_k), by log-sum-exp."""
    comps = []
    for w, m, S in zip(weights, means, covs):
        S = np.asarray(S, float)
        C = np.linalg.cholesky(S)
        comps.append((math.log(w), jnp.asarray(m, dtype=jnp.float64), jnp.asarray(np.linalg.inv(C)),
                      np.log(np.diag(C)).sum(), len(m)))

    def lp(x):
        terms = []
        for lw, m, Cinv, half_logdet, d in comps:
            r = Cinv @ (x - m)
            terms.append(lw - 0.5 * d * LN_2PI - half_logdet - 0.5 * jnp.sum(r * r))
        return jax.scipy.special.logsumexp(jnp.stack(terms))
    return lp


# --- Rust values at fixed points (printed by a throwaway program linked against the release
# build of kl-dist; see check_against_rust) ----------------------------------------------------
RUST_POINTS_2D = [[0.0, 0.0], [0.3, -0.7], [1.5, 2.0], [-2.2, 0.4], [0.01, 3.3]]
RUST_VALUES_2D = {
    "banana": [-2.15787706640934562e0, -1.88326906640934566e0, -3.46287706640934534e0,
               -7.82766906640934845e0, -1.02425990696093461e1],
    "funnel": [-2.24334217451750995e0, -2.59484263858453090e0, -3.93960249481436975e0,
               -2.94089881002779574e0, -7.63918574150395191e0],
    "student_t": [-1.69403603018345339e0, -2.44635427818795748e0, -3.92858072023869465e0,
                  -4.90561279854193000e0, -6.09959565994076236e0],
    "ring": [-2.44682121980705354e1, -1.07664941850396279e1, -3.63487886473719879e0,
             -2.55559047585298371e0, -1.16350977207290054e1],
    "mixture": [-2.90602042320461074e0, -2.10102061763948766e0, -4.00602054865407542e0,
                -7.67848246323212891e0, -9.08377073558350112e0],
}
# beta_t[i] = 0.1 t sin((i + 1)(t + 0.5)), t = 0..3
RUST_LOGISTIC = [-3.94400745738609771e2, -4.01468048050673758e2, -3.15368104307104261e2,
                 -4.63787281427840242e2]
RUST_LOGISTIC_AT_MAP = -2.79862852070289669e1


def zoo():
    """name -> (log_prob, dim), with the zoo experiments' parameters."""
    return {
        "banana": (banana_log_prob(1.0, 0.8), 2),
        "funnel": (funnel_log_prob(2, 1.5), 2),
        "student_t": (student_t_log_prob(3.0, (0.0, 0.0), ((1.0, 0.5), (0.5, 1.0))), 2),
        "ring": (ring_log_prob(2.0, 0.3), 2),
        "mixture": (mixture_log_prob(), 2),
    }


def check_against_rust(tol=1e-11):
    """Assert that every density here equals the Rust log_prob at the fixed points (relative
    tolerance `tol`); returns the largest relative difference."""
    worst = 0.0
    for name, (lp, _) in zoo().items():
        for x, want in zip(RUST_POINTS_2D, RUST_VALUES_2D[name]):
            got = float(lp(jnp.asarray(x)))
            rel = abs(got - want) / max(1.0, abs(want))
            worst = max(worst, rel)
            assert rel < tol, (name, x, got, want)
    z, y, s = load_logistic()
    lp = logistic_log_prob_fn(z, y, s)
    d = z.shape[1]
    for t, want in enumerate(RUST_LOGISTIC):
        b = np.array([0.1 * t * math.sin((i + 1) * (t + 0.5)) for i in range(d)])
        got = float(lp(jnp.asarray(b)))
        rel = abs(got - want) / max(1.0, abs(want))
        worst = max(worst, rel)
        assert rel < tol, ("logistic", t, got, want)
    lpb = logistic_log_prob_batch_fn(z, y, s)
    bs = np.array([[0.1 * t * math.sin((i + 1) * (t + 0.5)) for i in range(d)] for t in range(4)])
    got = np.asarray(lpb(jnp.asarray(bs)))
    rel = np.abs(got - np.array(RUST_LOGISTIC)) / np.maximum(1.0, np.abs(RUST_LOGISTIC))
    assert rel.max() < tol, ("logistic batch", got)
    worst = max(worst, float(rel.max()))
    bmap, _ = logistic_laplace(z, y, s)
    got = float(lp(jnp.asarray(bmap)))
    assert abs(got - RUST_LOGISTIC_AT_MAP) < 1e-9, (got, RUST_LOGISTIC_AT_MAP)
    return worst


def versions():
    import importlib.metadata as md
    import platform
    out = {"python": platform.python_version()}
    for pkg in ["numpy", "scipy", "jax", "jaxlib", "numpyro"]:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


if __name__ == "__main__":
    print("largest relative difference from Rust:", check_against_rust())
