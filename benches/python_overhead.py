"""The cost of the Python-callable path: one reverse-KL step (n = 100 draws of q, full rank,
Adam, fixed step size 0.01, the STL gradient) on the banana N(x₁; 0, 1) · N(x₂; 0.8 (x₁² − 1), 1)
(the workspace's `Banana(1.0, 0.8)`), four ways:

- Rust: the built-in `klfit.Banana` through the package (no Python during the fit);
- numpy callable: the same density as a vectorized numpy `klfit.LogDensity` (one Python call
  per step, on the (100, 2) batch of draws);
- JAX callable: the same density as `jax.jit(jax.vmap(jax.value_and_grad(log_p)))` behind a
  `klfit.LogDensity` (when jax is importable);
- NumPyro: an SVI step (AutoMultivariateNormal, Trace_ELBO with 100 vectorized particles, Adam
  0.01, the whole step jitted, float64) on the same banana (when numpyro is importable).

klfit's per-step time = (time of n_iters = N) − (time of n_iters = 0), over N, so the fit's
set-up (and the final q's assembly) cancels; NumPyro's = the time of N jitted `svi.update` calls
after one warm-up (compilation) call, over N. Each is the median of REPEATS runs. Diagnostics and
exact-KL recording are off. Criterion-free by design: the numbers are per-step means of long
runs, meant as ratios, not as a regression gate.

Run (klfit installed: pip install ./crates/kl-py; NumPyro's column needs numpyro and jax):

    python benches/python_overhead.py
"""

import statistics
import sys
import time

import numpy as np

import klfit

N_DRAWS = 100
STEPS = 4000
REPEATS = 7
SCALE, CURVATURE = 1.0, 0.8
HALF_LN_2PI = 0.918938533204672741780329736406


def numpy_banana(X):
    """The Rust Banana's formulas, vectorized over the rows of X (n, 2)."""
    a, b = SCALE, CURVATURE
    x0, x1 = X[:, 0], X[:, 1]
    u = x0 / a
    r = x1 - b * (x0 * x0 - a * a)
    g = np.empty_like(X)
    g[:, 0] = -u / a + 2.0 * b * x0 * r
    g[:, 1] = -r
    return (-2.0 * HALF_LN_2PI - np.log(a)) - 0.5 * (u * u + r * r), g


def jax_log_p():
    """The banana's log density of one point in JAX (float64), or None without jax."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    a, b = SCALE, CURVATURE

    def log_p(x):
        u = x[0] / a
        r = x[1] - b * (x[0] ** 2 - a * a)
        return (-2.0 * HALF_LN_2PI - jnp.log(a)) - 0.5 * (u * u + r * r)

    return log_p


def jax_banana():
    log_p = jax_log_p()
    if log_p is None:
        return None
    import jax
    import jax.numpy as jnp

    value_and_grad = jax.jit(jax.vmap(jax.value_and_grad(log_p)))

    def f(X):
        lp, g = value_and_grad(jnp.asarray(X))
        return np.asarray(lp), np.asarray(g)

    return f


def klfit_step(target) -> float:
    kw = dict(n_samples=N_DRAWS, learning_rate=0.01, diagnostics=0, exact_kl=False, seed=1)
    klfit.fit(target, n_iters=10, **kw)  # warm-up (a JAX callable compiles here)
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        klfit.fit(target, n_iters=0, **kw)
        t1 = time.perf_counter()
        klfit.fit(target, n_iters=STEPS, **kw)
        t2 = time.perf_counter()
        times.append(((t2 - t1) - (t1 - t0)) / STEPS)
    return statistics.median(times)


def numpyro_step() -> float | None:
    log_p = jax_log_p()
    try:
        import jax
        import numpyro
        import numpyro.distributions as dist
        from numpyro.infer import SVI, Trace_ELBO
        from numpyro.infer.autoguide import AutoMultivariateNormal
    except ImportError:
        return None
    if log_p is None:
        return None

    def model():
        x = numpyro.sample(
            "x", dist.ImproperUniform(dist.constraints.real_vector, (), event_shape=(2,))
        )
        numpyro.factor("log_p", log_p(x))

    guide = AutoMultivariateNormal(model)
    svi = SVI(model, guide, numpyro.optim.Adam(0.01),
              Trace_ELBO(num_particles=N_DRAWS, vectorize_particles=True))
    state = svi.init(jax.random.PRNGKey(0))
    update = jax.jit(svi.update)
    state, loss = update(state)
    loss.block_until_ready()
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(STEPS):
            state, loss = update(state)
        loss.block_until_ready()
        times.append((time.perf_counter() - t0) / STEPS)
    return statistics.median(times)


def main() -> None:
    rust_target = klfit.Banana(SCALE, CURVATURE)
    # The callables compute the Rust density (checked here on exact draws of p).
    X = rust_target.sample(200, seed=0)
    lr, gr = rust_target.grad_log_prob(X)
    callables = [("numpy callable", numpy_banana), ("JAX callable", jax_banana())]
    for name, f in callables:
        if f is not None:
            lp, g = f(X)
            assert np.allclose(lp, lr, rtol=0, atol=1e-12), name
            assert np.allclose(g, gr, rtol=0, atol=1e-12), name

    print(f"one reverse-KL step on Banana({SCALE}, {CURVATURE}): n = {N_DRAWS} draws of q, "
          f"full rank, Adam 0.01; per step over {STEPS} steps, median of {REPEATS}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    rust = klfit_step(rust_target)
    rows = [("Rust (klfit.Banana)", rust)]
    for name, f in callables:
        rows.append((name, klfit_step(klfit.LogDensity(f, 2)) if f is not None else None))
    rows.append(("NumPyro SVI step (jitted)", numpyro_step()))
    print(f"{'path':<28} {'µs / step':>10} {'× Rust':>8}")
    for name, t in rows:
        if t is None:
            print(f"{name:<28} {'(not importable)':>19}")
        else:
            print(f"{name:<28} {t * 1e6:10.1f} {t / rust:8.1f}")


if __name__ == "__main__":
    main()
