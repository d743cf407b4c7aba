//! The experiment engine: a validated [`Experiment`] in, a [`Run`] (target, samples, trace) out.
//! No files: the caller reads the experiment and writes what the run gives.
//!
//! [`run`] is a sequence of small steps, each its own function: [`build_target`],
//! [`initial_theta`], [`draw_samples`], [`build_objective`], the step size (given, or searched),
//! `fit::fit`, then the trace ([`trace::Trace`]) with the exact KL along the fit.
//!
//! Random draws, all from one `Pcg64` seeded by the experiment's `seed`, in this order: the target
//! (random-mvn), the initial model (`random = true`), `n_samples` draws of p (the data of
//! forward-kl-samples and the figures' dots; targets without a sampler draw none), then the
//! objective's ε for each step. The `"auto"` step-size search and the diagnostics draw from their
//! own streams, seeded from `seed`, so they change none of these.

pub mod exact_kl;
pub mod fit;
pub mod trace;

use std::ops::ControlFlow;

use kl_dist::{AnyDensity, LogDensity, Mvn, Sample};
use kl_grad::{Estimator, ForwardKlExact, ForwardKlSamples, Objective, ReverseKl, ReverseKlExact};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

use crate::config::{Experiment, Family, InitSpec, ObjectiveKind, TargetSpec};
use crate::error::{Error, FitError};
use exact_kl::ExactKl;
use fit::{DIVERGENCE_FACTOR, first_blowup};
use trace::{Iteration, Trace};

/// A finished run: the resolved target, p's samples and the trace.
#[derive(Debug, Clone)]
pub struct Run {
    /// What was run.
    pub experiment: Experiment,
    /// `None` for a samples target.
    pub target: Option<AnyDensity>,
    /// Row-major `n × d`: the samples file, or `n_samples` draws of the target (empty for a
    /// target without a sampler).
    pub samples: Vec<f64>,
    /// What the fit recorded.
    pub trace: Trace,
}

/// Runs an experiment.
///
/// # Errors
/// [`Error::Fit`] naming the experiment, with the [`FitError`] that stopped it.
pub fn run(exp: &Experiment) -> Result<Run, Error> {
    run_observed(exp, &mut |_, _| ControlFlow::Continue(()))
}

/// [`run`], telling `progress(iteration, loss)` after every iteration; returning
/// `ControlFlow::Break` interrupts the fit ([`FitError::Interrupted`]).
///
/// # Errors
/// As [`run`].
pub fn run_observed(
    exp: &Experiment,
    progress: &mut dyn FnMut(usize, f64) -> ControlFlow<()>,
) -> Result<Run, Error> {
    run_inner(exp, progress).map_err(|source| Error::Fit {
        experiment: format!("{} ({})", exp.name, exp.path.display()),
        source,
    })
}

/// Seed offsets of the side streams (the step-size search, the diagnostics).
const SEARCH_STREAM: u64 = 0x5eed_0001;
const DIAGNOSTIC_STREAM: u64 = 0x5eed_0002;

