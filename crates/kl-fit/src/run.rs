//! The fit itself: set-up, the step-size search, the loop with its guards, the records' exact
//! KL and the diagnostics.

use std::cell::Cell;
use std::ops::ControlFlow;
use std::sync::Arc;

use kl_dist::{AnyDensity, LogDensity, Mvn};
use kl_grad::{
    Family, ForwardKlExact, ForwardKlIs, ForwardKlSamples, MeanField, Objective, Renyi, ReverseKl,
    ReverseKlExact,
};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

use crate::exact_kl::ExactKl;
use crate::record::{Recorder, StepState, TailAverager, q_of};
use crate::rules::{
    ADAPT_ITERS, AUTO_RATES, BlowupWatch, DIVERGENCE_FACTOR, Plateau, Schedule, StanRule,
};
use crate::spec::Scheduled;
use crate::target::{Counted, Counts};
use crate::{
    ConvergenceRule, Diagnosis, Error, Fit, FitResult, Init, ObjectiveKind, RateCandidate,
    RateSearch, Record, StepSize, Termination,
};

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
) -> Diagnosis {
    use kl_dist::Sample;
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
        Ok(diag) => Diagnosis {
            iteration,
            k_hat: diag.pareto_k,
            ess: diag.ess,
            iw_elbo: diag.iw_elbo,
            verdict: diag.reliability,
            exact: diag.fit.tail == kl_diag::TailFit::Flat,
        },
        Err(_) => Diagnosis {
            iteration,
            k_hat: f64::INFINITY,
            ess: 0.0,
            iw_elbo: f64::NEG_INFINITY,
            verdict: kl_diag::Reliability::Unreliable,
            exact: false,
        },
    }
}

/// θ of the normal `q` in `family`: μ and its Cholesky factor, or μ and ω = ln √Σᵢᵢ.
pub(crate) fn theta_of(family: Family, q: &Mvn) -> Vec<f64> {
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

fn check_len(what: &'static str, v: &[f64], n: usize) -> Result<(), Error> {
    if v.len() != n {
        return Err(Error::setting(
            what,
            format!("has {} entries, the target's dimension needs {n}", v.len()),
        ));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::setting(what, format!("entry {i} is {}", v[i])));
    }
    Ok(())
}

/// θ₀ of the fit; a Pathfinder start's evaluations are counted in `counts`.
pub(crate) fn initial_theta(
    fit: &Fit<'_>,
    d: usize,
    rng: &mut Pcg64,
    counts: &Arc<Counts>,
) -> Result<Vec<f64>, Error> {
    let family = fit.family;
    Ok(match &fit.init {
        Init::Standard => {
            let mut t = vec![0.0; family.n_params(d)];
            if family == Family::FullRank {
                for i in 0..d {
                    t[d + i * d + i] = 1.0;
                }
            }
            t
        }
        Init::Explicit { mean, raw } => {
            if family != Family::FullRank {
                return Err(Error::setting(
                    "init",
                    "a raw factor L is a full-rank start; give the mean-field family μ and σ",
                ));
            }
            check_len("init.mean", mean, d)?;
            check_len("init.raw", raw, d * d)?;
            kl_grad::pack_theta(mean, raw)
        }
        Init::MeanField { mean, sd } => {
            if family != Family::MeanField {
                return Err(Error::setting(
                    "init",
                    "μ and σ are a mean-field start; give the full-rank family a factor",
                ));
            }
            check_len("init.mean", mean, d)?;
            check_len("init.sd", sd, d)?;
            // Finite already (check_len): only the sign is left.
            if let Some(i) = sd.iter().position(|s| *s <= 0.0) {
                return Err(Error::setting(
                    "init.sd",
                    format!("entry {i} is not positive"),
                ));
            }
            let log_sd: Vec<f64> = sd.iter().map(|s| s.ln()).collect();
            kl_grad::pack_theta(mean, &log_sd)
        }
        Init::Gaussian(q) => {
            if q.dim() != d {
                return Err(Error::setting(
                    "init",
                    format!("q₀ has dimension {}, the target {d}", q.dim()),
                ));
            }
            theta_of(family, q)
        }
        Init::Random => (0..family.n_params(d))
            .map(|_| StandardNormal.sample(rng))
            .collect(),
        Init::Laplace => match fit.target.as_ref().and_then(|t| t.known()) {
            Some(AnyDensity::LogisticRegression(l)) => {
                theta_of(family, &l.laplace().map_err(Error::Target)?)
            }
            _ => {
                return Err(Error::setting(
                    "init",
                    "the Laplace start is for a logistic-regression target",
                ));
            }
        },
        Init::Pathfinder(o) => {
            let Some(target) = fit.target.clone() else {
                return Err(Error::setting("init", "a Pathfinder start needs a target"));
            };
            let counted = Counted::new(target, Arc::clone(counts));
            let out = kl_vi::pathfinder(
                &counted,
                &vec![0.0; d],
                &o.settings(crate::PATHFINDER_START_ITERS),
                rng,
                &mut |_| ControlFlow::Continue(()),
            )
            .map_err(|source| Error::Vi {
                algorithm: "pathfinder (the start)",
                source,
            })?;
            theta_of(family, &out.q)
        }
    })
}

