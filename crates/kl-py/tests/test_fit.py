"""fit() over the builder: results, recorded states, diagnostics, figures, failures."""

import os
import subprocess
import sys

import numpy as np
import pytest

import klfit

MIX = dict(
    weights=np.array([0.8, 0.2]),
    means=np.array([[0.5, -0.7], [-2.5, 2.5]]),
    covs=np.array([[[1.0, 1.0], [1.0, 2.0]], [[0.5, 0.1], [0.1, 0.5]]]),
)


def test_forward_kl_exact_finds_the_gaussian():
    p = klfit.Mvn([0.9, 1.2], [[1.2, 0.2], [0.2, 0.3]])
    f = klfit.fit(p, objective="forward-kl-exact", n_iters=3000, learning_rate=0.05)
    np.testing.assert_allclose(f.mean, p.mean, atol=1e-6)
    np.testing.assert_allclose(f.cov, p.cov, atol=1e-6)
    assert f.kl_forward is not None and f.kl_forward[-1] < 1e-9
    assert f.termination == "max-iters" and f.n_iters == 3000


def test_recorded_states_have_consistent_shapes():
    f = klfit.fit(klfit.Banana(), n_iters=200, seed=1)
    k = len(f.iterations)
    assert k == 201 and f.iterations[0] == 0 and f.iterations[-1] == 200
    assert f.loss.shape == f.grad_norm.shape == f.n_grad_evals.shape == (k,)
    assert f.means.shape == (k, 2) and f.covs.shape == (k, 2, 2)
    np.testing.assert_array_equal(f.means[-1], f.last_mean)
    np.testing.assert_allclose(f.covs[-1], f.last_cov, atol=1e-14)
    assert np.all(np.diff(f.n_grad_evals) >= 0) and f.total_grad_evals >= f.n_grad_evals[-1]
    assert 0 < f.ess and np.isfinite(f.k_hat) and np.isfinite(f.iw_elbo)
    assert f.verdict in ("good", "usable", "unreliable")
    assert f.learning_rate > 0 and f.objective == "reverse-kl" and f.family == "full-rank"


def test_same_seed_same_bits_other_seed_other_draws():
    a = klfit.fit(klfit.Banana(), n_iters=100, seed=4)
    b = klfit.fit(klfit.Banana(), n_iters=100, seed=4)
    c = klfit.fit(klfit.Banana(), n_iters=100, seed=5)
    np.testing.assert_array_equal(a.means, b.means)
    assert not np.array_equal(a.means, c.means)


