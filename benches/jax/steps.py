"""JAX reference timings for the scale table of BENCHMARKS.md (the `jax_us` column of
benches/medians.json).

Needs a throwaway venv with JAX on CPU, nothing of the project:

    python3 -m venv /tmp/venv-jax && /tmp/venv-jax/bin/pip install jax
    /tmp/venv-jax/bin/python benches/jax/steps.py            # prints JSON lines
    /tmp/venv-jax/bin/python benches/jax/steps.py --out benches/jax/medians.json

One step = what benches/scale.rs times in Rust: for reverse KL, draw new eps (n x d normals),
value and gradient of (1/n) sum [log q(x_i) - log p(x_i)], x_i = mu + L eps_i (autodiff of the
notebook's loss, i.e. the `total` estimator), SGD update; for forward KL the closed form
1/2 [log det S + tr(S^-1 Sp) + (mu - mup)^T S^-1 (mu - mup)], S = L L^T, its gradient and an SGD
update. Each step is one jit-compiled function of (theta, key) in float64; the time is the
median of 100 calls after 10 warm-up calls, each call ended by block_until_ready. The targets are
random (seeded) but of the same shapes as the Rust benches: the cost does not depend on the values.
"""

import argparse
import json
import math
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

SHAPES = [(2, 2, 1000), (16, 8, 10_000), (32, 4, 1000), (64, 4, 1000), (128, 4, 1000), (256, 1, 1000)]
HALF_LN_2PI = 0.5 * math.log(2 * math.pi)


def random_spd(key, d):
    a = jax.random.normal(key, (d, d))
    return a @ a.T / d + 0.5 * jnp.eye(d)


def mixture(key, d, k):
    keys = jax.random.split(key, 2 * k)
    means = jnp.stack([jax.random.normal(keys[2 * i], (d,)) + i - k / 2 for i in range(k)])
    chols = [jnp.linalg.cholesky(random_spd(keys[2 * i + 1], d)) for i in range(k)]
    # The target is fixed: its whitening matrices C_k^-1 (and log-normalizers) are precomputed
    # once, so that each component costs one GEMM per step. (XLA's CPU triangular solve with many
    # right-hand sides is 10-100x slower than its GEMM: this is the fast way to write it in JAX.)
    whiten = jnp.stack([jnp.linalg.inv(c) for c in chols])
    lognorm = jnp.stack([-jnp.sum(jnp.log(jnp.diag(c))) - d * HALF_LN_2PI for c in chols])
    w = jnp.arange(1, k + 1, dtype=jnp.float64)
    return jnp.log(w / w.sum()) + lognorm, means, whiten


def mixture_logpdf(x, base, means, whiten):
    # x: n x d. Per component: ln w_k + log-normalizer - 1/2 |C_k^-1 (x - m_k)|^2.
    r = jnp.einsum("knd,ked->kne", x[None, :, :] - means[:, None, :], whiten)
    a = base[:, None] - 0.5 * jnp.sum(r * r, axis=2)  # k x n
    return jax.scipy.special.logsumexp(a, axis=0)


def gaussian_logpdf(x, mu, l):
    # log N(x; mu, L L^T) with L^-1 (x - mu): one inverse of the d x d factor and a GEMM
    # (autodiff through both gives the `total` gradient).
    d = x.shape[1]
    r = (x - mu) @ jnp.linalg.inv(l).T
    _, logabsdet = jnp.linalg.slogdet(l)
    return -0.5 * jnp.sum(r * r, axis=1) - logabsdet - d * HALF_LN_2PI


def reverse_step(d, n, target, lr):
    logw, means, chols = target

    def loss(theta, eps):
        mu, l = theta[:d], theta[d:].reshape(d, d)
        x = mu + eps @ l.T
        return jnp.mean(gaussian_logpdf(x, mu, l) - mixture_logpdf(x, logw, means, chols))

    @jax.jit
    def step(theta, key):
        key, sub = jax.random.split(key)
        eps = jax.random.normal(sub, (n, d))
        v, g = jax.value_and_grad(loss)(theta, eps)
        return theta - lr * g, v, key

    return step


def forward_step(d, mean_p, cov_p, lr):
    @jax.jit
    def step(theta, key):
        def loss(theta):
            mu, l = theta[:d], theta[d:].reshape(d, d)
            s = l @ l.T
            _, logdet = jnp.linalg.slogdet(s)
            # LU solves (LAPACK through XLA): much faster on CPU than XLA's triangular solve.
            tr = jnp.trace(jnp.linalg.solve(s, cov_p))
            delta = mean_p - mu
            return 0.5 * (logdet + tr + delta @ jnp.linalg.solve(s, delta))

        v, g = jax.value_and_grad(loss)(theta)
        return theta - lr * g, v, key

    return step


def median_us(step, theta, key, reps=100, warm=10):
    for _ in range(warm):
        out = step(theta, key)
        jax.block_until_ready(out)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = step(theta, key)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t)
        key = out[2]
    times.sort()
    return 1e6 * 0.5 * (times[(reps - 1) // 2] + times[reps // 2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="write the list of medians as JSON here")
    args = ap.parse_args()
    rows = []
    for d, k, n in SHAPES:
        key = jax.random.PRNGKey(d)
        k1, k2, k3 = jax.random.split(key, 3)
        theta = jnp.concatenate([jnp.zeros(d), 1.5 * jnp.eye(d).ravel()])
        rev = reverse_step(d, n, mixture(k1, d, k), 0.01)
        rows.append({"objective": "reverse-kl", "d": d, "k": k, "n": n,
                     "jax_us": median_us(rev, theta, k3)})
        print(json.dumps(rows[-1]), flush=True)
        fwd = forward_step(d, jax.random.normal(k2, (d,)), random_spd(k2, d), 0.01)
        rows.append({"objective": "forward-kl-exact", "d": d, "k": None, "n": None,
                     "jax_us": median_us(fwd, theta, k3)})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"jax": jax.__version__, "devices": [str(x) for x in jax.devices()]}))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"jax": jax.__version__, "rows": rows}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