/// The size of the problem: the largest of 1, the initial parameters, and the target's reach
/// (|mean| + standard deviation, or the largest sample coordinate).
fn problem_scale(target: Option<&AnyDensity>, samples: &[f64], theta0: &[f64]) -> f64 {
    let abs_max = |v: &[f64]| v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let reach = match target {
        Some(p) => {
            let d = p.dim();
            let var = p.covariance().map_or(0.0, |cov| {
                (0..d).map(|i| cov[i * d + i]).fold(0.0_f64, f64::max)
            });
            p.mean().map_or(0.0, |m| abs_max(&m)) + var.sqrt() + abs_max(samples)
        }
        None => abs_max(samples),
    };
    1.0_f64.max(abs_max(theta0)).max(reach)
}

/// The objective, its draws from `rng`, for the fit's family.
fn build_objective(
    fit: &Fit<'_>,
    target: Option<&Counted>,
    samples: &[f64],
    d: usize,
    rng: &mut dyn Rng,
) -> Result<Box<dyn Objective>, Error> {
    fn boxed<O: Objective + 'static>(o: O, family: Family) -> Box<dyn Objective> {
        match family {
            Family::FullRank => Box::new(o),
            Family::MeanField => Box::new(MeanField::new(o)),
        }
    }
    let n = fit.n_samples;
    let family = fit.family;
    let gaussian = || {
        fit.target
            .as_ref()
            .and_then(|t| t.gaussian())
            .cloned()
            .ok_or_else(|| {
                Error::setting(
                    "objective",
                    format!("{} needs a Gaussian target", fit.objective.name()),
                )
            })
    };
    let density = || {
        target.cloned().ok_or_else(|| {
            Error::setting(
                "objective",
                format!("{} needs a target density", fit.objective.name()),
            )
        })
    };
    let e = Error::Objective;
    Ok(match fit.objective {
        ObjectiveKind::ForwardKlExact => boxed(ForwardKlExact::new(gaussian()?), family),
        ObjectiveKind::ReverseKlExact => boxed(ReverseKlExact::new(gaussian()?), family),
        ObjectiveKind::ForwardKlSamples => {
            boxed(ForwardKlSamples::new(samples, d).map_err(e)?, family)
        }
        ObjectiveKind::ReverseKl(estimator) => boxed(
            ReverseKl::new(density()?, n, estimator, rng).map_err(e)?,
            family,
        ),
        ObjectiveKind::ForwardKlIs => {
            boxed(ForwardKlIs::new(density()?, n, rng).map_err(e)?, family)
        }
        ObjectiveKind::Renyi { alpha } => {
            boxed(Renyi::new(density()?, alpha, n, rng).map_err(e)?, family)
        }
        ObjectiveKind::Pathfinder(_) | ObjectiveKind::Gsm { .. } | ObjectiveKind::Bam { .. } => {
            return Err(Error::setting(
                "objective",
                format!("{} has no objective to descend", fit.objective.name()),
            ));
        }
    })
}

/// Why a step of the loop failed (inside `kl_opt::iterate`).
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

