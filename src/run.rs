//! The experiment engine: a validated [`Experiment`] in, a [`Trace`] out.
//!
//! Random draws, all from one `Pcg64` seeded by the experiment's `seed`, in this order: the target
//! (random-mvn), the initial model (`random = true`), `n_samples` draws of p (the data of
//! forward-kl-samples and the figures' dots), then the objective's ε for each step.

use std::path::{Path, PathBuf};

use kl_dist::{AnyDensity, LogDensity, Mvn};
use kl_grad::{Estimator, ForwardKlExact, ForwardKlSamples, Objective, ReverseKl, ReverseKlExact};
use kl_opt::{Adam, Optimizer, Sgd};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use serde::Serialize;

use crate::config::{Experiment, InitSpec, ObjectiveKind, OptimizerSpec, TargetSpec};
use crate::error::Error;
use crate::exact_kl::ExactKl;

/// One state of the fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Iteration {
    /// Number of updates made so far.
    pub iteration: usize,
    pub mean: Vec<f64>,
    /// The raw factor L, as rows.
    pub raw: Vec<Vec<f64>>,
    /// The objective at this state (for Monte Carlo objectives, with the draws used for the update from it).
    pub loss: f64,
    pub grad_norm: f64,
    /// D(p ‖ q) at this state; `null` for a samples target.
    pub kl_forward: Option<f64>,
    /// D(q ‖ p) at this state; `null` for a samples target.
    pub kl_reverse: Option<f64>,
}

/// What `trace.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    pub name: String,
    pub dim: usize,
    pub objective: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimator: Option<String>,
    pub optimizer: String,
    pub learning_rate: f64,
    pub n_iters: usize,
    pub seed: u64,
    /// How `kl_forward` and `kl_reverse` were computed (`null` when they are not).
    pub kl_method: Option<String>,
    pub iterations: Vec<Iteration>,
}

impl Trace {
    /// The model at iteration `k` as a normal.
    pub fn model(&self, k: usize) -> Result<Mvn, kl_dist::Error> {
        let it = &self.iterations[k];
        let raw: Vec<f64> = it.raw.iter().flatten().copied().collect();
        Mvn::from_factor(&it.mean, &raw)
    }
}

/// A finished run: the resolved target, p's samples and the trace.
#[derive(Debug, Clone)]
pub struct Run {
    pub experiment: Experiment,
    /// `None` for a samples target.
    pub target: Option<AnyDensity>,
    /// Row-major `n × d`: the samples file, or `n_samples` draws of the target.
    pub samples: Vec<f64>,
    pub trace: Trace,
}

