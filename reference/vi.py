"""Gaussian reverse-KL VI in JAX, shared by reference/best_gaussian.py, reference/gsm_logistic.py
and benches/numpyro/advi_race.py (not a script itself).

q = N(mu, Sigma) in two families:
  * "full-rank":  theta = (mu, L), Sigma = L L^T, L lower triangular (its diagonal of any sign;
                  log|det L| = sum log|L_ii|);
  * "mean-field": theta = (mu, omega), Sigma = diag(exp(2 omega)).
The ELBO is E_q[log p~(x) - log q(x)]; its STL gradient (Roeder et al. 2017) differentiates
log p~(mu + L eps) - log q_{stop_gradient(theta)}(mu + L eps).
"""
import math
import time

import numpy as np
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax.scipy.linalg import solve_triangular  # noqa: E402

LN_2PI = math.log(2.0 * math.pi)


def init_params(family, mean, cov):
    mean = jnp.asarray(mean, dtype=jnp.float64)
    cov = np.asarray(cov, float)
    if family == "full-rank":
        return {"mu": mean, "L": jnp.asarray(np.linalg.cholesky(cov))}
    return {"mu": mean, "omega": jnp.asarray(0.5 * np.log(np.diag(cov)))}


def push(family, params, eps):
    """x = mu + L eps for a batch eps (n, d)."""
    if family == "full-rank":
        L = jnp.tril(params["L"])
        return params["mu"] + eps @ L.T
    return params["mu"] + eps * jnp.exp(params["omega"])


def log_q(family, params, x):
    d = x.shape[-1]
    if family == "full-rank":
        L = jnp.tril(params["L"])
        # L^-1 once (d x d), then one matmul: much faster on CPU than a triangular solve with
        # n right-hand sides.
        linv = solve_triangular(L, jnp.eye(d, dtype=L.dtype), lower=True)
        r = (x - params["mu"]) @ linv.T
        return -0.5 * d * LN_2PI - jnp.sum(jnp.log(jnp.abs(jnp.diag(L)))) - 0.5 * jnp.sum(r * r, axis=-1)
    om = params["omega"]
    r = (x - params["mu"]) * jnp.exp(-om)
    return -0.5 * d * LN_2PI - jnp.sum(om) - 0.5 * jnp.sum(r * r, axis=-1)


def mean_cov(family, params):
    mu = np.asarray(params["mu"])
    if family == "full-rank":
        L = np.tril(np.asarray(params["L"]))
        return mu, L @ L.T
    return mu, np.diag(np.exp(2.0 * np.asarray(params["omega"])))


def params_from_mean_cov(family, mean, cov):
    """The parameters of N(mean, cov) in `family` (mean field: the diagonal of cov)."""
    return init_params(family, mean, cov)


def stl_loss(family, logp_batch):
    """-(1/n) sum [log p~(x_i) - log q_sg(x_i)], x_i = mu + L eps_i."""
    def loss(params, eps):
        x = push(family, params, eps)
        sg = jax.lax.stop_gradient(params)
        return -jnp.mean(logp_batch(x) - log_q(family, sg, x))
    return loss


def elbo_terms(family, logp_batch, params, eps):
    x = push(family, params, eps)
    return logp_batch(x) - log_q(family, params, x)


def make_adam_stage(family, logp_batch, n_draws, d, b1=0.9, b2=0.999, eps_adam=1e-8):
    """A jitted function running `n_steps` Adam steps with the step size decaying geometrically
    from lr0 to lr1 (lr_t = lr0 (lr1/lr0)^(t/n_steps)), fresh draws every step."""
    grad = jax.grad(stl_loss(family, logp_batch))

    def stage(state, key, lr0, lr1, n_steps):
        def body(carry, t):
            params, m, v, k, key = carry
            key, sub = jax.random.split(key)
            eps = jax.random.normal(sub, (n_draws, d))
            g = grad(params, eps)
            k = k + 1
            m = jax.tree.map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
            v = jax.tree.map(lambda a, b: b2 * a + (1 - b2) * b * b, v, g)
            lr = lr0 * (lr1 / lr0) ** (t / n_steps)
            mhat_c = 1.0 / (1 - b1 ** k)
            vhat_c = 1.0 / (1 - b2 ** k)
            params = jax.tree.map(lambda p, a, b: p - lr * (a * mhat_c) / (jnp.sqrt(b * vhat_c) + eps_adam),
                                  params, m, v)
            return (params, m, v, k, key), None

        params, m, v, k = state
        carry, _ = jax.lax.scan(body, (params, m, v, k, key), jnp.arange(n_steps, dtype=jnp.float64))
        return carry[:4]

    return jax.jit(stage, static_argnums=(4,))