fn loop_error(e: kl_opt::Error<StepError>, limit: f64) -> Error {
    match e {
        kl_opt::Error::Objective {
            iteration,
            source: StepError::Diverged { index, value },
        } => Error::Diverged {
            iteration,
            index,
            value,
            limit,
        },
        kl_opt::Error::Objective {
            iteration,
            source: StepError::Objective(source),
        } => Error::Step { iteration, source },
        kl_opt::Error::NonFiniteLoss { iteration, loss } => Error::NonFinite {
            iteration,
            what: "loss",
            value: loss,
        },
        kl_opt::Error::NonFiniteGradient {
            iteration, value, ..
        } => Error::NonFinite {
            iteration,
            what: "gradient",
            value,
        },
        kl_opt::Error::GradientNormOverflow { iteration } => Error::NonFinite {
            iteration,
            what: "gradient norm",
            value: f64::INFINITY,
        },
        kl_opt::Error::NonFiniteParameter {
            iteration, value, ..
        } => Error::NonFinite {
            iteration,
            what: "parameter",
            value,
        },
        // kl-opt's error is non-exhaustive: whatever else it reports is passed on as it says
        // it, not disguised as one of the cases above.
        other => Error::Loop {
            iteration: other.iteration(),
            message: other.to_string(),
        },
    }
}

/// How the loop ended.
struct LoopEnd {
    steps: usize,
    converged: Option<(usize, ConvergenceRule)>,
}

