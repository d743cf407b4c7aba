"""Bad arrays are clear ValueErrors: wrong shape, NaN, wrong dtype; strided views are read like
their contiguous copies."""

import numpy as np
import pytest

import klfit

MEAN = np.array([0.5, -0.7])
COV = np.array([[1.0, 1.0], [1.0, 2.0]])


@pytest.mark.parametrize(
    "mean, cov, message",
    [
        (np.array([0, 1]), COV, "dtype float64, got int64"),
        (MEAN.astype(np.float32), COV, "dtype float64, got float32"),
        (MEAN, COV.astype(np.float32), "dtype float64"),
        (np.array([np.nan, 0.0]), COV, "nan"),
        (MEAN, np.array([[1.0, np.inf], [np.inf, 1.0]]), "inf"),
        (MEAN, np.eye(3), r"shape \(2, 2\), got \(3, 3\)"),
        (np.zeros((2, 1)), COV, "1-D"),
        (MEAN, np.ones(2), "2-D"),
        ("ab", COV, "float64"),
        (MEAN, [[1.0, 0.0], [0.0]], "ragged"),
        (MEAN, np.array([[1.0, 2.0], [2.0, 1.0]]), "positive definite|pivot"),
    ],
)
def test_mvn_bad_input(mean, cov, message):
    with pytest.raises(ValueError, match=message):
        klfit.Mvn(mean, cov)


def test_strided_views_read_as_their_contiguous_copies():
    a = np.array([[1.0, 9.0, 0.5], [9.0, 9.0, 9.0], [0.5, 9.0, 2.0]])
    cov = a[::2, ::2]  # [[1, 0.5], [0.5, 2]], a view with strides of two elements
    assert not cov.flags["C_CONTIGUOUS"]
    p = klfit.Mvn(np.array([0.5, 9.0, -0.7])[::2], cov)
    np.testing.assert_array_equal(p.mean, MEAN)
    np.testing.assert_array_equal(p.cov, [[1.0, 0.5], [0.5, 2.0]])
    q = klfit.Mvn(MEAN, np.asfortranarray(COV))
    np.testing.assert_array_equal(q.cov, COV)


def test_lists_are_accepted():
    p = klfit.Mvn([0.5, -0.7], [[1.0, 1.0], [1.0, 2.0]])
    np.testing.assert_array_equal(p.mean, MEAN)
    np.testing.assert_array_equal(p.cov, COV)


def test_mixture_shapes():
    w = np.array([0.8, 0.2])
    means = np.array([[0.5, -0.7], [-2.5, 2.5]])
    covs = np.array([COV, [[0.5, 0.1], [0.1, 0.5]]])
    p = klfit.Mixture(w, means, covs)
    assert p.dim == 2 and p.name == "mixture"
    with pytest.raises(ValueError, match="covs"):
        klfit.Mixture(w, means, covs[:, :1, :])
    with pytest.raises(ValueError, match="means"):
        klfit.Mixture(w, means[:1], covs)
    with pytest.raises(ValueError, match="sum"):
        klfit.Mixture(np.array([0.5, 0.2]), means, covs)
    with pytest.raises(ValueError, match="float64"):
        klfit.Mixture(np.array([1, 0]), means, covs)


def test_logistic_regression_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(np.float64)
    p = klfit.LogisticRegression(X, y)
    assert p.dim == 4
    with pytest.raises(ValueError, match="y"):
        klfit.LogisticRegression(X, y[:-1])
    with pytest.raises(ValueError, match="float64"):
        klfit.LogisticRegression(X, y.astype(np.int64))
    # A Fortran-ordered X and a strided y (a column of a bigger array) read as their copies.
    Xy = np.column_stack([X, y])
    pf = klfit.LogisticRegression(np.asfortranarray(X), Xy[:, 3])
    b = rng.normal(size=(7, 4))
    np.testing.assert_array_equal(pf.log_prob(b), p.log_prob(b))
    with pytest.raises(ValueError, match="label|0 or 1"):
        klfit.LogisticRegression(X, y * 2)
    with pytest.raises(ValueError, match="sampler"):
        p.sample(3)


def test_log_prob_points():
    p = klfit.Banana()
    assert p.log_prob(np.zeros((5, 2))).shape == (5,)
    assert isinstance(p.log_prob(np.zeros(2)), float)
    with pytest.raises(ValueError, match=r"\(n, 2\)|shape"):
        p.log_prob(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="float64"):
        p.log_prob(np.zeros((5, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="nan"):
        p.log_prob(np.array([[0.0, np.nan]]))
    pts = np.random.default_rng(1).normal(size=(5, 4))
    np.testing.assert_array_equal(p.log_prob(pts[:, ::2]), p.log_prob(np.ascontiguousarray(pts[:, ::2])))


@pytest.mark.parametrize(
    "ctor",
    [
        lambda: klfit.Banana(scale=-1.0),
        lambda: klfit.Banana(curvature=float("nan")),
        lambda: klfit.Funnel(dim=1),
        lambda: klfit.Ring(radius=-1.0),
        lambda: klfit.Ring(width=0.0),
        lambda: klfit.StudentT(0.0, [0.0], [[1.0]]),
        lambda: klfit.StudentT(3.0, [0.0, 0.0], [[1.0]]),
    ],
)
def test_bad_parameters(ctor):
    with pytest.raises(ValueError):
        ctor()


def test_fit_inputs():
    p = klfit.Banana()
    with pytest.raises(ValueError, match="init\\['mean'\\]"):
        klfit.fit(p, init={"mean": np.zeros(3), "raw": np.eye(2)})
    with pytest.raises(ValueError, match="float64"):
        klfit.fit(p, init={"mean": np.zeros(2, dtype=np.float32), "raw": np.eye(2)})
    with pytest.raises(ValueError, match="samples"):
        klfit.fit(np.zeros((10, 2), dtype=np.int64), objective="forward-kl-samples")
    with pytest.raises(ValueError, match="Target"):
        klfit.fit(np.zeros((10, 2)))
    for kw in [
        dict(objective="nope"),
        dict(family="diagonal"),
        dict(optimizer="lbfgs"),
        dict(estimator="reinforce"),
        dict(learning_rate="fast"),
        dict(learning_rate=0.0),
        dict(objective="renyi"),
        dict(alpha=0.5),
        dict(n_samples=0),
        dict(tol_rel_obj=-1.0),
        dict(init="somewhere"),
        dict(objective="forward-kl-exact"),
    ]:
        with pytest.raises(ValueError):
            klfit.fit(p, n_iters=5, **kw)
