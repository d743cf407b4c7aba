# %% [markdown]
# # Forward and reverse KL from a notebook, with `klfit`
#
# The seed notebook's three experiments redone with the Python package (`pip install
# ./crates/kl-py`), then a fit of a log density of your own written in JAX. Every fit runs in
# Rust with the GIL released; Ctrl-C interrupts it. Figures are PNG bytes: in Jupyter,
# `IPython.display.Image(fit.figure())` shows them (here they are also written to files).

# %%
import os
import pathlib

import numpy as np

import klfit

OUT = pathlib.Path(os.environ.get("KLFIT_FIGURES", "notebook-figures"))
OUT.mkdir(exist_ok=True)


def show(name: str, png: bytes) -> None:
    """Display a PNG in Jupyter, or write it to notebook-figures/ when run as a script."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display

        if get_ipython() is not None:
            display(Image(png))
            return
    except ImportError:
        pass
    (OUT / name).write_bytes(png)
    print(f"wrote {OUT / name}")


# %% [markdown]
# ## 1. A random 2-D Gaussian, by closed-form forward KL
# The notebook's target and initial model (experiments/gaussian-forward.toml), SGD 0.1 for
# 20 steps. `init` takes q₀'s mean and a raw square factor L (Σ = L Lᵀ).

# %%
p = klfit.Mvn(
    [0.9482272267341614, 1.1534864902496338],
    [[1.1821123361587524, 0.17052419483661652], [0.17052419483661652, 0.2156432569026947]],
)
init = {
    "mean": [-0.8462215065956116, 2.1665456295013428],
    "raw": [[0.33428165316581726, -0.37787604331970215],
            [0.5963870286941528, 2.053356409072876]],
}
gauss = klfit.fit(p, objective="forward-kl-exact", optimizer="sgd", learning_rate=0.1,
                  n_iters=20, init=init)
print(gauss)
print("D(p‖q) along the fit:", np.round(gauss.kl_forward, 4))
show("gaussian_forward.png", gauss.figure())

# %% [markdown]
# ## 2. The mixture, by forward KL on 1000 samples and by reverse KL
# p = 0.8·N([0.5, −0.7], [[1, 1], [1, 2]]) + 0.2·N([−2.5, 2.5], [[0.5, 0.1], [0.1, 0.5]]).
# Forward KL (maximum likelihood on 1000 exact draws of p) covers both modes; reverse KL (1000
# fresh draws of q per step, the notebook's total-derivative gradient) seeks one.

# %%
mixture = klfit.Mixture(
    weights=[0.8, 0.2],
    means=[[0.5, -0.7], [-2.5, 2.5]],
    covs=[[[1.0, 1.0], [1.0, 2.0]], [[0.5, 0.1], [0.1, 0.5]]],
)
forward = klfit.fit(
    mixture, objective="forward-kl-samples", n_samples=1000, optimizer="sgd",
    learning_rate=0.1, n_iters=20, seed=8,
    init={"mean": [0.09120471775531769, 1.0912827253341675],
          "raw": [[-1.9469703435897827, -1.3863495588302612],
                  [-2.2964916229248047, 2.409834384918213]]},
)
reverse = klfit.fit(
    mixture, objective="reverse-kl", estimator="total", n_samples=1000, optimizer="sgd",
    learning_rate=0.1, n_iters=20, seed=8,
    init={"mean": [1.7278361320495605, 2.2045562267303467],
          "raw": [[0.7948276400566101, 0.9764211177825928],
                  [-1.183427095413208, 1.9163635969161987]]},
)
for name, f in [("forward", forward), ("reverse", reverse)]:
    print(f"{name}: mean {np.round(f.mean, 3)}, k̂ = {f.k_hat:.2f} ({f.verdict})")
    show(f"mixture_{name}.png", f.figure())
print("moment-matched mean:", mixture.mean)

# %% [markdown]
# The same runs from the experiment files, with the command line's figures (the 5 × 4 grid,
# the animation, the KL curves) and trace:

# %%
here = [pathlib.Path.cwd()]
if "__file__" in globals():  # run as a script: also look beside it (crates/kl-py/examples)
    here.append(pathlib.Path(__file__).resolve().parent)
experiments = next(
    (d / "experiments" for h in here for d in [h, *h.parents]
     if (d / "experiments" / "mixture-reverse.toml").exists()),
    None,
)
if experiments is None:
    print("experiments/ not found from here: run the notebook inside the repository")
else:
    run = klfit.run_experiment(experiments / "mixture-reverse.toml")
    print(run, "final D(q‖p):", run.trace["iterations"][-1]["kl_reverse"])
    show("mixture_reverse_kl.png", run.figures["mixture_reverse_kl.png"])

# %% [markdown]
# ## 3. A log density of your own, in JAX
# Any vectorized `f(X: (n, d)) -> (log_p: (n,), grad: (n, d))` is a target: here a banana
# written in JAX, its gradient by `jax.grad`, vectorized by `jax.vmap`, compiled by `jax.jit`.

# %%
try:
    import jax
    import jax.numpy as jnp
except ImportError:
    jax = None
    print("jax is not installed: skipping the JAX cell (pip install jax)")

if jax is not None:
    jax.config.update("jax_enable_x64", True)

    def log_p(x):
        r = x[1] - 0.8 * (x[0] ** 2 - 1.0)
        return -0.5 * (x[0] ** 2 + r**2)

    value_and_grad = jax.jit(jax.vmap(jax.value_and_grad(log_p)))

    def banana(X):
        lp, g = value_and_grad(jnp.asarray(X))
        return np.asarray(lp), np.asarray(g)

    fit = klfit.fit(klfit.LogDensity(banana, dim=2), n_iters=2000, seed=1)
    rust = klfit.fit(klfit.Banana(1.0, 0.8), n_iters=2000, seed=1)
    print("JAX banana:", np.round(fit.mean, 4), " Rust banana:", np.round(rust.mean, 4),
          " largest difference:", np.max(np.abs(fit.means - rust.means)))
    show("jax_banana.png", fit.figure())