/// Runs the optimizer loop: resampling the objective's draws from `rng` before every step after
/// the first, stopping at divergence, at the convergence rule, or when `on_step` breaks.
#[allow(clippy::too_many_arguments)]
fn run_loop(
    objective: &mut dyn Objective,
    optimizer: &mut dyn kl_opt::Optimizer,
    theta0: &[f64],
    n_iters: usize,
    limit: f64,
    stopping: Option<crate::Stopping>,
    rng: &mut Pcg64,
    counts: &Counts,
    settled: &Cell<bool>,
    rate: &Cell<f64>,
    on_step: &mut dyn FnMut(&StepState<'_>) -> ControlFlow<()>,
) -> Result<LoopEnd, Error> {
    let stochastic = objective.is_stochastic();
    let mut rule = stopping.map(StanRule::new);
    let mut converged = None;
    let ess = Cell::new(None);
    let steps = kl_opt::iterate(
        theta0,
        optimizer,
        n_iters,
        |k, theta, grad| {
            if let Some((index, &value)) = theta.iter().enumerate().find(|(_, v)| v.abs() > limit) {
                return Err(StepError::Diverged { index, value });
            }
            if stochastic && k > 0 {
                objective.resample(rng);
            }
            let v = objective
                .value_and_grad(theta, grad)
                .map_err(StepError::Objective)?;
            ess.set(objective.ess());
            Ok(v)
        },
        |step| {
            let state = StepState {
                iteration: step.iteration,
                theta: step.theta,
                loss: step.loss,
                grad_norm: step.grad_norm,
                n_grad_evals: counts.grad(),
                n_density_evals: counts.density(),
                ess: ess.get(),
                learning_rate: rate.get(),
            };
            let flow = on_step(&state);
            if let Some(rule) = &mut rule
                && let Some(which) = rule.push(step.loss)
                && settled.get()
            {
                converged = Some((step.iteration, which));
                return ControlFlow::Break(());
            }
            flow
        },
    )
    .map_err(|e| loop_error(e, limit))?;
    Ok(LoopEnd { steps, converged })
}

/// Builds a fresh objective with its draws from the given generator.
type MakeObjective<'a> = dyn FnMut(&mut Pcg64) -> Result<Box<dyn Objective>, Error> + 'a;

/// Stan ADVI's step-size search: from θ₀, a short adaptation run with each candidate of
/// [`AUTO_RATES`] in turn (its own RNG stream, so the fit's draws do not depend on it); the score
/// is the mean loss over the run's last 10 iterations; a run that diverges, blows up or errs
/// scores `None`. The best finite score wins; as in Stan, the search stops once a candidate
/// scores worse than the best so far after one that scored.
fn search_rate(
    fit: &Fit<'_>,
    make_objective: &mut MakeObjective<'_>,
    theta0: &[f64],
    limit: f64,
    counts: &Counts,
) -> Result<RateSearch, Error> {
    let adapt_iters = ADAPT_ITERS.min(fit.max_iters);
    let mut candidates = Vec::new();
    let mut best: Option<(f64, f64)> = None;
    let seed = fit.seed.wrapping_add(SEARCH_STREAM);
    for &rate in &AUTO_RATES {
        let mut rng = Pcg64::seed_from_u64(seed);
        let score = (|| -> Option<f64> {
            let mut objective = make_objective(&mut rng).ok()?;
            let cell = Cell::new(rate);
            let mut opt = Scheduled {
                rule: fit.optimizer.build(rate).ok()?,
                rate: &cell,
            };
            let mut watch = BlowupWatch::default();
            let mut tail = std::collections::VecDeque::with_capacity(10);
            run_loop(
                objective.as_mut(),
                &mut opt,
                theta0,
                adapt_iters,
                limit,
                None,
                &mut rng,
                counts,
                &Cell::new(true),
                &cell,
                &mut |s| {
                    watch.push(s.iteration, s.loss);
                    if tail.len() == 10 {
                        tail.pop_front();
                    }
                    tail.push_back(s.loss);
                    ControlFlow::Continue(())
                },
            )
            .ok()?;
            if watch.hit().is_some() {
                return None;
            }
            Some(tail.iter().sum::<f64>() / tail.len() as f64)
        })();
        candidates.push(RateCandidate {
            learning_rate: rate,
            score,
        });
        match (score, best) {
            (Some(s), None) => best = Some((rate, s)),
            (Some(s), Some((_, b))) if s < b => best = Some((rate, s)),
            (Some(_), Some(_)) => break,
            (None, _) => {}
        }
    }
    let Some((chosen, _)) = best else {
        return Err(Error::NoStepSize {
            tried: AUTO_RATES.to_vec(),
        });
    };
    Ok(RateSearch {
        adapt_iters,
        candidates,
        chosen,
    })
}

/// Clamps rounding below zero: a KL is ≥ 0, and a converged fit's −1e-17 is 0.
fn clamp_kl(v: f64) -> f64 {
    if v < 0.0 { 0.0 } else { v }
}

/// The exact KL (and Rényi divergence) at every recorded state; the description of the method.
/// The exact KL of the answer, where the target has it.
type AnswerKl = Option<(Option<f64>, f64)>;

pub(crate) fn exact_kl_along(
    fit: &Fit<'_>,
    records: &mut [Record],
    answer: &Mvn,
    d: usize,
) -> Result<(Option<String>, AnswerKl), Error> {
    let Some(known) = fit.target.as_ref().and_then(|t| t.known()) else {
        return Ok((None, None));
    };
    if !fit.exact_kl {
        return Ok((None, None));
    }
    let Some(kl) = ExactKl::try_new(known.clone(), fit.seed) else {
        return Ok((None, None));
    };
    let mut inaccurate = Vec::new();
    for r in records.iter_mut() {
        let iteration = r.iteration;
        let q =
            q_of(fit.family, &r.theta, d).map_err(|source| Error::Model { iteration, source })?;
        let (f, b) = kl.eval(&q);
        if !kl.is_accurate(&q) {
            inaccurate.push(iteration.to_string());
        }
        let f = if kl.has_forward() { f } else { 0.0 };
        if !(f.is_finite() && b.is_finite()) {
            return Err(Error::KlNotFinite {
                iteration,
                forward: f,
                reverse: b,
            });
        }
        r.kl_forward = kl.has_forward().then(|| clamp_kl(f));
        r.kl_reverse = Some(clamp_kl(b));
        if let (ObjectiveKind::Renyi { alpha }, AnyDensity::Mvn(p)) = (fit.objective, known) {
            r.renyi = Some(
                kl_dist::renyi_divergence(&q, p, alpha)
                    .map_err(|source| Error::Model { iteration, source })?,
            );
        }
    }
    let mut m = kl.method().describe();
    if !inaccurate.is_empty() {
        m.push_str(&format!(
            "; at iterations {} q is too wide for the grid: those values are approximate",
            inaccurate.join(", ")
        ));
    }
    check_kl_blowup(fit.objective, records)?;
    let (f, b) = kl.eval(answer);
    let last = records.last().map_or(0, |r| r.iteration);
    let f = if kl.has_forward() { f } else { 0.0 };
    if !(f.is_finite() && b.is_finite()) {
        return Err(Error::KlNotFinite {
            iteration: last,
            forward: f,
            reverse: b,
        });
    }
    Ok((
        Some(m),
        Some((kl.has_forward().then(|| clamp_kl(f)), clamp_kl(b))),
    ))
}

/// The blow-up rule on the exact KL of the objective's direction, when the fit ends above it.
fn check_kl_blowup(objective: ObjectiveKind, records: &[Record]) -> Result<(), Error> {
    let forward = || records.iter().filter_map(|r| r.kl_forward);
    let reverse = || records.iter().filter_map(|r| r.kl_reverse);
    let ends_high = |values: Vec<f64>| -> Option<(usize, f64, f64)> {
        let (first, last) = (*values.first()?, *values.last()?);
        if last > crate::rules::blowup_threshold(first) {
            crate::rules::first_blowup(values)
        } else {
            None
        }
    };
    let (what, hit) = match objective {
        ObjectiveKind::ForwardKlExact
        | ObjectiveKind::ForwardKlSamples
        | ObjectiveKind::ForwardKlIs => ("D(p‖q)", ends_high(forward().collect())),
        ObjectiveKind::ReverseKl(_) | ObjectiveKind::ReverseKlExact => {
            ("D(q‖p)", ends_high(reverse().collect()))
        }
        ObjectiveKind::Pathfinder(_) | ObjectiveKind::Gsm { .. } | ObjectiveKind::Bam { .. } => {
            ("", None)
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
        Some((k, start, value)) => Err(Error::BlewUp {
            iteration: records[k].iteration,
            what,
            start,
            value,
        }),
        None => Ok(()),
    }
}

/// The d × d covariance work of forming Σ = L Lᵀ once, against one step's work: how often the
/// average takes an iterate so that averaging costs at most about a step.
fn average_stride(family: Family, d: usize, n_samples: usize) -> usize {
    match family {
        Family::MeanField => 1,
        Family::FullRank => {
            let d = d as f64;
            let step = (n_samples.max(1) as f64) * d * d + d * d * d / 3.0;
            ((d * d * d) / step).ceil().max(1.0) as usize
        }
    }
}

/// The diagnostics of a fit: at the recorded states asked for (`Diagnostics::every`), then of
/// the answer `q`, each from its own stream; evaluations counted in `counts`.
pub(crate) fn diagnose_all(
    fit: &Fit<'_>,
    records: &[Record],
    q: &Mvn,
    last_iteration: usize,
    counts: &Arc<Counts>,
) -> Result<Vec<Diagnosis>, Error> {
    let mut diagnostics = Vec::new();
    if let (Some(t), true) = (fit.target.as_ref(), fit.diagnostics.n_draws > 0) {
        let counted = Counted::new(t.clone(), Arc::clone(counts));
        if let Some(every) = fit.diagnostics.every {
            for r in &records[..records.len().saturating_sub(1)] {
                if r.iteration.is_multiple_of(every) {
                    let qr = r.q().map_err(|source| Error::Model {
                        iteration: r.iteration,
                        source,
                    })?;
                    diagnostics.push(diagnose(
                        &counted,
                        &qr,
                        fit.diagnostics.n_draws,
                        fit.seed,
                        r.iteration,
                    ));
                }
            }
        }
        diagnostics.push(diagnose(
            &counted,
            q,
            fit.diagnostics.n_draws,
            fit.seed,
            last_iteration,
        ));
    }
    Ok(diagnostics)
}

pub(crate) fn run(mut fit: Fit<'_>) -> Result<FitResult, Error> {
    fit.check()?;
    if fit.objective.is_vi_algorithm() {
        return crate::vi::run(fit);
    }
    let counts = Arc::new(Counts::default());
    let mut rng = fit
        .generator
        .take()
        .unwrap_or_else(|| Pcg64::seed_from_u64(fit.seed));
    let d = fit.dim()?;
    let theta0 = initial_theta(&fit, d, &mut rng, &counts)?;
    let target = fit
        .target
        .clone()
        .map(|t| Counted::new(t, Arc::clone(&counts)));
    let known = fit.target.as_ref().and_then(|t| t.known());

    // The exact draws of p: the data of forward-kl-samples, or the ones asked for.
    let p_samples = match (&fit.samples, known) {
        (Some(data), _) => data.clone(),
        (None, Some(p)) if p.can_sample() && fit.p_draws > 0 => {
            let mut s = vec![0.0; fit.p_draws * d];
            p.try_sample(&mut rng, &mut s).map_err(Error::Target)?;
            s
        }
        _ => Vec::new(),
    };
    let scale = problem_scale(known, &p_samples, &theta0);
    let limit = DIVERGENCE_FACTOR * scale;

    let (rate, search) = match fit.optimizer.learning_rate() {
        StepSize::Fixed(r) => (r, None),
        StepSize::Auto => {
            let s = search_rate(
                &fit,
                &mut |r| build_objective(&fit, target.as_ref(), &p_samples, d, r),
                &theta0,
                limit,
                &counts,
            )?;
            (s.chosen, Some(s))
        }
    };
    let mut objective = build_objective(&fit, target.as_ref(), &p_samples, d, &mut rng)?;
    let rate_cell = Cell::new(rate);
    let mut optimizer = Scheduled {
        rule: fit.optimizer.build(rate)?,
        rate: &rate_cell,
    };
    // The `Auto` schedule: decay on plateau; Stan's rule may stop the fit only once the step has
    // decayed (the objective it judges has settled). A fixed step is constant, the rule free.
    let mut plateau = search.is_some().then(Plateau::new);
    let mut settled_at = None;
    let settled = Cell::new(plateau.is_none());
    let stochastic = objective.is_stochastic();
    let mut recorder = Recorder::new(fit.family, theta0.len());
    // The average: of the final half of the run for a fixed step; under the `Auto` schedule of
    // the final half of the last step level, which begins at the last decay (before it the fit
    // may still be drifting and an average would lag behind; a fit that never decays returns
    // its last iterate).
    let new_averager =
        || TailAverager::new(fit.family, d, average_stride(fit.family, d, fit.n_samples));
    let mut averager = (stochastic && plateau.is_none()).then(new_averager);
    let mut losses = BlowupWatch::default();
    let mut interrupted = None;
    let family = fit.family;
    let max_iters = fit.max_iters;
    let observer = &mut fit.observer;
    let end = run_loop(
        objective.as_mut(),
        &mut optimizer,
        &theta0,
        max_iters,
        limit,
        fit.stopping,
        &mut rng,
        &counts,
        &settled,
        &rate_cell,
        &mut |s| {
            recorder.push(s);
            let schedule = plateau.as_mut().map(|p| p.push(s.loss));
            if schedule == Some(Schedule::Decay) {
                rate_cell.set(rate_cell.get() * crate::rules::PLATEAU_DECAY);
                settled.set(true);
                if stochastic {
                    averager = Some(new_averager());
                }
            }
            if let Some(a) = averager.as_mut() {
                a.push(s.iteration, s.theta);
            }
            if schedule == Some(Schedule::Settled) {
                settled_at = Some(s.iteration);
                return ControlFlow::Break(());
            }
            losses.push(s.iteration, s.loss);
            s.notify(observer, max_iters, family, d, &mut interrupted)
        },
    )?;
    if fit.objective.is_deterministic()
        && let Some((iteration, start, value)) = losses.hit()
    {
        return Err(Error::BlewUp {
            iteration,
            what: "loss",
            start,
            value,
        });
    }
    let termination = match (interrupted, end.converged, settled_at) {
        (Some(at), _, _) => Termination::Interrupted { at },
        (None, Some((at, rule)), _) => Termination::Converged { at, rule },
        (None, None, Some(at)) => Termination::Converged {
            at,
            rule: ConvergenceRule::Settled,
        },
        (None, None, None) => Termination::MaxIters,
    };
    let mut records = recorder.finish();
    let last_record = records.last().expect("the loop records θ₀ at least");
    let last_iteration = last_record.iteration;
    let last = last_record.q().map_err(|source| Error::Model {
        iteration: last_iteration,
        source,
    })?;
    let (q, average) = match averager.as_ref().and_then(|a| a.finish(last_iteration)) {
        Some((mean, cov, avg)) => (
            Mvn::new(&mean, &cov).map_err(|source| Error::Model {
                iteration: last_iteration,
                source,
            })?,
            Some(avg),
        ),
        None => (last.clone(), None),
    };
    let (kl_method, answer_kl) = exact_kl_along(&fit, &mut records, &q, d)?;

    let diagnostics = diagnose_all(&fit, &records, &q, last_iteration, &counts)?;
    Ok(FitResult {
        family: fit.family,
        objective: fit.objective,
        q,
        last,
        average,
        termination,
        diagnosis: diagnostics.last().cloned(),
        diagnostics,
        records,
        learning_rate: rate,
        search,
        kl_method,
        answer_kl,
        p_samples,
        n_grad_evals: counts.grad(),
        n_density_evals: counts.density(),
        n_iters: end.steps.saturating_sub(1),
        final_learning_rate: rate_cell.get(),
        n_decays: plateau.as_ref().map_or(0, Plateau::decays),
        rejected_steps: 0,
        pathfinder: None,
    })
}
