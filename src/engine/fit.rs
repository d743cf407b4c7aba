//! The fit itself: the optimizer loop with its guards (divergence, blow-up), the convergence rule
//! and the `learning_rate = "auto"` search.
//!
//! # Thresholds
//! - **Divergence**: a parameter beyond [`DIVERGENCE_FACTOR`] × the problem's scale (the largest
//!   of 1, |θ₀| and the target's reach) stops the fit at that iteration.
//! - **Blow-up**: a value v that should fall, starting at v₀, blows up at the first iteration
//!   where v > v₀ + [`BLOWUP_FACTOR`] · max(1, |v₀|). It is checked on the loss of deterministic
//!   objectives at every iteration, and on the exact KL of the objective's own direction (D(p‖q)
//!   for forward objectives, D(q‖p) for reverse ones, both for Rényi) when the fit *ends* above
//!   the threshold — noisy Monte Carlo fits may wander on the way. With factor 10 the notebook's
//!   20-step fits and every committed experiment pass with a wide margin (their KL falls), while
//!   the classic mistake, a learning rate of 10⁶ on a forward fit (loss 2.07 → 27.7 at
//!   iteration 1), is caught at iteration 1.

use std::ops::ControlFlow;

use kl_grad::Objective;
use kl_opt::{Adam, Optimizer, Sgd};
use rand::Rng;

use crate::config::{Experiment, LearningRate, OptimizerSpec, Stopping};
use crate::engine::trace::{Convergence, RateCandidate, RateSearch};
use crate::error::FitError;

/// A parameter beyond this many times the problem's scale means the fit has diverged.
pub const DIVERGENCE_FACTOR: f64 = 1e8;

/// How far above its start (in units of max(1, |start|)) a falling value may rise before the fit
/// counts as blown up.
pub const BLOWUP_FACTOR: f64 = 10.0;

/// The candidate step sizes of the `"auto"` search, tried in this order (Stan ADVI's sequence,
/// extended downwards).
pub const AUTO_RATES: [f64; 7] = [100.0, 10.0, 1.0, 0.1, 0.01, 0.001, 0.0001];

/// Iterations of each adaptation run (Stan's `adapt_iter`).
pub const ADAPT_ITERS: usize = 50;

/// The threshold of the blow-up rule for a value that started at `start`.
pub fn blowup_threshold(start: f64) -> f64 {
    start + BLOWUP_FACTOR * start.abs().max(1.0)
}

/// Why a step of the fit failed (inside the loop).
#[derive(Debug)]
pub(crate) enum StepError {
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

/// The optimizer of `spec` with step size `rate`.
pub(crate) fn optimizer(spec: OptimizerSpec, rate: f64) -> Result<Box<dyn Optimizer>, FitError> {
    Ok(match spec {
        OptimizerSpec::Sgd { momentum, .. } => {
            Box::new(Sgd::try_new(rate, momentum).map_err(FitError::Optimizer)?)
        }
        OptimizerSpec::Adam {
            beta1, beta2, eps, ..
        } => Box::new(Adam::try_new(rate, beta1, beta2, eps).map_err(FitError::Optimizer)?),
    })
}

/// The loop's result: the records and where it converged.
pub(crate) struct Fitted {
    pub records: Vec<kl_opt::Record>,
    pub convergence: Option<Convergence>,
}

/// Runs the optimizer loop: resampling the objective's draws from `rng` before every step after
/// the first, stopping at divergence, at the convergence rule, or when `progress` breaks.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit(
    objective: &mut dyn Objective,
    optimizer: &mut dyn Optimizer,
    theta0: &[f64],
    n_iters: usize,
    limit: f64,
    stopping: Option<Stopping>,
    rng: &mut dyn Rng,
    ess: &mut Vec<Option<f64>>,
    progress: &mut dyn FnMut(usize, f64) -> ControlFlow<()>,
) -> Result<Fitted, FitError> {
    let stochastic = objective.is_stochastic();
    let mut rule = stopping.map(StanRule::new);
    let mut converged = None;
    let records = kl_opt::minimize_until(
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
            ess.push(objective.ess());
            Ok(v)
        },
        |r, _| {
            if let Some(rule) = &mut rule
                && let Some(which) = rule.push(r.loss)
            {
                converged = Some((r.iteration, which));
                return ControlFlow::Break(());
            }
            progress(r.iteration, r.loss)
        },
    )
    .map_err(|e| loop_error(e, limit))?;
    let convergence = stopping.map(|s| Convergence {
        tol_rel_obj: s.tol_rel_obj,
        eval_every: s.eval_every,
        converged_at: converged.map(|(k, _)| k),
        rule: converged.map(|(_, w)| w.to_string()),
    });
    ess.truncate(records.len());
    Ok(Fitted {
        records,
        convergence,
    })
}