_JIT_CACHE = {}


def _terms_jit(family, logp_batch):
    k = (family, id(logp_batch))
    if k not in _JIT_CACHE:
        _JIT_CACHE[k] = (logp_batch, jax.jit(lambda p, e: elbo_terms(family, logp_batch, p, e)))
    return _JIT_CACHE[k][1]


def elbo_fixed(family, logp_batch, params, eps, chunk=50_000):
    """(mean, standard error, n) of log p~ - log q over the draws eps, in chunks."""
    f = _terms_jit(family, logp_batch)
    vals = np.concatenate([np.asarray(f(params, eps[i:i + chunk])) for i in range(0, eps.shape[0], chunk)])
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(len(vals))), len(vals)


def elbo_fresh(family, logp_batch, params, key, n, d, chunk=50_000):
    """ELBO from n fresh draws (generated chunk by chunk): (mean, standard error)."""
    f = jax.jit(lambda p, k: elbo_terms(family, logp_batch, p, jax.random.normal(k, (chunk, d))))
    vals = []
    for i in range(n // chunk):
        key, sub = jax.random.split(key)
        vals.append(np.asarray(f(params, sub)))
    vals = np.concatenate(vals)
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(len(vals)))


def run_decay(family, logp_batch, d, params0, key, n_draws=4096, lr0=1e-2, lr1=1e-5,
              n_steps=30_000, n_stages=6, eval_eps=None, log=print, label=""):
    """Adam from params0 with the step decaying geometrically lr0 -> lr1 over n_steps, in
    n_stages equal stages; after each stage the ELBO on the fixed draws eval_eps. Returns the
    final params and the list of stage records."""
    stage = make_adam_stage(family, logp_batch, n_draws, d)
    params = params0
    state = (params, jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params),
             jnp.asarray(0.0))
    per = n_steps // n_stages
    ratio = (lr1 / lr0) ** (1.0 / n_stages)
    records = []
    t0 = time.time()
    for s in range(n_stages):
        a, b = lr0 * ratio ** s, lr0 * ratio ** (s + 1)
        key, sub = jax.random.split(key)
        state = stage(state, sub, a, b, per)
        e, se, _ = elbo_fixed(family, logp_batch, state[0], eval_eps)
        records.append({"stage": s + 1, "steps_done": per * (s + 1), "lr_from": a, "lr_to": b,
                        "elbo_fixed_draws": e, "se": se})
        log(f"  {label} stage {s + 1}/{n_stages} lr {a:.1e}->{b:.1e}: ELBO {e:.6f} (se {se:.4f}) "
            f"[{time.time() - t0:.1f} s]")
    return state[0], records


# --- deterministic ELBOs by quadrature (for polishing the Adam result to the exact optimum) --
def entropy(family, params):
    """H(q) = d/2 (1 + ln 2 pi) + log|det L|."""
    d = params["mu"].shape[0]
    if family == "full-rank":
        ld = jnp.sum(jnp.log(jnp.abs(jnp.diag(jnp.tril(params["L"])))))
    else:
        ld = jnp.sum(params["omega"])
    return 0.5 * d * (1.0 + LN_2PI) + ld


def gauss_hermite_2d(n):
    """Nodes (n^2, 2) and weights of the product Gauss-Hermite rule for E over N(0, I_2)."""
    t, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / math.sqrt(2.0 * math.pi)
    tt = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    ww = np.outer(w, w).ravel()
    return jnp.asarray(tt), jnp.asarray(ww)


def elbo_quadrature_2d(family, logp_batch, n_nodes):
    """params -> E_q[log p] by product Gauss-Hermite on the standardized eps, + H(q) exactly."""
    tt, ww = gauss_hermite_2d(n_nodes)

    def f(params):
        return jnp.sum(ww * logp_batch(push(family, params, tt))) + entropy(family, params)
    return f


