//! `klfit.fit(...)`: Python's arguments → the builder `kl_fit::Fit` → a `Fit` result object.
//! The string options are tables (name → value), so a new objective is one line.

use kl_dist::LogDensity;
use kl_fit::{
    Estimator, Family, FitResult, Init, ObjectiveKind, Optimizer, PathfinderOptions, StepSize,
    Stopping, Termination,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use rand::SeedableRng;

use crate::arrays::{array1, array2, array3, matrix, vector};
use crate::errors::{fit_error, value_error};
use crate::interrupt::Watch;
use crate::targets::{Mvn, Target};

/// What an objective needs from the arguments besides its name.
struct ObjectiveArgs {
    estimator: Estimator,
    alpha: Option<f64>,
    /// `n_samples`: GSM's and BaM's batch size B.
    n_samples: usize,
    /// `learning_rate`: BaM's λ (a number: constant; "auto": λₜ = B d / (t + 1)).
    learning_rate: StepSize,
    /// Pathfinder's J and number of paths (its defaults when `None`).
    history: Option<usize>,
    n_paths: Option<usize>,
}

type MakeObjective = fn(&ObjectiveArgs) -> PyResult<ObjectiveKind>;

/// The objectives by name (the names of the experiment files and traces).
const OBJECTIVES: &[(&str, MakeObjective)] = &[
    ("reverse-kl", |a| Ok(ObjectiveKind::ReverseKl(a.estimator))),
    ("forward-kl-samples", |_| {
        Ok(ObjectiveKind::ForwardKlSamples)
    }),
    ("forward-kl-is", |_| Ok(ObjectiveKind::ForwardKlIs)),
    ("forward-kl-exact", |_| Ok(ObjectiveKind::ForwardKlExact)),
    ("reverse-kl-exact", |_| Ok(ObjectiveKind::ReverseKlExact)),
    ("renyi", |a| match a.alpha {
        Some(alpha) => Ok(ObjectiveKind::Renyi { alpha }),
        None => Err(PyValueError::new_err(
            "objective=\"renyi\" needs alpha (e.g. alpha=0.5)",
        )),
    }),
    ("pathfinder", |a| {
        let d = PathfinderOptions::default();
        Ok(ObjectiveKind::Pathfinder(PathfinderOptions {
            history: a.history.unwrap_or(d.history),
            n_paths: a.n_paths.unwrap_or(d.n_paths),
            ..d
        }))
    }),
    ("gsm", |a| {
        Ok(ObjectiveKind::Gsm {
            batch_size: a.n_samples,
        })
    }),
    ("bam", |a| {
        Ok(ObjectiveKind::Bam {
            batch_size: a.n_samples,
            schedule: match a.learning_rate {
                StepSize::Fixed(lambda) => kl_fit::Schedule::Constant(lambda),
                StepSize::Auto => kl_fit::Schedule::Decaying { scale: 1.0 },
            },
        })
    }),
];

const FAMILIES: &[(&str, Family)] = &[
    ("full-rank", Family::FullRank),
    ("mean-field", Family::MeanField),
];

type MakeOptimizer = fn() -> Optimizer;

const OPTIMIZERS: &[(&str, MakeOptimizer)] = &[("adam", Optimizer::adam), ("sgd", Optimizer::sgd)];

const ESTIMATORS: &[(&str, Estimator)] = &[("stl", Estimator::Stl), ("total", Estimator::Total)];

const FIGURES: &[&str] = crate::figure::KINDS;

/// The entry of `table` named `name`, or a `ValueError` listing the names.
fn lookup<T: Copy>(table: &[(&str, T)], name: &str, what: &str) -> PyResult<T> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<String> = table.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            PyValueError::new_err(format!(
                "{what}=\"{name}\" is not one of {}",
                names.join(", ")
            ))
        })
}