/// Pareto k̂, ESS and the IW-ELBO of q against the target, from `n_draws` draws of q (from their
/// own stream, seeded by `seed` and the iteration) with log weights log p̃(x) − log q(x).
/// A diagnostic that cannot be computed (all weights zero) gives k̂ = ∞ and ESS 0.
pub fn diagnose(
    target: &dyn LogDensity,
    q: &Mvn,
    n_draws: usize,
    seed: u64,
    iteration: usize,
) -> trace::Diagnostic {
    let d = q.dim();
    let mut rng = Pcg64::seed_from_u64(
        seed.wrapping_add(DIAGNOSTIC_STREAM)
            .wrapping_add((iteration as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
    );
    let mut xs = vec![0.0; n_draws * d];
    q.sample(&mut rng, &mut xs);
    let mut lp = vec![0.0; n_draws];
    let mut lq = vec![0.0; n_draws];
    target.log_prob_batch(&xs, &mut lp);
    q.log_prob_batch(&xs, &mut lq);
    let lw: Vec<f64> = lp
        .iter()
        .zip(&lq)
        .map(|(p, q)| if p.is_nan() { f64::NEG_INFINITY } else { p - q })
        .collect();
    match kl_diag::diagnose(&lw) {
        Ok(diag) => trace::Diagnostic {
            iteration,
            k_hat: diag.pareto_k,
            ess: diag.ess,
            iw_elbo: diag.iw_elbo,
            verdict: diag.reliability.to_string(),
        },
        Err(_) => trace::Diagnostic {
            iteration,
            k_hat: f64::INFINITY,
            ess: 0.0,
            iw_elbo: f64::NEG_INFINITY,
            verdict: kl_diag::Reliability::Unreliable.to_string(),
        },
    }
}

fn run_inner(
    exp: &Experiment,
    progress: &mut dyn FnMut(usize, f64) -> ControlFlow<()>,
) -> Result<Run, FitError> {
    let mut rng = Pcg64::seed_from_u64(exp.seed);
    let target = build_target(exp, &mut rng)?;
    let theta0 = match (&exp.init, target.as_ref()) {
        (InitSpec::Laplace, Some(AnyDensity::LogisticRegression(l))) => {
            laplace_theta(exp.family, &l.laplace().map_err(FitError::Target)?)
        }
        _ => initial_theta(exp, &mut rng),
    };
    let samples = draw_samples(exp, target.as_ref(), &mut rng);
    let scale = problem_scale(exp, target.as_ref(), &samples, &theta0);
    let limit = DIVERGENCE_FACTOR * scale;

    let (rate, search) = match fit::fixed_rate(exp.optimizer) {
        Some(r) => (r, None),
        None => {
            let s = fit::search_rate(
                exp,
                &mut |r| build_objective(exp, target.as_ref(), &samples, r),
                &theta0,
                limit,
                exp.seed.wrapping_add(SEARCH_STREAM),
            )?;
            (s.chosen, Some(s))
        }
    };
    let mut objective = build_objective(exp, target.as_ref(), &samples, &mut rng)?;
    let mut optimizer = fit::optimizer(exp.optimizer, rate)?;
    let mut interrupted = None;
    let mut ess = Vec::new();
    let fitted = fit::fit(
        objective.as_mut(),
        optimizer.as_mut(),
        &theta0,
        exp.n_iters,
        limit,
        exp.stopping,
        &mut rng,
        &mut ess,
        &mut |k, loss| {
            let flow = progress(k, loss);
            if flow.is_break() {
                interrupted = Some(k);
            }
            flow
        },
    )?;
    if let Some(iteration) = interrupted {
        return Err(FitError::Interrupted { iteration });
    }
    if exp.objective.kind.is_deterministic()
        && let Some((iteration, start, value)) = first_blowup(fitted.records.iter().map(|r| r.loss))
    {
        return Err(FitError::BlewUp {
            iteration,
            what: "loss",
            start,
            value,
        });
    }
    let trace = build_trace(exp, target.as_ref(), &fitted, &ess, rate, search)?;
    Ok(Run {
        experiment: exp.clone(),
        target,
        samples,
        trace,
    })
}

/// The target's density (`None` for a samples target); a random Gaussian is drawn from `rng`.
pub fn build_target(exp: &Experiment, rng: &mut Pcg64) -> Result<Option<AnyDensity>, FitError> {
    Ok(match &exp.target {
        TargetSpec::Mvn(m) => Some(AnyDensity::Mvn(m.clone())),
        TargetSpec::Mixture(m) => Some(AnyDensity::Mixture(m.clone())),
        TargetSpec::RandomMvn { dim, shift } => Some(AnyDensity::Mvn(
            kl_dist::random_mvn(rng, *dim, *shift).map_err(FitError::Target)?,
        )),
        TargetSpec::Samples { .. } => None,
        TargetSpec::Banana { scale, curvature } => Some(AnyDensity::Banana(
            kl_dist::Banana::new(*scale, *curvature).map_err(FitError::Target)?,
        )),
        TargetSpec::Funnel { dim, scale } => Some(AnyDensity::Funnel(
            kl_dist::Funnel::new(*dim, *scale).map_err(FitError::Target)?,
        )),
        TargetSpec::StudentT { df, mean, scale } => Some(AnyDensity::StudentT(
            kl_dist::StudentT::new(*df, mean, scale).map_err(FitError::Target)?,
        )),
        TargetSpec::Ring { dim, radius, width } => Some(AnyDensity::Ring(
            kl_dist::Ring::with_dim(*dim, *radius, *width).map_err(FitError::Target)?,
        )),
        TargetSpec::LogisticRegression(l) => Some(AnyDensity::LogisticRegression(
            kl_dist::LogisticRegression::new(
                &l.x,
                l.features.len(),
                &l.y,
                kl_dist::LogisticOptions {
                    prior_scale: l.prior_scale,
                    intercept: l.intercept,
                    standardize: l.standardize,
                },
            )
            .map_err(FitError::Target)?,
        )),
    })
}

/// The number of parameters of the family in dimension `d`.
pub fn n_params(family: Family, d: usize) -> usize {
    match family {
        Family::FullRank => d + d * d,
        Family::MeanField => 2 * d,
    }
}

/// θ₀: given (μ and L, or μ and σ → ω = ln σ), or every entry ~ N(0, 1) from `rng`.
pub fn initial_theta(exp: &Experiment, rng: &mut Pcg64) -> Vec<f64> {
    let d = exp.target.dim();
    match &exp.init {
        InitSpec::Explicit { mean, raw } => kl_grad::pack_theta(mean, raw),
        InitSpec::MeanField { mean, sd } => {
            let log_sd: Vec<f64> = sd.iter().map(|s| s.ln()).collect();
            kl_grad::pack_theta(mean, &log_sd)
        }
        InitSpec::Random => (0..n_params(exp.family, d))
            .map(|_| StandardNormal.sample(rng))
            .collect(),
        InitSpec::Laplace => unreachable!("the Laplace start is built from the target in run()"),
    }
}

/// θ of the normal `q` in `family`: μ and its Cholesky factor, or μ and ω = ln √Σᵢᵢ.
pub fn laplace_theta(family: Family, q: &Mvn) -> Vec<f64> {
    let d = q.dim();
    match family {
        Family::FullRank => kl_grad::pack_theta(q.mean(), q.cholesky().factor()),
        Family::MeanField => {
            let cov = q.covariance();
            let omega: Vec<f64> = (0..d).map(|i| 0.5 * cov[i * d + i].ln()).collect();
            kl_grad::pack_theta(q.mean(), &omega)
        }
    }
}

/// The samples of p: the samples file's, or `n_samples` draws of the target when it has a
/// sampler (none otherwise).
pub fn draw_samples(exp: &Experiment, target: Option<&AnyDensity>, rng: &mut Pcg64) -> Vec<f64> {
    match (&exp.target, target) {
        (TargetSpec::Samples { data, .. }, _) => data.clone(),
        (_, Some(p)) if p.can_sample() => {
            let mut s = vec![0.0; exp.objective.n_samples * exp.target.dim()];
            p.try_sample(rng, &mut s)
                .expect("can_sample() says the target has a sampler");
            s
        }
        _ => Vec::new(),
    }
}

/// The objective of the experiment, its draws from `rng`, for the experiment's family.
pub fn build_objective(
    exp: &Experiment,
    target: Option<&AnyDensity>,
    samples: &[f64],
    rng: &mut dyn Rng,
) -> Result<Box<dyn Objective>, FitError> {
    let d = exp.target.dim();
    let n = exp.objective.n_samples;
    // The validated experiment guarantees the target each objective needs.
    let gaussian = || match target {
        Some(AnyDensity::Mvn(m)) => m.clone(),
        _ => unreachable!("config admits closed-form objectives for Gaussian targets only"),
    };
    let density = || {
        target
            .cloned()
            .expect("config admits density objectives for density targets only")
    };
    let family = exp.family;
    fn boxed<O: Objective + 'static>(o: O, family: Family) -> Box<dyn Objective> {
        match family {
            Family::FullRank => Box::new(o),
            Family::MeanField => Box::new(kl_grad::MeanField::new(o)),
        }
    }
    let e = FitError::Objective;
    Ok(match exp.objective.kind {
        ObjectiveKind::ForwardKlExact => boxed(ForwardKlExact::new(gaussian()), family),
        ObjectiveKind::ReverseKlExact => boxed(ReverseKlExact::new(gaussian()), family),
        ObjectiveKind::ForwardKlSamples => {
            boxed(ForwardKlSamples::new(samples, d).map_err(e)?, family)
        }
        ObjectiveKind::ReverseKl(estimator) => boxed(
            ReverseKl::new(density(), n, estimator, rng).map_err(e)?,
            family,
        ),
        ObjectiveKind::ForwardKlIs => boxed(
            kl_grad::ForwardKlIs::new(density(), n, rng).map_err(e)?,
            family,
        ),
        ObjectiveKind::Renyi { alpha } => boxed(
            kl_grad::Renyi::new(density(), alpha, n, rng).map_err(e)?,
            family,
        ),
    })
}

/// The size of the problem: the largest of 1, the initial parameters, and the target's reach
/// (|mean| + standard deviation, or the largest sample coordinate).
fn problem_scale(
    exp: &Experiment,
    target: Option<&AnyDensity>,
    samples: &[f64],
    theta0: &[f64],
) -> f64 {
    let abs_max = |v: &[f64]| v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let reach = match (&exp.target, target) {
        (TargetSpec::Samples { .. }, _) => abs_max(samples),
        (_, Some(p)) => {
            let d = p.dim();
            let var = p.covariance().map_or(0.0, |cov| {
                (0..d).map(|i| cov[i * d + i]).fold(0.0_f64, f64::max)
            });
            p.mean().map_or(0.0, |m| abs_max(&m)) + var.sqrt() + abs_max(samples)
        }
        (_, None) => 0.0,
    };
    1.0_f64.max(abs_max(theta0)).max(reach)
}

/// Clamps rounding below zero: a KL is ≥ 0, and a converged fit's −1e-17 is 0.
fn clamp_kl(v: f64) -> f64 {
    if v < 0.0 { 0.0 } else { v }
}

/// The model of `theta` as a normal, for either family.
pub fn model_of(family: Family, theta: &[f64], d: usize) -> Result<Mvn, kl_dist::Error> {
    let (mean, rest) = theta.split_at(d);
    match family {
        Family::FullRank => Mvn::from_factor(mean, rest),
        Family::MeanField => {
            let mut l = vec![0.0; d * d];
            for (i, w) in rest.iter().enumerate() {
                l[i * d + i] = w.exp();
            }
            Mvn::from_factor(mean, &l)
        }
    }
}

fn build_trace(
    exp: &Experiment,
    target: Option<&AnyDensity>,
    fitted: &fit::Fitted,
    ess: &[Option<f64>],
    rate: f64,
    search: Option<trace::RateSearch>,
) -> Result<Trace, FitError> {
    let d = exp.target.dim();
    let kl = target.and_then(|t| ExactKl::try_new(t.clone(), exp.seed));
    let mut iterations = Vec::with_capacity(fitted.records.len());
    let mut inaccurate = Vec::new();
    for (k, r) in fitted.records.iter().enumerate() {
        let iteration = r.iteration;
        let q = model_of(exp.family, &r.theta, d)
            .map_err(|source| FitError::Model { iteration, source })?;
        let (kl_forward, kl_reverse) = match &kl {
            Some(kl) => {
                let (f, b) = kl.eval(&q);
                if !kl.is_accurate(&q) {
                    inaccurate.push(iteration.to_string());
                }
                let f = if kl.has_forward() { f } else { 0.0 };
                if !(f.is_finite() && b.is_finite()) {
                    return Err(FitError::KlNotFinite {
                        iteration,
                        forward: f,
                        reverse: b,
                    });
                }
                (kl.has_forward().then(|| clamp_kl(f)), Some(clamp_kl(b)))
            }
            None => (None, None),
        };
        let (mean, rest) = r.theta.split_at(d);
        let raw = match exp.family {
            Family::FullRank => rest.chunks(d).map(<[f64]>::to_vec).collect(),
            Family::MeanField => vec![rest.to_vec()],
        };
        let renyi = match (exp.objective.kind, target) {
            (ObjectiveKind::Renyi { alpha }, Some(AnyDensity::Mvn(p))) => Some(
                kl_dist::renyi_divergence(&q, p, alpha)
                    .map_err(|source| FitError::Model { iteration, source })?,
            ),
            _ => None,
        };
        iterations.push(Iteration {
            iteration,
            renyi,
            mean: mean.to_vec(),
            raw,
            covariance: q.covariance().chunks(d).map(<[f64]>::to_vec).collect(),
            loss: r.loss,
            grad_norm: r.grad_norm,
            ess: ess.get(k).copied().flatten(),
            kl_forward,
            kl_reverse,
        });
    }
    check_kl_blowup(exp, &iterations)?;
    let (estimator, alpha) = match exp.objective.kind {
        ObjectiveKind::ReverseKl(Estimator::Total) => (Some("total".to_string()), None),
        ObjectiveKind::ReverseKl(Estimator::Stl) => (Some("stl".to_string()), None),
        ObjectiveKind::Renyi { alpha } => (None, Some(alpha)),
        _ => (None, None),
    };
    Ok(Trace {
        name: exp.name.clone(),
        dim: d,
        target: exp.target.kind().to_string(),
        family: exp.family.name().to_string(),
        objective: exp.objective.kind.name().to_string(),
        estimator,
        alpha,
        optimizer: exp.optimizer.name().to_string(),
        learning_rate: rate,
        learning_rate_search: search,
        n_iters: exp.n_iters,
        convergence: fitted.convergence.clone(),
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
        diagnostic_draws: exp.diagnostics.n_draws,
        diagnostics: diagnostics(exp, target, &iterations, &fitted.records)?,
        iterations,
    })
}

/// The diagnostics of the final q, and of every `diagnostics.every`-th iteration when asked.
fn diagnostics(
    exp: &Experiment,
    target: Option<&AnyDensity>,
    iterations: &[Iteration],
    records: &[kl_opt::Record],
) -> Result<Vec<trace::Diagnostic>, FitError> {
    let Some(target) = target else {
        return Ok(Vec::new());
    };
    let d = exp.target.dim();
    let last = iterations.len().saturating_sub(1);
    let mut ks: Vec<usize> = match exp.diagnostics.every {
        Some(every) => (0..last).step_by(every).collect(),
        None => Vec::new(),
    };
    ks.push(last);
    ks.into_iter()
        .map(|k| {
            let iteration = records[k].iteration;
            let q = model_of(exp.family, &records[k].theta, d)
                .map_err(|source| FitError::Model { iteration, source })?;
            Ok(diagnose(
                target,
                &q,
                exp.diagnostics.n_draws,
                exp.seed,
                iteration,
            ))
        })
        .collect()
}

/// The blow-up rule on the exact KL of the objective's direction (see [`fit`]).
fn check_kl_blowup(exp: &Experiment, iterations: &[Iteration]) -> Result<(), FitError> {
    let forward = || iterations.iter().filter_map(|i| i.kl_forward);
    let reverse = || iterations.iter().filter_map(|i| i.kl_reverse);
    let ends_high = |values: Vec<f64>| -> Option<(usize, f64, f64)> {
        let (first, last) = (*values.first()?, *values.last()?);
        if last > fit::blowup_threshold(first) {
            first_blowup(values)
        } else {
            None
        }
    };
    let (what, hit) = match exp.objective.kind {
        ObjectiveKind::ForwardKlExact
        | ObjectiveKind::ForwardKlSamples
        | ObjectiveKind::ForwardKlIs => ("D(p‖q)", ends_high(forward().collect())),
        ObjectiveKind::ReverseKl(_) | ObjectiveKind::ReverseKlExact => {
            ("D(q‖p)", ends_high(reverse().collect()))
        }
        ObjectiveKind::Renyi { .. } => {
            match (
                ends_high(forward().collect()),
                ends_high(reverse().collect()),
            ) {
                (Some(f), Some(_)) => ("D(p‖q)", Some(f)),
                _ => ("", None),
            }
        }
    };
    match hit {
        Some((k, start, value)) => Err(FitError::BlewUp {
            iteration: iterations[k].iteration,
            what,
            start,
            value,
        }),
        None => Ok(()),
    }
}