/// Runs an experiment.
pub fn run(exp: &Experiment) -> Result<Run, Error> {
    // Names the experiment and its file, so that a failed fit points at what to change.
    let fit_err = |message: String| Error::Fit {
        experiment: format!("{} ({})", exp.name, exp.path.display()),
        message,
    };
    let mut rng = Pcg64::seed_from_u64(exp.seed);
    let target = match &exp.target {
        TargetSpec::Mvn(m) => Some(AnyDensity::Mvn(m.clone())),
        TargetSpec::Mixture(m) => Some(AnyDensity::Mixture(m.clone())),
        TargetSpec::RandomMvn { dim, shift } => Some(AnyDensity::Mvn(
            kl_dist::random_mvn(&mut rng, *dim, *shift)
                .map_err(|e| fit_err(format!("the random target: {e}")))?,
        )),
        TargetSpec::Samples { .. } => None,
    };
    let d = exp.target.dim();
    let theta0 = match &exp.init {
        InitSpec::Explicit { mean, raw } => kl_grad::pack_theta(mean, raw),
        InitSpec::Random => (0..d + d * d)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect(),
    };
    let samples = match (&exp.target, &target) {
        (TargetSpec::Samples { data, .. }, _) => data.clone(),
        (_, Some(p)) => {
            let mut s = vec![0.0; exp.objective.n_samples * d];
            p.try_sample(&mut rng, &mut s)
                .map_err(|e| fit_err(format!("the target's samples: {e}")))?;
            s
        }
        (_, None) => unreachable!("only a samples target has no density"),
    };

    let gaussian = |t: &Option<AnyDensity>| match t {
        Some(AnyDensity::Mvn(m)) => Ok(m.clone()),
        _ => Err(fit_err("this objective needs a Gaussian target".into())),
    };
    let mut objective: Box<dyn Objective> = match exp.objective.kind {
        ObjectiveKind::ForwardKlExact => Box::new(ForwardKlExact::new(gaussian(&target)?)),
        ObjectiveKind::ReverseKlExact => Box::new(ReverseKlExact::new(gaussian(&target)?)),
        ObjectiveKind::ForwardKlSamples => Box::new(
            ForwardKlSamples::new(&samples, d).map_err(|e| fit_err(format!("the samples: {e}")))?,
        ),
        ObjectiveKind::ReverseKl(estimator) => {
            let p = target
                .clone()
                .ok_or_else(|| fit_err("reverse-kl needs a density target".into()))?;
            Box::new(
                ReverseKl::new(p, exp.objective.n_samples, estimator, &mut rng)
                    .map_err(|e| fit_err(e.to_string()))?,
            )
        }
    };

    let mut optimizer: Box<dyn Optimizer> = match exp.optimizer {
        OptimizerSpec::Sgd {
            learning_rate,
            momentum,
        } => Box::new(Sgd::try_new(learning_rate, momentum).map_err(|e| fit_err(e.to_string()))?),
        OptimizerSpec::Adam {
            learning_rate,
            beta1,
            beta2,
            eps,
        } => Box::new(
            Adam::try_new(learning_rate, beta1, beta2, eps).map_err(|e| fit_err(e.to_string()))?,
        ),
    };
    let stochastic = objective.is_stochastic();
    let scale = problem_scale(&exp.target, target.as_ref(), &theta0);
    let limit = DIVERGENCE_FACTOR * scale;
    let records = kl_opt::minimize(&theta0, &mut optimizer, exp.n_iters, |k, theta, grad| {
        if let Some((index, &value)) = theta.iter().enumerate().find(|(_, v)| v.abs() > limit) {
            return Err(StepError::Diverged { index, value });
        }
        if stochastic && k > 0 {
            objective.resample(&mut rng);
        }
        objective
            .value_and_grad(theta, grad)
            .map_err(StepError::Objective)
    })
    .map_err(|e| {
        let message = match &e {
            kl_opt::Error::Objective {
                iteration,
                source: StepError::Diverged { index, value },
            } => format!(
                "iteration {iteration}: the fit diverged: parameter {index} is {value:e}, beyond \
                 {DIVERGENCE_FACTOR:e} × the problem's scale ({scale}); lower the learning rate"
            ),
            _ => match std::error::Error::source(&e) {
                Some(source) => format!("{e}: {source}"),
                None => e.to_string(),
            },
        };
        fit_err(message)
    })?;

    let kl = target.clone().map(|t| ExactKl::new(t, exp.seed));
    let mut iterations = Vec::with_capacity(records.len());
    let mut inaccurate = Vec::new();
    for r in &records {
        let (mean, raw) = r.theta.split_at(d);
        let (kl_forward, kl_reverse) = match &kl {
            Some(kl) => {
                let q = Mvn::from_factor(mean, raw)
                    .map_err(|e| fit_err(format!("iteration {}: the model: {e}", r.iteration)))?;
                let (f, b) = kl.eval(&q);
                if !kl.is_accurate(&q) {
                    inaccurate.push(r.iteration.to_string());
                }
                if !(f.is_finite() && b.is_finite()) {
                    return Err(fit_err(format!(
                        "iteration {}: the exact KL is not finite",
                        r.iteration
                    )));
                }
                (Some(f), Some(b))
            }
            None => (None, None),
        };
        iterations.push(Iteration {
            iteration: r.iteration,
            mean: mean.to_vec(),
            raw: raw.chunks(d).map(<[f64]>::to_vec).collect(),
            loss: r.loss,
            grad_norm: r.grad_norm,
            kl_forward,
            kl_reverse,
        });
    }
    let estimator = match exp.objective.kind {
        ObjectiveKind::ReverseKl(Estimator::Total) => Some("total".to_string()),
        ObjectiveKind::ReverseKl(Estimator::Stl) => Some("stl".to_string()),
        _ => None,
    };
    let trace = Trace {
        name: exp.name.clone(),
        dim: d,
        objective: exp.objective.kind.name().to_string(),
        estimator,
        optimizer: exp.optimizer.name().to_string(),
        learning_rate: exp.optimizer.learning_rate(),
        n_iters: exp.n_iters,
        seed: exp.seed,
        kl_method: kl.as_ref().map(|k| {
            let mut m = k.method().describe();
            if !inaccurate.is_empty() {
                m.push_str(&format!(
                    "; at iterations {} q is too wide for the grid: those values are approximate",
                    inaccurate.join(", ")
                ));
            }
            m
        }),
        iterations,
    };
    Ok(Run {
        experiment: exp.clone(),
        target,
        samples,
        trace,
    })
}