fn loop_error(e: kl_opt::Error<StepError>, limit: f64) -> FitError {
    match e {
        kl_opt::Error::Objective {
            iteration,
            source: StepError::Diverged { index, value },
        } => FitError::Diverged {
            iteration,
            index,
            value,
            limit,
        },
        kl_opt::Error::Objective {
            iteration,
            source: StepError::Objective(source),
        } => FitError::Step { iteration, source },
        kl_opt::Error::NonFiniteLoss { iteration, loss } => FitError::NonFinite {
            iteration,
            what: "loss",
            value: loss,
        },
        kl_opt::Error::NonFiniteGradient {
            iteration, value, ..
        } => FitError::NonFinite {
            iteration,
            what: "gradient",
            value,
        },
        kl_opt::Error::GradientNormOverflow { iteration } => FitError::NonFinite {
            iteration,
            what: "gradient norm",
            value: f64::INFINITY,
        },
        kl_opt::Error::NonFiniteParameter {
            iteration, value, ..
        } => FitError::NonFinite {
            iteration,
            what: "parameter",
            value,
        },
        other => FitError::NonFinite {
            iteration: other.iteration().unwrap_or(0),
            what: "state",
            value: f64::NAN,
        },
    }
}

/// The first iteration where `values` (starting at `values[0]`) rises past the blow-up threshold.
pub(crate) fn first_blowup(values: impl IntoIterator<Item = f64>) -> Option<(usize, f64, f64)> {
    let mut it = values.into_iter().enumerate();
    let (_, start) = it.next()?;
    let thr = blowup_threshold(start);
    it.find(|(_, v)| *v > thr).map(|(k, v)| (k, start, v))
}

/// Stan ADVI's relative-tolerance rule (`tol_rel_obj`): every `eval_every` iterations the mean
/// loss of the window just ended is compared with the previous window's, `|Δ| / max(1, |current|)`
/// (Stan divides by `|current|`; the floor of 1 lets objectives that converge to 0, a KL, stop
/// too); the
/// last max(2, ⌈0.1 · n_iters / eval_every⌉) — here a fixed 10 — changes are kept, and the fit
/// has converged when their mean or their median is below the tolerance.
struct StanRule {
    stopping: Stopping,
    window_sum: f64,
    window_len: usize,
    previous: Option<f64>,
    changes: std::collections::VecDeque<f64>,
}

/// Relative changes kept by [`StanRule`].
const RULE_HISTORY: usize = 10;

impl StanRule {
    fn new(stopping: Stopping) -> Self {
        StanRule {
            stopping,
            window_sum: 0.0,
            window_len: 0,
            previous: None,
            changes: std::collections::VecDeque::with_capacity(RULE_HISTORY),
        }
    }

    /// Adds one loss; `Some("mean" | "median")` when the rule fires.
    fn push(&mut self, loss: f64) -> Option<&'static str> {
        self.window_sum += loss;
        self.window_len += 1;
        if self.window_len < self.stopping.eval_every {
            return None;
        }
        let current = self.window_sum / self.window_len as f64;
        self.window_sum = 0.0;
        self.window_len = 0;
        let previous = self.previous.replace(current)?;
        let change = ((current - previous) / current.abs().max(1.0)).abs();
        if self.changes.len() == RULE_HISTORY {
            self.changes.pop_front();
        }
        self.changes.push_back(change);
        let tol = self.stopping.tol_rel_obj;
        let mean = self.changes.iter().sum::<f64>() / self.changes.len() as f64;
        let mut sorted: Vec<f64> = self.changes.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        if mean < tol {
            Some("mean")
        } else if median < tol {
            Some("median")
        } else {
            None
        }
    }
}