fn name_of<T: PartialEq>(table: &[(&'static str, T)], v: &T) -> &'static str {
    table.iter().find(|(_, t)| t == v).map_or("?", |(n, _)| n)
}

/// The step size: "auto" (or None) or a positive float.
fn step_size(rate: Option<&Bound<'_, PyAny>>) -> PyResult<StepSize> {
    let Some(rate) = rate.filter(|r| !r.is_none()) else {
        return Ok(StepSize::Auto);
    };
    if rate.is_instance_of::<PyString>() {
        return match rate.extract::<String>()?.as_str() {
            "auto" => Ok(StepSize::Auto),
            other => Err(PyValueError::new_err(format!(
                "learning_rate=\"{other}\": give \"auto\" or a positive number"
            ))),
        };
    }
    let r: f64 = rate
        .extract()
        .map_err(|_| PyValueError::new_err("learning_rate: give \"auto\" or a positive number"))?;
    Ok(StepSize::Fixed(r))
}

/// The start: None, "standard", "random", "laplace", an `Mvn`, or a dict with `mean` and one
/// of `raw` (full rank: a square factor L, Σ = L Lᵀ), `sd` (mean field) or `cov`.
fn initial(init: Option<&Bound<'_, PyAny>>, d: usize) -> PyResult<Init> {
    let Some(init) = init.filter(|i| !i.is_none()) else {
        return Ok(Init::Standard);
    };
    if init.is_instance_of::<PyString>() {
        return match init.extract::<String>()?.as_str() {
            "standard" => Ok(Init::Standard),
            "random" => Ok(Init::Random),
            "laplace" => Ok(Init::Laplace),
            "pathfinder" => Ok(Init::Pathfinder(PathfinderOptions::default())),
            other => Err(PyValueError::new_err(format!(
                "init=\"{other}\" is not one of \"standard\", \"random\", \"laplace\", \
                 \"pathfinder\" (or give an Mvn, or a dict with mean and raw, sd or cov)"
            ))),
        };
    }
    if let Ok(t) = init.cast::<Target>() {
        return match Mvn::of(t.get()) {
            Some(m) => Ok(Init::Gaussian(m.clone())),
            None => Err(PyValueError::new_err(
                "init: a target as a start must be an Mvn",
            )),
        };
    }
    let Ok(dict) = init.cast::<PyDict>() else {
        return Err(PyValueError::new_err(
            "init: give None, \"standard\", \"random\", \"laplace\", \"pathfinder\", an Mvn, or a \
             dict with mean and raw, sd or cov",
        ));
    };
    let get = |k: &str| dict.get_item(k);
    let mean = match get("mean")? {
        Some(m) => vector(&m, Some(d), "init['mean']")?,
        None => return Err(PyValueError::new_err("init: the dict needs 'mean'")),
    };
    if let Some(raw) = get("raw")? {
        let (raw, _, _) = matrix(&raw, Some(d), Some(d), "init['raw']")?;
        return Ok(Init::Explicit { mean, raw });
    }
    if let Some(sd) = get("sd")? {
        let sd = vector(&sd, Some(d), "init['sd']")?;
        return Ok(Init::MeanField { mean, sd });
    }
    if let Some(cov) = get("cov")? {
        let (cov, _, _) = matrix(&cov, Some(d), Some(d), "init['cov']")?;
        return Ok(Init::Gaussian(
            kl_dist::Mvn::new(&mean, &cov).map_err(value_error)?,
        ));
    }
    Err(PyValueError::new_err(
        "init: the dict needs one of 'raw', 'sd' or 'cov' beside 'mean'",
    ))
}

/// Everything the fit needs, `Send`, so the builder can be made with the GIL released.
struct Settings {
    target: Option<kl_fit::Target>,
    data: Option<(Vec<f64>, usize)>,
    objective: ObjectiveKind,
    family: Family,
    optimizer: Optimizer,
    n_iters: usize,
    n_samples: usize,
    stopping: Option<Stopping>,
    init: Init,
    diagnostics: usize,
    seed: u64,
    exact_kl: bool,
}

impl Settings {
    fn run(self, watch: &mut Watch) -> Result<FitResult, kl_fit::Error> {
        let fit = match (self.target, self.data) {
            (Some(t), _) => kl_fit::Fit::new(t, self.objective),
            (None, Some((data, d))) => kl_fit::Fit::forward_kl_samples(data, d),
            (None, None) => unreachable!("fit() gives a target or data"),
        };
        let mut fit = fit
            .family(self.family)
            .optimizer(self.optimizer)
            .max_iters(self.n_iters)
            .n_samples(self.n_samples)
            .init(self.init)
            .diagnostics(self.diagnostics)
            .seed(self.seed)
            .exact_kl(self.exact_kl);
        if let Some(s) = self.stopping {
            fit = fit.stop(s);
        }
        fit.observer(|_| watch.check()).run()
    }
}

/// Fits a Gaussian q to `target`. See the stub (`klfit/__init__.pyi`) for the arguments.
#[pyfunction]
#[pyo3(signature = (
    target, objective = "reverse-kl", family = "full-rank", optimizer = "adam",
    learning_rate = None, n_iters = 1000, n_samples = 100, tol_rel_obj = None, eval_every = 100,
    init = None, diagnostics = 4000, seed = 0, estimator = "stl", alpha = None, exact_kl = true,
    history = None, n_paths = None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    objective: &str,
    family: &str,
    optimizer: &str,
    learning_rate: Option<&Bound<'_, PyAny>>,
    n_iters: usize,
    n_samples: usize,
    tol_rel_obj: Option<f64>,
    eval_every: usize,
    init: Option<&Bound<'_, PyAny>>,
    diagnostics: usize,
    seed: u64,
    estimator: &str,
    alpha: Option<f64>,
    exact_kl: bool,
    history: Option<usize>,
    n_paths: Option<usize>,
) -> PyResult<Fit> {
    let rate = step_size(learning_rate)?;
    let args = ObjectiveArgs {
        estimator: lookup(ESTIMATORS, estimator, "estimator")?,
        alpha,
        n_samples,
        learning_rate: rate,
        history,
        n_paths,
    };
    let kind = lookup(OBJECTIVES, objective, "objective")?(&args)?;
    if alpha.is_some() && !matches!(kind, ObjectiveKind::Renyi { .. }) {
        return Err(PyValueError::new_err(format!(
            "alpha is for objective=\"renyi\", not \"{objective}\""
        )));
    }
    if (history.is_some() || n_paths.is_some()) && !matches!(kind, ObjectiveKind::Pathfinder(_)) {
        return Err(PyValueError::new_err(format!(
            "history and n_paths are for objective=\"pathfinder\", not \"{objective}\""
        )));
    }
    if rate != StepSize::Auto
        && matches!(
            kind,
            ObjectiveKind::Pathfinder(_) | ObjectiveKind::Gsm { .. }
        )
    {
        return Err(PyValueError::new_err(format!(
            "learning_rate: objective=\"{objective}\" has no step size (BaM's λ is its \
             learning_rate)"
        )));
    }
    let (t, slot, data, d) = if let Ok(t) = target.cast::<Target>() {
        let (rt, slot) = t.get().for_fit(py);
        let d = rt.dim();
        (Some(rt), slot, None, d)
    } else if kind == ObjectiveKind::ForwardKlSamples {
        let (x, _, d) = matrix(target, None, None, "target (samples)")?;
        (None, None, Some((x, d)), d)
    } else {
        return Err(PyValueError::new_err(format!(
            "target: expected a klfit Target (Mvn, Mixture, Banana, …, LogDensity), got {}; an \
             (n, d) array of samples is a target for objective=\"forward-kl-samples\"",
            target.get_type().name()?
        )));
    };
    let exact = matches!(
        kind,
        ObjectiveKind::ForwardKlExact | ObjectiveKind::ReverseKlExact
    );
    if exact && t.as_ref().is_none_or(|t| t.gaussian().is_none()) {
        return Err(PyValueError::new_err(format!(
            "objective=\"{objective}\" is the closed form for a normal target: give an Mvn"
        )));
    }
    let settings = Settings {
        target: t.clone(),
        data,
        objective: kind,
        family: lookup(FAMILIES, family, "family")?,
        optimizer: lookup(OPTIMIZERS, optimizer, "optimizer")?().with_learning_rate(rate),
        n_iters,
        n_samples,
        stopping: tol_rel_obj.map(|tol| Stopping::rel_obj(tol).every(eval_every)),
        init: initial(init, d)?,
        diagnostics,
        seed,
        exact_kl,
    };
    let watch_slot = slot.clone();
    let (result, raised) = py.detach(move || {
        let mut watch = Watch::new(watch_slot);
        let r = settings.run(&mut watch);
        (r, watch.raised)
    });
    if let Some(e) = slot.and_then(|s| s.take()) {
        return Err(e);
    }
    let interrupted = match &result {
        Ok(r) => match r.termination() {
            Termination::Interrupted { at } => Some(at),
            _ => None,
        },
        Err(_) => None,
    };
    if let Some(e) = raised {
        return Err(crate::interrupt::with_iteration(py, e, interrupted, "fit"));
    }
    let result = result.map_err(fit_error)?;
    if let Some(at) = interrupted {
        return Err(PyKeyboardInterrupt::new_err(format!(
            "the fit was interrupted at iteration {at}"
        )));
    }
    Ok(Fit {
        result,
        d,
        target: t,
    })
}

/// A finished fit: q (its mean and covariance), why it stopped, whether it can be trusted
/// (Pareto k̂, ESS, IW-ELBO) and the recorded states.
#[pyclass(frozen, module = "klfit")]
#[derive(Debug)]
pub struct Fit {
    pub(crate) result: FitResult,
    pub(crate) d: usize,
    pub(crate) target: Option<kl_fit::Target>,
}

impl Fit {
    fn records(&self) -> &[kl_fit::Record] {
        self.result.records()
    }

    fn column<'py>(
        &self,
        py: Python<'py>,
        f: impl Fn(&kl_fit::Record) -> f64,
    ) -> Bound<'py, PyAny> {
        array1(py, self.records().iter().map(f).collect()).into_any()
    }

    fn optional_column<'py>(
        &self,
        py: Python<'py>,
        f: impl Fn(&kl_fit::Record) -> Option<f64>,
    ) -> Option<Bound<'py, PyAny>> {
        if self.records().iter().all(|r| f(r).is_none()) {
            return None;
        }
        Some(self.column(py, |r| f(r).unwrap_or(f64::NAN)))
    }
}

