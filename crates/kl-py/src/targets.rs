//! The targets: one base class, `Target`, holding either a workspace density (`kl_fit::Target`)
//! or a user's vectorized Python callable, and one subclass per kind whose constructor checks its
//! arguments (the Rust constructors' errors become `ValueError`s).

use kl_dist::AnyDensity;
use kl_dist::LogDensity as _;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rand::SeedableRng;

use crate::arrays::{array1, array2, dense, matrix, points, vector};
use crate::callable::{ErrorSlot, PyDensity};
use crate::errors::value_error;

/// What a target is made of.
#[derive(Debug)]
pub(crate) enum Inner {
    /// A workspace density.
    Known(kl_fit::Target),
    /// A user's vectorized callable of dimension `dim`.
    Callable { f: Py<PyAny>, dim: usize },
}

/// A target distribution p: what a fit fits q to.
///
/// Build one of the subclasses (`Mvn`, `Mixture`, `Banana`, `Funnel`, `StudentT`, `Ring`,
/// `LogisticRegression`) or wrap your own vectorized log density with `LogDensity`.
#[pyclass(subclass, frozen, module = "klfit")]
#[derive(Debug)]
pub struct Target {
    pub(crate) inner: Inner,
}

impl Target {
    fn known(p: impl Into<kl_fit::Target>) -> Target {
        Target {
            inner: Inner::Known(p.into()),
        }
    }

    /// The Rust target for one fit, with the error slot of a callable (fresh for each fit).
    pub(crate) fn for_fit(&self, py: Python<'_>) -> (kl_fit::Target, Option<ErrorSlot>) {
        match &self.inner {
            Inner::Known(t) => (t.clone(), None),
            Inner::Callable { f, dim } => {
                let slot = ErrorSlot::default();
                let p = PyDensity::new(f.clone_ref(py), *dim, slot.clone());
                (kl_fit::Target::custom(p), Some(slot))
            }
        }
    }

    pub(crate) fn density(&self) -> Option<&AnyDensity> {
        match &self.inner {
            Inner::Known(t) => t.known(),
            Inner::Callable { .. } => None,
        }
    }

    pub(crate) fn dim_of(&self) -> usize {
        match &self.inner {
            Inner::Known(t) => t.dim(),
            Inner::Callable { dim, .. } => *dim,
        }
    }

    /// Evaluates the target at `x` (`(n, d)` or `(d,)`), with or without the gradient; the GIL
    /// is released for a workspace density.
    fn evaluate(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        with_grad: bool,
    ) -> PyResult<(Vec<f64>, Vec<f64>, bool)> {
        let d = self.dim_of();
        let (pts, single) = points(x, d, "x")?;
        let n = pts.len() / d;
        let (t, slot) = self.for_fit(py);
        let run = move || {
            let mut lp = vec![0.0; n];
            let mut g = vec![0.0; if with_grad { n * d } else { 0 }];
            if with_grad {
                t.grad_log_prob_batch(&pts, &mut lp, &mut g);
            } else {
                t.log_prob_batch(&pts, &mut lp);
            }
            (lp, g)
        };
        let (lp, g) = if slot.is_some() {
            run()
        } else {
            py.detach(run)
        };
        if let Some(e) = slot.and_then(|s| s.take()) {
            return Err(e);
        }
        Ok((lp, g, single))
    }
}

#[pymethods]
impl Target {
    /// The dimension d.
    #[getter]
    fn dim(&self) -> usize {
        self.dim_of()
    }