/// Builds a fresh objective with its draws from the given RNG.
pub(crate) type MakeObjective<'a> =
    dyn FnMut(&mut dyn Rng) -> Result<Box<dyn Objective>, FitError> + 'a;

/// Stan ADVI's step-size search: from θ₀, a short adaptation run with each candidate of
/// [`AUTO_RATES`] in turn (its own RNG stream, so the fit's draws do not depend on it); the score
/// is the mean loss over the run's last 10 iterations; a run that diverges, blows up or errs
/// scores `None`. The best finite score wins; as in Stan, the search stops once a candidate
/// scores worse than the best so far after one that scored.
pub(crate) fn search_rate(
    exp: &Experiment,
    make_objective: &mut MakeObjective<'_>,
    theta0: &[f64],
    limit: f64,
    rng_seed: u64,
) -> Result<RateSearch, FitError> {
    use rand::SeedableRng;
    let adapt_iters = ADAPT_ITERS.min(exp.n_iters);
    let mut candidates = Vec::new();
    let mut best: Option<(f64, f64)> = None;
    for &rate in &AUTO_RATES {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(rng_seed);
        let score = (|| -> Option<f64> {
            let mut objective = make_objective(&mut rng).ok()?;
            let mut opt = optimizer(exp.optimizer, rate).ok()?;
            let mut ess = Vec::new();
            let fitted = fit(
                objective.as_mut(),
                opt.as_mut(),
                theta0,
                adapt_iters,
                limit,
                None,
                &mut rng,
                &mut ess,
                &mut |_, _| ControlFlow::Continue(()),
            )
            .ok()?;
            let losses: Vec<f64> = fitted.records.iter().map(|r| r.loss).collect();
            if first_blowup(losses.iter().copied()).is_some() {
                return None;
            }
            let tail = &losses[losses.len().saturating_sub(10)..];
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
        return Err(FitError::NoStepSize {
            tried: AUTO_RATES.to_vec(),
        });
    };
    Ok(RateSearch {
        adapt_iters,
        candidates,
        chosen,
    })
}

/// The fixed learning rate of `spec`, if it has one.
pub(crate) fn fixed_rate(spec: OptimizerSpec) -> Option<f64> {
    match spec.learning_rate() {
        LearningRate::Fixed(r) => Some(r),
        LearningRate::Auto => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blowup_rule_names_the_first_iteration_past_the_threshold() {
        assert_eq!(first_blowup([2.07, 27.7, 27.7]), Some((1, 2.07, 27.7)));
        // 2.07 + 10 · 2.07 = 22.77: a rise to 20 is tolerated.
        assert_eq!(first_blowup([2.07, 20.0, 1.0]), None);
        // Small starts use the floor of 1: 0.1 + 10 = 10.1.
        assert_eq!(first_blowup([0.1, 10.0]), None);
        assert_eq!(first_blowup([0.1, 10.2]), Some((1, 0.1, 10.2)));
        assert_eq!(first_blowup(std::iter::empty()), None);
    }

    #[test]
    fn the_stan_rule_fires_on_a_flat_loss_and_not_on_a_falling_one() {
        let stop = Stopping {
            tol_rel_obj: 0.01,
            eval_every: 10,
        };
        let mut rule = StanRule::new(stop);
        // Falling by a tenth every window, far above 1: relative changes of 0.11, never below 0.01.
        let fired = (0..200).find_map(|k| rule.push(1000.0 * 0.9f64.powi(k / 10)));
        assert_eq!(fired, None);
        let mut rule = StanRule::new(stop);
        // Constant: the second window's change is 0.
        let fired = (0..200).position(|_| rule.push(3.0).is_some());
        assert_eq!(fired, Some(19));
    }
}
