//! Pathfinder, GSM and BaM (crate kl-vi) behind the builder: the same target, seed, start,
//! `max_iters`, observer, records, evaluation counts, exact KL and diagnostics as every other
//! fit, and a [`FitResult`].
//!
//! What a record holds for these fits (they have no objective gradient of their own):
//!
//! | fit | `loss` | `grad_norm` | `learning_rate` | first record |
//! |---|---|---|---|---|
//! | Pathfinder | −ELBO of the iterate's Gaussian from its K draws | 0 (none computed) | 0 | the first iterate (iteration 1); iterates without a finite ELBO are not recorded |
//! | GSM, BaM | −ELBO estimated from the batch that made the update into this state (drawn from the state before) | the score residual of that batch, √(mean ‖∇log p̃(x) − ∇log q(x)‖²), zero when q = p | λ of the update from this state (BaM), 0 (GSM) | the start, with the first batch's values (drawn from it) |
//!
//! # Invariants
//! - The target is the fit's counted target: `n_grad_evals` / `n_density_evals` are the
//!   evaluations kl-vi made (and the diagnostics'), as for the gradient objectives.
//! - Memory does not grow with `max_iters`: the records are the [`Recorder`]'s (thinned), GSM
//!   and BaM keep one batch and the previous q, Pathfinder what kl-vi keeps.
//! - All draws come from the fit's one generator, in kl-vi's order; the diagnostics from their
//!   own stream, as for every fit.
//! - kl-vi's errors are passed on as [`Error::Vi`], naming the algorithm; the settings were
//!   checked before (`Fit::check`), by their builder names.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use kl_dist::{LogDensity, Mvn};
use kl_grad::Family;
use rand::SeedableRng;
use rand_pcg::Pcg64;

use crate::record::{Recorder, StepState, q_of};
use crate::run::{diagnose_all, exact_kl_along, initial_theta, theta_of};
use crate::target::{Counted, Counts};
use crate::{Error, Fit, FitResult, ObjectiveKind, Record, Termination};

/// What Pathfinder found: the best ELBO and its path, each path's summary, and the pooled,
/// PSIS-resampled draws with their Pareto k̂.
#[derive(Debug, Clone, PartialEq)]
pub struct PathfinderReport {
    /// The ELBO estimate (from K draws) of the returned q.
    pub elbo: f64,
    /// The path the returned q belongs to (0-based).
    pub best_path: usize,
    /// One summary per path run: start, best iteration and its ELBO, L-BFGS iterations, why
    /// L-BFGS stopped, and why the path failed if it did.
    pub paths: Vec<kl_vi::PathSummary>,
    /// Pareto k̂ of the importance weights p̃/q of the draws pooled from every successful
    /// path's best Gaussian: > 0.7 says the resampled draws cannot be trusted.
    pub pareto_k: f64,
    /// The draws resampled from the pool by their smoothed weights, row-major `n_draws × d`.
    pub draws: Vec<f64>,
    /// The Gaussian moment-matched to `draws` (`None` if their covariance is singular).
    pub draws_fit: Option<Mvn>,
}

/// The counted target, keeping a copy of the last batch of scores it evaluated (GSM and BaM
/// evaluate one batch per iteration, with `grad_log_prob_batch`).
struct Capture<'c> {
    inner: &'c Counted,
    batch: Mutex<Batch>,
}

#[derive(Default)]
struct Batch {
    points: Vec<f64>,
    log_p: Vec<f64>,
    grads: Vec<f64>,
}

impl LogDensity for Capture<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn log_prob(&self, x: &[f64]) -> f64 {
        self.inner.log_prob(x)
    }
    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.inner.grad_log_prob(x, grad)
    }
    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        self.inner.log_prob_batch(points, out);
    }
    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        self.inner.grad_log_prob_batch(points, log_prob, grad);
        if let Ok(mut b) = self.batch.lock() {
            // The buffers reach the batch's size once, then are reused.
            b.points.clear();
            b.points.extend_from_slice(points);
            b.log_p.clear();
            b.log_p.extend_from_slice(log_prob);
            b.grads.clear();
            b.grads.extend_from_slice(grad);
        }
    }
}