    /// The kind: "mvn", "mixture", "banana", "funnel", "student-t", "ring",
    /// "logistic-regression" or "callable".
    #[getter]
    fn name(&self) -> &'static str {
        self.density().map_or("callable", AnyDensity::name)
    }

    /// log p at the rows of `x` (an `(n, d)` array; a `(d,)` point gives a float).
    fn log_prob<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let (lp, _, single) = self.evaluate(py, x, false)?;
        if single {
            Ok(lp[0].into_pyobject(py)?.into_any())
        } else {
            Ok(array1(py, lp).into_any())
        }
    }

    /// `(log_p, grad)`: log p at the rows of `x` and its gradient, shapes `(n,)` and `(n, d)`
    /// (a float and a `(d,)` array for one point).
    fn grad_log_prob<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let d = self.dim_of();
        let (lp, g, single) = self.evaluate(py, x, true)?;
        if single {
            (lp[0], array1(py, g)).into_pyobject(py)
        } else {
            let n = lp.len();
            (array1(py, lp), array2(py, g, n, d)?).into_pyobject(py)
        }
    }

    /// `n` exact draws of p as an `(n, d)` array, from `numpy`-independent seeded draws (the
    /// same seed gives the same draws as the Rust crates). `ValueError` for a target without an
    /// exact sampler (the logistic regression posterior, a callable).
    #[pyo3(signature = (n, seed = 0))]
    fn sample<'py>(&self, py: Python<'py>, n: usize, seed: u64) -> PyResult<Bound<'py, PyAny>> {
        let Some(p) = self.density().filter(|p| p.can_sample()) else {
            return Err(PyValueError::new_err(format!(
                "{} has no exact sampler",
                self.name()
            )));
        };
        let d = p.dim();
        let xs = py.detach(|| {
            let mut xs = vec![0.0; n * d];
            let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
            p.try_sample(&mut rng, &mut xs).map(|()| xs)
        });
        let xs = xs.map_err(value_error)?;
        Ok(array2(py, xs, n, d)?.into_any())
    }

    /// The exact mean, where it is known and exists (else None).
    #[getter]
    fn mean<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        let m = self.density()?.mean()?;
        Some(array1(py, m).into_any())
    }

    /// The exact covariance `(d, d)`, where it is known and finite (else None).
    #[getter]
    fn cov<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let d = self.dim_of();
        match self.density().and_then(AnyDensity::covariance) {
            Some(c) => Ok(Some(array2(py, c, d, d)?.into_any())),
            None => Ok(None),
        }
    }

    fn __repr__(&self) -> String {
        format!("<klfit target {} (d = {})>", self.name(), self.dim_of())
    }
}

fn init<T: pyo3::PyClass<BaseType = Target>>(base: Target, sub: T) -> PyClassInitializer<T> {
    PyClassInitializer::from(base).add_subclass(sub)
}

/// A normal N(mean, cov).
#[pyclass(extends = Target, frozen, module = "klfit")]
#[derive(Debug)]
pub struct Mvn;

#[pymethods]
impl Mvn {
    #[new]
    fn new(mean: &Bound<'_, PyAny>, cov: &Bound<'_, PyAny>) -> PyResult<PyClassInitializer<Self>> {
        let m = vector(mean, None, "mean")?;
        let (c, _, _) = matrix(cov, Some(m.len()), Some(m.len()), "cov")?;
        let p = kl_dist::Mvn::new(&m, &c).map_err(value_error)?;
        Ok(init(Target::known(p), Mvn))
    }
}

impl Mvn {
    pub(crate) fn of(t: &Target) -> Option<&kl_dist::Mvn> {
        match t.density() {
            Some(AnyDensity::Mvn(m)) => Some(m),
            _ => None,
        }
    }
}

/// A Gaussian mixture Σₖ wₖ N(meansₖ, covsₖ): `weights` (k,), `means` (k, d), `covs`
/// (k, d, d).
#[pyclass(extends = Target, frozen, module = "klfit")]
#[derive(Debug)]
pub struct Mixture;

#[pymethods]
impl Mixture {
    #[new]
    fn new(
        weights: &Bound<'_, PyAny>,
        means: &Bound<'_, PyAny>,
        covs: &Bound<'_, PyAny>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let w = vector(weights, None, "weights")?;
        let (m, k, d) = matrix(means, Some(w.len()), None, "means")?;
        let c = dense(covs, 3, "covs")?;
        if c.shape != [k, d, d] {
            return Err(PyValueError::new_err(format!(
                "covs: expected shape ({k}, {d}, {d}), got {:?}",
                c.shape
            )));
        }
        let comps: Vec<(Vec<f64>, Vec<f64>)> = (0..k)
            .map(|i| {
                (
                    m[i * d..(i + 1) * d].to_vec(),
                    c.values[i * d * d..(i + 1) * d * d].to_vec(),
                )
            })
            .collect();
        let p = kl_dist::Mixture::from_parameters(&w, &comps).map_err(value_error)?;
        Ok(init(Target::known(p), Mixture))
    }
}

/// The banana N(x₁; 0, scale²) · N(x₂; curvature (x₁² − scale²), 1) in 2-D.
#[pyclass(extends = Target, frozen, module = "klfit")]
#[derive(Debug)]
pub struct Banana;

