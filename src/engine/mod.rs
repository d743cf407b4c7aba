//! The experiment engine: a validated [`Experiment`] in, a [`Run`] (target, samples, the fit,
//! the trace) out — a thin adapter over the library's fit builder, [`kl_fit::Fit`]. No files:
//! the caller reads the experiment and writes what the run gives.
//!
//! Random draws, all from one `Pcg64` seeded by the experiment's `seed`, in this order: the target
//! (random-mvn), then the fit's own (the initial model when `random = true`, `n_samples` draws of
//! p — the data of forward-kl-samples and the figures' dots; targets without a sampler draw none —
//! then the objective's ε for each step). The `"auto"` step-size search and the diagnostics draw
//! from their own streams, seeded from `seed`, so they change none of these.

pub mod trace;

use std::ops::ControlFlow;

use kl_dist::AnyDensity;
use kl_fit::{Fit, FitResult, Progress, Termination};
use rand::SeedableRng;
use rand_pcg::Pcg64;

use crate::config::{Experiment, TargetSpec};
use crate::error::{Error, FitError};
use trace::Trace;

/// The exact KL along a fit (kl-fit's).
pub use kl_fit::exact_kl;

/// A finished run: the resolved target, p's samples, the fit and its trace.
#[derive(Debug, Clone)]
pub struct Run {
    /// What was run.
    pub experiment: Experiment,
    /// `None` for a samples target.
    pub target: Option<AnyDensity>,
    /// Row-major `n × d`: the samples file, or `n_samples` draws of the target (empty for a
    /// target without a sampler).
    pub samples: Vec<f64>,
    /// The fit: its answer, termination, diagnostics and recorded states.
    pub fit: FitResult,
    /// What the fit recorded, as written to `trace.json`.
    pub trace: Trace,
}

/// Runs an experiment.
///
/// # Errors
/// [`Error::Fit`] naming the experiment, with the [`FitError`] that stopped it.
pub fn run(exp: &Experiment) -> Result<Run, Error> {
    run_observed(exp, &mut |_| ControlFlow::Continue(()))
}

/// [`run`], showing every iteration's [`Progress`] to `progress`; returning
/// `ControlFlow::Break` interrupts the fit ([`FitError::Interrupted`]).
///
/// # Errors
/// As [`run`].
pub fn run_observed(
    exp: &Experiment,
    progress: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
) -> Result<Run, Error> {
    run_inner(exp, progress).map_err(|source| Error::Fit {
        experiment: format!("{} ({})", exp.name, exp.path.display()),
        source,
    })
}

/// The target's density (`None` for a samples target); a random Gaussian is drawn from `rng`.
/// Every other kind was built once, by the validation.
pub fn build_target(exp: &Experiment, rng: &mut Pcg64) -> Result<Option<AnyDensity>, FitError> {
    Ok(match &exp.target {
        TargetSpec::Mvn(m) => Some(AnyDensity::Mvn(m.clone())),
        TargetSpec::Mixture(m) => Some(AnyDensity::Mixture(m.clone())),
        TargetSpec::RandomMvn { dim, shift } => Some(AnyDensity::Mvn(
            kl_dist::random_mvn(rng, *dim, *shift).map_err(FitError::Target)?,
        )),
        TargetSpec::Samples { .. } => None,
        TargetSpec::Banana(p) => Some(AnyDensity::Banana(p.clone())),
        TargetSpec::Funnel(p) => Some(AnyDensity::Funnel(p.clone())),
        TargetSpec::StudentT(p) => Some(AnyDensity::StudentT(p.clone())),
        TargetSpec::Ring(p) => Some(AnyDensity::Ring(p.clone())),
        TargetSpec::LogisticRegression(l) => {
            Some(AnyDensity::LogisticRegression(l.density.clone()))
        }
    })
}

/// The fit of an experiment: validated config → builder.
pub fn builder<'a>(
    exp: &Experiment,
    target: Option<&AnyDensity>,
    rng: Pcg64,
) -> Result<Fit<'a>, FitError> {
    let n = exp.objective.n_samples;
    let fit = match (&exp.target, target) {
        (TargetSpec::Samples { data, dim, .. }, _) => Fit::forward_kl_samples(data.clone(), *dim),
        (_, Some(p)) => {
            Fit::new(p.clone(), exp.objective.kind).p_samples(if p.can_sample() { n } else { 0 })
        }
        (_, None) => unreachable!("every kind but samples has a density"),
    };
    let mut fit = fit
        .family(exp.family)
        .n_samples(n)
        .optimizer(exp.optimizer)
        .max_iters(exp.n_iters)
        .init(exp.init.clone())
        .diagnostics(exp.diagnostics.n_draws)
        .seed(exp.seed)
        .generator(rng);
    if let Some(every) = exp.diagnostics.every {
        fit = fit.diagnostics_every(every);
    }
    if let Some(stop) = exp.stopping {
        fit = fit.stop(stop);
    }
    Ok(fit)
}

fn run_inner(
    exp: &Experiment,
    progress: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
) -> Result<Run, FitError> {
    let mut rng = Pcg64::seed_from_u64(exp.seed);
    let target = build_target(exp, &mut rng)?;
    let fit = builder(exp, target.as_ref(), rng)?
        .observer(progress)
        .run()?;
    if let Termination::Interrupted { at } = fit.termination() {
        return Err(FitError::Interrupted { iteration: at });
    }
    let samples = fit.p_samples().to_vec();
    let trace = Trace::new(exp, &fit);
    Ok(Run {
        experiment: exp.clone(),
        target,
        samples,
        fit,
        trace,
    })
}