impl Capture<'_> {
    /// (−ELBO, score residual) of the last batch, drawn from `q`.
    fn stats(&self, q: &Mvn, score_q: &mut [f64]) -> (f64, f64) {
        let Ok(b) = self.batch.lock() else {
            return (f64::INFINITY, f64::INFINITY);
        };
        let d = q.dim();
        let n = b.log_p.len().max(1) as f64;
        let (mut loss, mut sq) = (0.0, 0.0);
        for ((x, lp), g) in b
            .points
            .chunks_exact(d)
            .zip(&b.log_p)
            .zip(b.grads.chunks_exact(d))
        {
            let lq = q.grad_log_prob(x, score_q);
            loss += lq - lp;
            sq += g
                .iter()
                .zip(score_q.iter())
                .map(|(a, c)| (a - c) * (a - c))
                .sum::<f64>();
        }
        (loss / n, (sq / n).sqrt())
    }
}

/// The fit of a kl-vi algorithm (the settings checked by `Fit::check`).
pub(crate) fn run(mut fit: Fit<'_>) -> Result<FitResult, Error> {
    let counts = Arc::new(Counts::default());
    let mut rng = fit
        .generator
        .take()
        .unwrap_or_else(|| Pcg64::seed_from_u64(fit.seed));
    let d = fit.dim()?;
    let family = Family::FullRank;
    let theta0 = initial_theta(&fit, d, &mut rng, &counts)?;
    let Some(target) = fit.target.clone() else {
        return Err(Error::setting("target", "a fit needs a target"));
    };
    let counted = Counted::new(target.clone(), Arc::clone(&counts));
    let p_samples = match target.known() {
        Some(p) if p.can_sample() && fit.p_draws > 0 => {
            let mut s = vec![0.0; fit.p_draws * d];
            p.try_sample(&mut rng, &mut s).map_err(Error::Target)?;
            s
        }
        _ => Vec::new(),
    };
    let q0 = q_of(family, &theta0, d).map_err(|source| Error::Model {
        iteration: 0,
        source,
    })?;
    let algorithm = fit.objective.name();
    let vi_error = |source| Error::Vi { algorithm, source };
    let max_iters = fit.max_iters;
    let mut recorder = Recorder::new(family, theta0.len());
    let mut interrupted = None;
    let observer = &mut fit.observer;
    // Shows a state to the recorder and the user's observer.
    let mut show = |s: &StepState<'_>, max: usize| -> ControlFlow<()> {
        recorder.push(s);
        s.notify(observer, max, family, d, &mut interrupted)
    };
    let mut pathfinder = None;
    let (q, rate, final_rate, n_iters, rejected_steps) = match fit.objective {
        ObjectiveKind::Pathfinder(o) => {
            let settings = o.settings(max_iters);
            let max = max_iters.saturating_mul(o.n_paths);
            let out = kl_vi::pathfinder(
                &counted,
                &theta0[..d],
                &settings,
                &mut rng,
                &mut |s: &kl_vi::State<'_>| {
                    let Some(loss) = s.loss else {
                        return ControlFlow::Continue(());
                    };
                    let theta = theta_of(family, s.q);
                    show(
                        &StepState {
                            iteration: s.iteration,
                            theta: &theta,
                            loss,
                            grad_norm: 0.0,
                            n_grad_evals: counts.grad(),
                            n_density_evals: counts.density(),
                            ess: None,
                            learning_rate: 0.0,
                        },
                        max,
                    )
                },
            )
            .map_err(vi_error)?;
            let n_iters = out.paths.iter().map(|p| p.lbfgs_iterations).sum();
            pathfinder = Some(PathfinderReport {
                elbo: out.elbo,
                best_path: out.best_path,
                paths: out.paths,
                pareto_k: out.pareto_k,
                draws: out.draws,
                draws_fit: out.draws_fit,
            });
            (out.q, 0.0, 0.0, n_iters, 0)
        }
        ObjectiveKind::Gsm { batch_size } | ObjectiveKind::Bam { batch_size, .. } => {
            let capture = Capture {
                inner: &counted,
                batch: Mutex::new(Batch::default()),
            };
            let schedule = match fit.objective {
                ObjectiveKind::Bam { schedule, .. } => Some(schedule),
                _ => None,
            };
            let lambda = |t: usize| schedule.map_or(0.0, |s| s.learning_rate(t, batch_size, d));
            let mut prev = q0.clone();
            let mut score_q = vec![0.0; d];
            let mut observe = |s: &kl_vi::State<'_>| {
                let (loss, grad_norm) = capture.stats(&prev, &mut score_q);
                let mut state = StepState {
                    iteration: 0,
                    theta: &theta0,
                    loss,
                    grad_norm,
                    n_grad_evals: batch_size as u64,
                    n_density_evals: counts.density(),
                    ess: None,
                    learning_rate: lambda(0),
                };
                if s.iteration == 1 && show(&state, max_iters).is_break() {
                    return ControlFlow::Break(());
                }
                let theta = theta_of(family, s.q);
                state.iteration = s.iteration;
                state.theta = &theta;
                state.n_grad_evals = counts.grad();
                state.learning_rate = lambda(s.iteration);
                let flow = show(&state, max_iters);
                prev.clone_from(s.q);
                flow
            };
            let out = match schedule {
                Some(schedule) => kl_vi::bam(
                    &capture,
                    &q0,
                    &kl_vi::BamSettings {
                        batch_size,
                        max_iters,
                        schedule,
                    },
                    &mut rng,
                    &mut observe,
                ),
                None => kl_vi::gsm(
                    &capture,
                    &q0,
                    &kl_vi::GsmSettings {
                        batch_size,
                        max_iters,
                    },
                    &mut rng,
                    &mut observe,
                ),
            }
            .map_err(vi_error)?;
            let last = out.iterations.saturating_sub(1);
            (
                out.q,
                lambda(0),
                lambda(last),
                out.iterations,
                out.rejected_steps,
            )
        }
        _ => {
            return Err(Error::setting(
                "objective",
                format!("{algorithm} is not a kl-vi algorithm"),
            ));
        }
    };
    let termination = match interrupted {
        Some(at) => Termination::Interrupted { at },
        None => Termination::MaxIters,
    };
    let mut records: Vec<Record> = recorder.finish();
    if records.is_empty() {
        // An observer that stopped before any state was shown: the answer is the one record.
        let mut one = Recorder::new(family, theta0.len());
        one.push(&StepState {
            iteration: 0,
            theta: &theta_of(family, &q),
            loss: 0.0,
            grad_norm: 0.0,
            n_grad_evals: counts.grad(),
            n_density_evals: counts.density(),
            ess: None,
            learning_rate: rate,
        });
        records = one.finish();
    }
    let last_record = records.last().expect("at least one record, pushed above");
    let last_iteration = last_record.iteration;
    let last = last_record.q().map_err(|source| Error::Model {
        iteration: last_iteration,
        source,
    })?;
    let (kl_method, answer_kl) = exact_kl_along(&fit, &mut records, &q, d)?;
    let diagnostics = diagnose_all(&fit, &records, &q, last_iteration, &counts)?;
    Ok(FitResult {
        family,
        objective: fit.objective,
        q,
        last,
        average: None,
        termination,
        diagnosis: diagnostics.last().cloned(),
        diagnostics,
        records,
        learning_rate: rate,
        search: None,
        kl_method,
        answer_kl,
        p_samples,
        n_grad_evals: counts.grad(),
        n_density_evals: counts.density(),
        n_iters,
        final_learning_rate: final_rate,
        n_decays: 0,
        rejected_steps,
        pathfinder,
    })
}
