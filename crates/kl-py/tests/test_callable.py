"""A user's vectorized log density: the same fit as the Rust target, and errors that stop it."""

import numpy as np
import pytest

import klfit

HALF_LN_2PI = 0.918938533204672741780329736406


def banana(a=1.0, b=0.8):
    """The Rust Banana's formulas, operation for operation, vectorized over rows."""

    def f(X):
        x0, x1 = X[:, 0], X[:, 1]
        u = x0 / a
        r = x1 - b * (x0 * x0 - a * a)
        g = np.empty_like(X)
        g[:, 0] = -u / a + 2.0 * b * x0 * r
        g[:, 1] = -r
        return (-2.0 * HALF_LN_2PI - np.log(a)) - 0.5 * (u * u + r * r), g

    return f


@pytest.mark.parametrize(
    "settings",
    [
        dict(objective="reverse-kl"),
        dict(objective="reverse-kl", estimator="total", optimizer="sgd", learning_rate=0.05),
        dict(objective="reverse-kl", family="mean-field"),
        dict(objective="forward-kl-is"),
        dict(objective="renyi", alpha=0.5),
        dict(objective="reverse-kl", tol_rel_obj=0.01, eval_every=50),
    ],
)
def test_callable_banana_fits_like_rust_banana(settings):
    rust = klfit.fit(klfit.Banana(1.0, 0.8), n_iters=300, seed=3, **settings)
    py = klfit.fit(klfit.LogDensity(banana(1.0, 0.8), 2), n_iters=300, seed=3, **settings)
    np.testing.assert_allclose(py.mean, rust.mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(py.cov, rust.cov, rtol=0, atol=1e-12)
    np.testing.assert_allclose(py.means, rust.means, rtol=0, atol=1e-12)
    assert py.termination == rust.termination
    assert py.k_hat == pytest.approx(rust.k_hat, abs=1e-9)
    assert list(py.n_grad_evals) == list(rust.n_grad_evals)


def test_log_prob_and_grad_per_point_and_batch():
    p = klfit.LogDensity(banana(), 2)
    r = klfit.Banana(1.0, 0.8)
    X = np.random.default_rng(0).normal(size=(7, 2))
    np.testing.assert_array_equal(p.log_prob(X), r.log_prob(X))
    assert p.log_prob(X[0]) == r.log_prob(X[0])
    lp, g = p.grad_log_prob(X)
    lr, gr = r.grad_log_prob(X)
    np.testing.assert_array_equal(lp, lr)
    np.testing.assert_array_equal(g, gr)
    assert p.name == "callable" and p.dim == 2 and p.mean is None


def test_callable_called_once_per_batch():
    sizes = []

    def f(X):
        sizes.append(len(X))
        return banana()(X)

    klfit.fit(klfit.LogDensity(f, 2), n_iters=5, n_samples=64, learning_rate=0.01, diagnostics=0)
    assert sizes and all(n == 64 for n in sizes)


class Boom(Exception):
    pass


def test_callable_that_raises_stops_the_fit_with_its_exception():
    calls = []

    def f(X):
        calls.append(1)
        if len(calls) > 3:
            raise Boom("the user's error")
        return banana()(X)

    with pytest.raises(Boom, match="the user's error"):
        klfit.fit(klfit.LogDensity(f, 2), n_iters=10_000, learning_rate=0.01)
    assert len(calls) == 4  # never called again after the error


def test_callable_returning_nan_is_a_value_error():
    def f(X):
        lp, g = banana()(X)
        lp[0] = np.nan
        return lp, g

    with pytest.raises(ValueError, match="nan"):
        klfit.fit(klfit.LogDensity(f, 2), n_iters=10, learning_rate=0.01)


def test_callable_returning_nonfinite_grad_is_a_value_error():
    def f(X):
        lp, g = banana()(X)
        g[1, 0] = np.inf
        return lp, g

    with pytest.raises(ValueError, match="grad"):
        klfit.fit(klfit.LogDensity(f, 2), n_iters=10, learning_rate=0.01)


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda X: (np.zeros(len(X) + 1), np.zeros_like(X)), "shape"),
        (lambda X: (np.zeros(len(X)), np.zeros((len(X), 3))), "shape"),
        (lambda X: (np.zeros((len(X), 1)), np.zeros_like(X)), "shape"),
        (lambda X: np.zeros(len(X)), "tuple"),
        (lambda X: None, "tuple"),
    ],
)
def test_callable_returning_wrong_shapes_is_a_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        klfit.fit(klfit.LogDensity(bad, 2), n_iters=10, learning_rate=0.01)


def test_callable_outputs_are_converted_from_lists_and_float32():
    def f(X):
        lp, g = banana()(X)
        return lp.tolist(), g.astype(np.float32)

    fit = klfit.fit(klfit.LogDensity(f, 2), n_iters=50, learning_rate=0.01)
    assert np.all(np.isfinite(fit.mean))


def test_log_density_needs_a_callable_and_a_dimension():
    with pytest.raises(ValueError):
        klfit.LogDensity(3, 2)
    with pytest.raises(ValueError):
        klfit.LogDensity(banana(), 0)


def test_callable_error_in_log_prob_is_raised():
    def f(X):
        raise Boom("in log_prob")

    with pytest.raises(Boom):
        klfit.LogDensity(f, 2).log_prob(np.zeros((3, 2)))