def test_forward_kl_samples_of_a_target_and_of_data():
    p = klfit.Mixture(**MIX)
    f = klfit.fit(p, objective="forward-kl-samples", n_samples=1000, optimizer="sgd",
                  learning_rate=0.1, n_iters=2000, seed=8)
    data = p.sample(20000, seed=2)
    np.testing.assert_allclose(f.mean, p.mean, atol=0.15)
    g = klfit.fit(data, objective="forward-kl-samples", n_iters=2000, learning_rate=0.05)
    np.testing.assert_allclose(g.mean, data.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(g.cov, np.cov(data.T, bias=True), atol=1e-3)


def test_reverse_kl_of_the_mixture_seeks_the_major_mode():
    f = klfit.fit(klfit.Mixture(**MIX), n_iters=1500, seed=0)
    np.testing.assert_allclose(f.mean, [0.5, -0.7], atol=0.2)


def test_mean_field_and_convergence():
    p = klfit.Mvn([0.0, 0.0], [[1.0, 0.9], [0.9, 1.0]])
    f = klfit.fit(p, family="mean-field", n_iters=20000, tol_rel_obj=0.01, eval_every=100)
    assert f.termination == "converged" and f.n_iters < 20000
    assert abs(f.cov[0, 1]) == 0.0
    np.testing.assert_allclose(np.diag(f.cov), 1 - 0.81, atol=0.05)  # 1/Λᵢᵢ


def test_init_forms():
    p = klfit.Banana()
    base = dict(n_iters=0, diagnostics=0)
    f = klfit.fit(p, init={"mean": [1.0, 2.0], "raw": [[2.0, 0.0], [1.0, 1.0]]}, **base)
    np.testing.assert_allclose(f.mean, [1.0, 2.0])
    np.testing.assert_allclose(f.cov, [[4.0, 2.0], [2.0, 2.0]])
    f = klfit.fit(p, family="mean-field", init={"mean": [1.0, 2.0], "sd": [2.0, 3.0]}, **base)
    np.testing.assert_allclose(f.cov, np.diag([4.0, 9.0]))
    q = klfit.Mvn([1.0, 2.0], [[1.0, 0.5], [0.5, 2.0]])
    np.testing.assert_allclose(klfit.fit(p, init=q, **base).cov, q.cov)
    np.testing.assert_allclose(
        klfit.fit(p, init={"mean": [1.0, 2.0], "cov": q.cov}, **base).cov, q.cov
    )
    assert not np.allclose(klfit.fit(p, init="random", **base).mean, 0)


def test_laplace_start_for_logistic_regression():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = (X @ [1.5, -1.0] + 0.3 * rng.normal(size=200) > 0).astype(float)
    p = klfit.LogisticRegression(X, y)
    f = klfit.fit(p, objective="forward-kl-is", init="laplace", n_iters=200)
    assert f.mean[1] > 0 > f.mean[2]


@pytest.mark.parametrize("objective", ["pathfinder", "gsm", "bam"])
def test_score_based_algorithms_reach_a_gaussian_target(objective):
    # On a Gaussian target GSM and BaM have q = p as their fixed point; Pathfinder's Gaussians
    # near the mode are exact up to its inverse-Hessian estimate (Stan's inexact line search),
    # and its answer is the iterate with the best 25-draw ELBO (records: every path's iterates).
    p = klfit.Mvn([1.0, -0.5], [[1.5, 0.3], [0.3, 0.4]])
    extra = {"learning_rate": 100.0} if objective == "bam" else {}
    f = klfit.fit(p, objective=objective, n_iters=100, n_samples=4, seed=3, **extra)
    kl = f.kl_reverse.min() if objective == "pathfinder" else f.kl_reverse[-1]
    assert kl < 1e-3, (objective, kl)
    np.testing.assert_allclose(f.mean, p.mean, atol=0.1 if objective == "pathfinder" else 0.03)
    assert f.n_grad_evals[-1] > 0 and np.all(np.diff(f.n_grad_evals) >= 0)


def test_score_based_settings_are_checked():
    p = klfit.Banana()
    with pytest.raises(ValueError, match="history and n_paths are for"):
        klfit.fit(p, objective="gsm", history=3)
    with pytest.raises(ValueError, match="has no step size"):
        klfit.fit(p, objective="gsm", learning_rate=0.1)
    with pytest.raises(ValueError, match="bam fits a full-rank Gaussian"):
        klfit.fit(p, objective="bam", family="mean-field")
    f = klfit.fit(p, objective="pathfinder", history=2, n_paths=2, n_iters=50)
    assert np.all(np.isfinite(f.cov))


def test_pathfinder_start():
    # ADVI from Pathfinder's Gaussian: its first state is far closer to p than N(0, I) is.
    p = klfit.Mvn([1.0, -0.5], [[1.5, 0.3], [0.3, 0.4]])
    base = dict(n_iters=5, learning_rate=0.01, n_samples=10, diagnostics=0)
    standard = klfit.fit(p, **base)
    start = klfit.fit(p, init="pathfinder", **base)
    assert start.kl_reverse[0] < 0.01 < 0.5 < standard.kl_reverse[0]
    assert start.n_grad_evals[0] > standard.n_grad_evals[0]


def test_diagnostics_off():
    f = klfit.fit(klfit.Banana(), n_iters=10, diagnostics=0)
    assert f.k_hat is None and f.ess is None and f.iw_elbo is None and f.verdict is None


def test_sample_of_q():
    f = klfit.fit(klfit.Mvn([3.0, -1.0], np.eye(2)), objective="reverse-kl-exact",
                  n_iters=2000, learning_rate=0.05)
    xs = f.sample(50000, seed=1)
    assert xs.shape == (50000, 2)
    np.testing.assert_allclose(xs.mean(axis=0), [3.0, -1.0], atol=0.03)
    np.testing.assert_array_equal(xs, f.sample(50000, seed=1))


def test_fit_error_on_divergence():
    with pytest.raises(klfit.FitError, match="iteration"):
        klfit.fit(klfit.Mvn([0.0, 0.0], [[1.0, 0.0], [0.0, 1e-4]]),
                  objective="reverse-kl-exact", optimizer="sgd", learning_rate=1e3, n_iters=100)
    assert issubclass(klfit.FitError, RuntimeError)


def test_figures_are_png():
    f = klfit.fit(klfit.Mixture(**MIX), n_iters=100)
    for kind in ("fit", "loss"):
        png = f.figure(kind)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    d5 = klfit.fit(klfit.Funnel(dim=5), n_iters=50)
    assert d5.figure("loss")[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="2-D"):
        d5.figure("fit")
    with pytest.raises(ValueError, match="kind"):
        f.figure("nope")


@pytest.mark.parametrize(
    "p",
    [
        klfit.Banana(1.0, 0.8),
        klfit.Funnel(3, 1.5),
        klfit.StudentT(5.0, [0.0, 1.0], [[1.0, 0.5], [0.5, 1.0]]),
        klfit.Ring(2, 2.0, 0.3),
        klfit.Mixture(**MIX),
        klfit.Mvn([1.0], [[2.0]]),
    ],
    ids=lambda p: p.name,
)
def test_every_zoo_target_samples_and_fits(p):
    xs = p.sample(20000, seed=3)
    assert xs.shape == (20000, p.dim)
    np.testing.assert_array_equal(xs, p.sample(20000, seed=3))
    if p.mean is not None:
        np.testing.assert_allclose(xs.mean(axis=0), p.mean, atol=0.1)
    assert np.all(np.isfinite(p.log_prob(xs[:100])))
    f = klfit.fit(p, n_iters=100)
    assert f.mean.shape == (p.dim,)
    assert "klfit" in repr(p) and "klfit.Fit" in repr(f)


def test_diagnostics_of_an_exact_fit_are_the_ideal_ones():
    # q = p exactly (the closed-form reverse KL to its minimum): the weights p/q are all 1, so
    # the ESS is the number of draws, and the IW-ELBO is log Z = 0 (Mvn is normalized).
    p = klfit.Mvn([0.5, -1.0], [[2.0, 0.6], [0.6, 0.5]])
    f = klfit.fit(p, objective="reverse-kl-exact", n_iters=4000, learning_rate=0.05,
                  diagnostics=4000)
    np.testing.assert_allclose(f.cov, p.cov, atol=1e-9)
    assert f.ess == pytest.approx(4000, rel=1e-6)
    assert f.iw_elbo == pytest.approx(0.0, abs=1e-8)
    assert f.verdict == "good"
    # A Gaussian q of the banana: the IW-ELBO is a lower bound on log Z = 0, and k̂ > the
    # exact fit's.
    b = klfit.fit(klfit.Banana(1.0, 0.8), n_iters=2000, seed=2)
    assert -1.0 < b.iw_elbo < 0.0 and b.ess < 4000 and b.k_hat > f.k_hat


def test_logistic_regression_density_is_the_textbook_formula():
    # log p̃(β) = Σ yᵢηᵢ − log(1 + e^ηᵢ) − ‖β‖²/2s², η = [1, standardized X] β (population sd).
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 3)) * [1.0, 3.0, 0.2] + [0.0, 5.0, -1.0]
    y = (rng.uniform(size=40) < 0.4).astype(float)
    s = 1.7
    Z = np.hstack([np.ones((40, 1)), (X - X.mean(axis=0)) / X.std(axis=0)])
    betas = rng.normal(size=(6, 4))
    eta = betas @ Z.T
    want = (y * eta - np.logaddexp(0.0, eta)).sum(axis=1) - (betas**2).sum(axis=1) / (2 * s * s)
    grad = (y - 1 / (1 + np.exp(-eta))) @ Z - betas / (s * s)
    p = klfit.LogisticRegression(X, y, prior_scale=s)
    np.testing.assert_allclose(p.log_prob(betas), want, rtol=1e-12)
    lp, g = p.grad_log_prob(betas)
    np.testing.assert_allclose(lp, want, rtol=1e-12)
    np.testing.assert_allclose(g, grad, rtol=1e-10, atol=1e-12)
    # Without the intercept and the standardization: η = X β.
    q = klfit.LogisticRegression(X, y, prior_scale=s, intercept=False, standardize=False)
    eta = betas[:, 1:] @ X.T
    want = (y * eta - np.logaddexp(0.0, eta)).sum(axis=1) - (betas[:, 1:] ** 2).sum(axis=1) / (
        2 * s * s
    )
    assert q.dim == 3
    np.testing.assert_allclose(q.log_prob(np.ascontiguousarray(betas[:, 1:])), want, rtol=1e-12)


def test_recorded_states_are_bounded_whatever_the_number_of_iterations():
    # kl-fit keeps at most MAX_RECORDS = 4097 evenly thinned states plus the last.
    f = klfit.fit(klfit.Banana(), n_iters=20_000, learning_rate=0.01, diagnostics=0,
                  exact_kl=False)
    it = f.iterations
    assert 2 <= len(it) <= 4098 and it[0] == 0 and it[-1] == 20_000
    assert np.all(np.diff(it) > 0)
    assert f.means.shape == (len(it), 2) and f.covs.shape == (len(it), 2, 2)


def test_same_seed_same_bits_at_any_thread_count():
    code = (
        "import numpy as np, klfit\n"
        "rng = np.random.default_rng(1)\n"
        "X = rng.normal(size=(300, 5)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(float)\n"
        "f = klfit.fit(klfit.LogisticRegression(X, y), n_samples=1000, n_iters=30, seed=7,\n"
        "              learning_rate=0.01)\n"
        "print(f.means.tobytes().hex(), f.covs.tobytes().hex(), repr(f.k_hat))\n"
    )
    outs = set()
    for threads in ("1", "2", "3"):
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        outs.add(out.stdout)
    assert len(outs) == 1