def elbo_quadrature_logistic(family, z, y, s, h=0.01, t_max=12.0):
    """The logistic ELBO without Monte Carlo: under q, eta_i = z_i^T b ~ N(z_i^T mu, z_i^T Sigma z_i)
    is one-dimensional, so E_q[softplus(eta_i)] is a 1-D Gaussian integral (trapezoid rule in the
    standardized variable on [-t_max, t_max] with step h: softplus is analytic in a strip of
    half-width pi, so the error is ~exp(-2 pi^2 / (h sd_i)), far below 1e-12 here);
    E_q[y_i eta_i] and E_q[|b|^2] are exact; H(q) is exact. p~ is the Rust log_prob."""
    Z = jnp.asarray(z)
    Y = jnp.asarray(y)
    t = jnp.arange(-t_max, t_max + h / 2, h)
    w = jnp.exp(-0.5 * t * t) / math.sqrt(2 * math.pi) * h

    def f(params):
        mu = params["mu"]
        m = Z @ mu
        if family == "full-rank":
            L = jnp.tril(params["L"])
            v = jnp.sum((Z @ L) ** 2, axis=1)
            trace = jnp.sum(L * L)
        else:
            s2 = jnp.exp(2.0 * params["omega"])
            v = (Z * Z) @ s2
            trace = jnp.sum(s2)
        eta = m[:, None] + jnp.sqrt(v)[:, None] * t[None, :]
        sp = jnp.maximum(eta, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(eta)))
        e_sp = sp @ w
        e_lp = jnp.sum(Y * m - e_sp) - 0.5 * (jnp.sum(mu * mu) + trace) / s**2
        return e_lp + entropy(family, params)
    return f


def flatten(family, params):
    mu = np.asarray(params["mu"])
    d = mu.shape[0]
    if family == "full-rank":
        il = np.tril_indices(d)
        return np.concatenate([mu, np.asarray(params["L"])[il]])
    return np.concatenate([mu, np.asarray(params["omega"])])


def unflatten(family, theta, d):
    mu = theta[:d]
    if family == "full-rank":
        il = np.tril_indices(d)
        L = jnp.zeros((d, d), dtype=jnp.float64).at[il].set(theta[d:])
        return {"mu": mu, "L": L}
    return {"mu": mu, "omega": theta[d:]}


def maximize_deterministic(family, elbo_fn, params0, d, gtol=1e-9, maxiter=20000):
    """Maximize a deterministic ELBO (quadrature) by scipy's BFGS / L-BFGS-B with JAX gradients,
    from params0. Returns (params, elbo, gradient inf-norm, scipy message)."""
    from scipy.optimize import minimize

    def negf(theta):
        return -elbo_fn(unflatten(family, theta, d))
    vg = jax.jit(jax.value_and_grad(negf))

    def fun(theta):
        v, g = vg(jnp.asarray(theta))
        return float(v), np.asarray(g, dtype=float)
    theta = flatten(family, params0)
    method = "BFGS" if theta.size <= 50 else "L-BFGS-B"
    opts = {"gtol": gtol, "maxiter": maxiter} if method == "BFGS" else \
        {"gtol": gtol, "ftol": 1e-16, "maxiter": maxiter, "maxcor": 50}
    res = minimize(fun, theta, jac=True, method=method, options=opts)
    theta = res.x
    # Newton polish (the Hessian by JAX) for the last digits when the quasi-Newton stops early.
    hess = jax.jit(jax.hessian(negf))
    for _ in range(5):
        v, g = fun(theta)
        if np.abs(g).max() < gtol:
            break
        H = np.asarray(hess(jnp.asarray(theta)))
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        # Only accept a step that does not lower the ELBO (H may be indefinite far away).
        t = 1.0
        while t > 1e-4:
            v2, _ = fun(theta - t * step)
            if v2 <= v + 1e-13:
                theta = theta - t * step
                break
            t *= 0.5
    v, g = fun(theta)
    return unflatten(family, jnp.asarray(theta), d), -v, float(np.abs(g).max()), str(res.message)