#[pymethods]
impl Fit {
    /// The dimension d.
    #[getter]
    fn dim(&self) -> usize {
        self.d
    }

    /// q's mean (d,): for a Monte Carlo objective the average over the final window.
    #[getter]
    fn mean<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        array1(py, self.result.q().mean().to_vec()).into_any()
    }

    /// q's covariance (d, d).
    #[getter]
    fn cov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.result.q().covariance().to_vec();
        Ok(array2(py, c, self.d, self.d)?.into_any())
    }

    /// The last iterate's mean.
    #[getter]
    fn last_mean<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        array1(py, self.result.last_q().mean().to_vec()).into_any()
    }

    /// The last iterate's covariance.
    #[getter]
    fn last_cov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.result.last_q().covariance().to_vec();
        Ok(array2(py, c, self.d, self.d)?.into_any())
    }

    /// The iteration of each recorded state (k,).
    #[getter]
    fn iterations<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        let v: Vec<i64> = self.records().iter().map(|r| r.iteration as i64).collect();
        numpy::PyArray1::from_vec(py, v).into_any()
    }

    /// The objective at each recorded state (k,).
    #[getter]
    fn loss<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.column(py, |r| r.loss)
    }

    /// The gradient's norm at each recorded state (k,).
    #[getter]
    fn grad_norm<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.column(py, |r| r.grad_norm)
    }

    /// Gradient evaluations of the target so far, at each recorded state (k,).
    #[getter]
    fn n_grad_evals<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        let v: Vec<i64> = self
            .records()
            .iter()
            .map(|r| r.n_grad_evals as i64)
            .collect();
        numpy::PyArray1::from_vec(py, v).into_any()
    }

    /// Gradient evaluations of the target in all (the step-size search and diagnostics
    /// included).
    #[getter]
    fn total_grad_evals(&self) -> u64 {
        self.result.n_grad_evals()
    }

    /// D(p‖q) at each recorded state (NaN where unknown), or None when not computed.
    #[getter]
    fn kl_forward<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.optional_column(py, |r| r.kl_forward)
    }

    /// D(q‖p) at each recorded state (NaN where unknown), or None when not computed.
    #[getter]
    fn kl_reverse<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.optional_column(py, |r| r.kl_reverse)
    }

    /// q's mean at each recorded state (k, d).
    #[getter]
    fn means<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let k = self.records().len();
        let v: Vec<f64> = self
            .records()
            .iter()
            .flat_map(|r| r.mean().to_vec())
            .collect();
        Ok(array2(py, v, k, self.d)?.into_any())
    }

    /// q's covariance at each recorded state (k, d, d).
    #[getter]
    fn covs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let k = self.records().len();
        let v: Vec<f64> = self.records().iter().flat_map(|r| r.covariance()).collect();
        Ok(array3(py, v, (k, self.d, self.d))?.into_any())
    }

    /// Why the fit stopped: "converged", "max-iters" (or "interrupted").
    #[getter]
    fn termination(&self) -> &'static str {
        match self.result.termination() {
            Termination::Converged { .. } => "converged",
            Termination::MaxIters => "max-iters",
            Termination::Interrupted { .. } => "interrupted",
        }
    }

    /// The number of iterations made (where it stopped).
    #[getter]
    fn n_iters(&self) -> usize {
        self.result.n_iters()
    }

    /// The step size used (the one chosen, for learning_rate="auto").
    #[getter]
    fn learning_rate(&self) -> f64 {
        self.result.learning_rate()
    }

    /// The objective's name.
    #[getter]
    fn objective(&self) -> &'static str {
        self.result.objective().name()
    }

    /// The family: "full-rank" or "mean-field".
    #[getter]
    fn family(&self) -> &'static str {
        name_of(FAMILIES, &self.result.family())
    }

    /// Pareto k̂ of the importance weights p/q (None without diagnostics): < 0.5 good, 0.5–0.7
    /// usable, > 0.7 unreliable.
    #[getter]
    fn k_hat(&self) -> Option<f64> {
        self.result.diagnosis().map(|d| d.k_hat)
    }

    /// The effective sample size of those weights (None without diagnostics).
    #[getter]
    fn ess(&self) -> Option<f64> {
        self.result.diagnosis().map(|d| d.ess)
    }

    /// The importance-weighted ELBO (None without diagnostics).
    #[getter]
    fn iw_elbo(&self) -> Option<f64> {
        self.result.diagnosis().map(|d| d.iw_elbo)
    }

    /// "good", "usable" or "unreliable" (None without diagnostics).
    #[getter]
    fn verdict(&self) -> Option<String> {
        self.result.diagnosis().map(|d| d.verdict.to_string())
    }

    /// `n` draws of q as an (n, d) array.
    #[pyo3(signature = (n, seed = 0))]
    fn sample<'py>(&self, py: Python<'py>, n: usize, seed: u64) -> PyResult<Bound<'py, PyAny>> {
        use kl_dist::Sample;
        let q = self.result.q();
        let xs = py.detach(|| {
            let mut xs = vec![0.0; n * self.d];
            q.sample(&mut rand_pcg::Pcg64::seed_from_u64(seed), &mut xs);
            xs
        });
        Ok(array2(py, xs, n, self.d)?.into_any())
    }

    /// A figure as PNG bytes: "fit" (2-D: q's contours over p's, with q's path) or "loss" (the
    /// objective against the iteration). Show it with `IPython.display.Image(fit.figure())`.
    #[pyo3(signature = (kind = "fit"))]
    fn figure<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyBytes>> {
        if !FIGURES.contains(&kind) {
            return Err(PyValueError::new_err(format!(
                "figure kind \"{kind}\" is not one of {FIGURES:?}"
            )));
        }
        let bytes = py.detach(|| crate::figure::draw(self, kind))?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __repr__(&self) -> String {
        let m = self.result.q().mean();
        format!(
            "<klfit.Fit {} {} d={} {} after {} iterations, mean={:?}, k_hat={}>",
            self.objective(),
            self.family(),
            self.d,
            self.termination(),
            self.n_iters(),
            &m[..m.len().min(4)],
            self.k_hat().map_or("-".into(), |k| format!("{k:.3}"))
        )
    }
}