/// A parameter beyond this many times the problem's scale means the fit has diverged (the loss
/// may still be finite, with Σ = L Lᵀ astronomically large): the run stops there.
const DIVERGENCE_FACTOR: f64 = 1e8;

/// Why a step of the fit failed.
#[derive(Debug)]
enum StepError {
    Objective(kl_grad::Error),
    Diverged { index: usize, value: f64 },
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Objective(e) => e.fmt(f),
            StepError::Diverged { index, value } => {
                write!(f, "parameter {index} is {value:e}: the fit diverged")
            }
        }
    }
}

impl std::error::Error for StepError {}

/// The size of the problem: the largest of 1, the initial parameters, and the target's reach
/// (|mean| + standard deviation, or the largest sample coordinate).
fn problem_scale(spec: &TargetSpec, target: Option<&AnyDensity>, theta0: &[f64]) -> f64 {
    let abs_max = |v: &[f64]| v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let reach = match (spec, target) {
        (TargetSpec::Samples { data, .. }, _) => abs_max(data),
        (_, Some(p)) => {
            let d = p.dim();
            let var = p.covariance().map_or(0.0, |cov| {
                (0..d).map(|i| cov[i * d + i]).fold(0.0_f64, f64::max)
            });
            p.mean().map_or(0.0, |m| abs_max(&m)) + var.sqrt()
        }
        (_, None) => 0.0,
    };
    1.0_f64.max(abs_max(theta0)).max(reach)
}

/// The trace as pretty JSON (deterministic: shortest round-trip floats, fixed key order).
pub fn trace_json(trace: &Trace) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(trace).expect("a trace of finite numbers serializes");
    out.push(b'\n');
    out
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename, so a
/// failure never leaves a partial file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        action: "create the folder",
        source,
    })?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            path: path.to_path_buf(),
            action: "write",
            source,
        }
    })
}

/// Runs `file`, draws its figures, and only then writes `out/<name>/trace.json` and the figures
/// (each atomically), so a failure at any stage leaves no new file behind. Returns the run and
/// the paths written, the trace first.
pub fn fit_file(
    file: &Path,
    out: &Path,
    style: crate::figures::Style,
) -> Result<(Run, Vec<PathBuf>), Error> {
    let exp = crate::config::load(file)?;
    let run = run(&exp)?;
    let figures = crate::figures::run_figures(&run, style)?;
    let dir = out.join(&exp.name);
    let mut written = vec![dir.join("trace.json")];
    write_atomic(&written[0], &trace_json(&run.trace))?;
    for f in figures {
        let path = dir.join(&f.name);
        write_atomic(&path, &f.bytes)?;
        written.push(path);
    }
    Ok((run, written))
}