#[pymethods]
impl Banana {
    #[new]
    #[pyo3(signature = (scale = 1.0, curvature = 0.8))]
    fn new(scale: f64, curvature: f64) -> PyResult<PyClassInitializer<Self>> {
        let p = kl_dist::Banana::new(scale, curvature).map_err(value_error)?;
        Ok(init(Target::known(p), Banana))
    }
}

/// Neal's funnel: x₀ ~ N(0, scale²), xᵢ ~ N(0, e^{x₀}) for i = 1..dim−1.
#[pyclass(extends = Target, frozen, module = "klfit")]
#[derive(Debug)]
pub struct Funnel;

#[pymethods]
impl Funnel {
    #[new]
    #[pyo3(signature = (dim = 2, scale = 1.5))]
    fn new(dim: usize, scale: f64) -> PyResult<PyClassInitializer<Self>> {
        let p = kl_dist::Funnel::new(dim, scale).map_err(value_error)?;
        Ok(init(Target::known(p), Funnel))
    }
}

/// The multivariate Student t with `df` degrees of freedom, location `mean` (d,) and shape
/// `scale` (d, d).
#[pyclass(extends = Target, frozen, module = "klfit")]
#[derive(Debug)]
pub struct StudentT;

#[pymethods]
impl StudentT {
    #[new]
    fn new(
        df: f64,
        mean: &Bound<'_, PyAny>,
        scale: &Bound<'_, PyAny>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let m = vector(mean, None, "mean")?;
        let (s, _, _) = matrix(scale, Some(m.len()), Some(m.len()), "scale")?;
        let p = kl_dist::StudentT::new(df, &m, &s).map_err(value_error)?;
        Ok(init(Target::known(p), StudentT))
    }
}

/// The ring ∝ exp(−(‖x‖ − radius)² / 2 width²) in `dim` dimensions.
#[pyclass(extends = Target, frozen, module = "klfit")]
#[derive(Debug)]
pub struct Ring;

#[pymethods]
impl Ring {
    #[new]
    #[pyo3(signature = (dim = 2, radius = 2.0, width = 0.3))]
    fn new(dim: usize, radius: f64, width: f64) -> PyResult<PyClassInitializer<Self>> {
        let p = kl_dist::Ring::with_dim(dim, radius, width).map_err(value_error)?;
        Ok(init(Target::known(p), Ring))
    }
}

/// The posterior of Bayesian logistic regression: features `X` (n, k), labels `y` (n,) of 0s
/// and 1s, a N(0, prior_scale²) prior on every coefficient; an intercept column and
/// standardized features by default. Unnormalized, no exact sampler.
#[pyclass(extends = Target, frozen, module = "klfit")]
#[derive(Debug)]
pub struct LogisticRegression;

#[pymethods]
impl LogisticRegression {
    #[new]
    #[pyo3(signature = (X, y, prior_scale = 2.5, intercept = true, standardize = true))]
    #[allow(non_snake_case)]
    fn new(
        X: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        prior_scale: f64,
        intercept: bool,
        standardize: bool,
    ) -> PyResult<PyClassInitializer<Self>> {
        let (x, n, k) = matrix(X, None, None, "X")?;
        let y = vector(y, Some(n), "y")?;
        let options = kl_dist::LogisticOptions {
            prior_scale,
            intercept,
            standardize,
        };
        let p = kl_dist::LogisticRegression::new(&x, k, &y, options).map_err(value_error)?;
        Ok(init(Target::known(p), LogisticRegression))
    }
}

/// Your own log density: a vectorized callable `f(X) -> (log_p, grad)` with `X` of shape
/// (n, d), `log_p` (n,) and `grad` (n, d) (numpy arrays, or anything `np.asarray` takes, e.g.
/// a `jax.vmap`ed function's output). It is called once per batch of draws; log p may be
/// unnormalized.
#[pyclass(extends = Target, frozen, module = "klfit")]
#[derive(Debug)]
pub struct LogDensity;

#[pymethods]
impl LogDensity {
    #[new]
    fn new(f: &Bound<'_, PyAny>, dim: usize) -> PyResult<PyClassInitializer<Self>> {
        if !f.is_callable() {
            return Err(PyValueError::new_err(
                "f must be callable: f(X) -> (log_p, grad)",
            ));
        }
        if dim == 0 {
            return Err(PyValueError::new_err("dim must be at least 1"));
        }
        let base = Target {
            inner: Inner::Callable {
                f: f.clone().unbind(),
                dim,
            },
        };
        Ok(init(base, LogDensity))
    }
}
