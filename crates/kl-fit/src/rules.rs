//! The guards and rules of a fit, each written once: the divergence bound, the blow-up rule,
//! Stan's convergence rule and the `"auto"` step-size candidates.
//!
//! # Thresholds
//! - **Divergence**: a parameter beyond [`DIVERGENCE_FACTOR`] × the problem's scale (the largest
//!   of 1, |θ₀| and the target's reach) stops the fit at that iteration.
//! - **Blow-up**: a value v that should fall, starting at v₀, blows up at the first iteration
//!   where v > v₀ + [`BLOWUP_FACTOR`] · max(1, |v₀|). It is checked on the loss of deterministic
//!   objectives at every iteration, and on the exact KL of the objective's own direction (D(p‖q)
//!   for forward objectives, D(q‖p) for reverse ones, both for Rényi) at the recorded states when
//!   the fit *ends* above the threshold — noisy Monte Carlo fits may wander on the way. With
//!   factor 10 the notebook's 20-step fits and every committed experiment pass with a wide margin
//!   (their KL falls), while the classic mistake, a learning rate of 10⁶ on a forward fit (loss
//!   2.07 → 27.7 at iteration 1), is caught at iteration 1.

use std::collections::VecDeque;

use crate::Stopping;

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

/// The most L-BFGS iterations per path of a Pathfinder start ([`crate::Init::Pathfinder`]):
/// Stan's `max_lbfgs_iters`.
pub const PATHFINDER_START_ITERS: usize = 1000;

/// The threshold of the blow-up rule for a value that started at `start`.
pub fn blowup_threshold(start: f64) -> f64 {
    start + BLOWUP_FACTOR * start.abs().max(1.0)
}

/// The first index where `values` (starting at `values[0]`) rises past the blow-up threshold:
/// (index, start, value).
pub fn first_blowup(values: impl IntoIterator<Item = f64>) -> Option<(usize, f64, f64)> {
    let mut it = values.into_iter().enumerate();
    let (_, start) = it.next()?;
    let thr = blowup_threshold(start);
    it.find(|(_, v)| *v > thr).map(|(k, v)| (k, start, v))
}

/// The blow-up rule as a stream: [`first_blowup`] without keeping the values.
#[derive(Debug, Default)]
pub(crate) struct BlowupWatch {
    start: Option<f64>,
    hit: Option<(usize, f64, f64)>,
}

impl BlowupWatch {
    pub(crate) fn push(&mut self, iteration: usize, v: f64) {
        match self.start {
            None => self.start = Some(v),
            Some(start) => {
                if self.hit.is_none() && v > blowup_threshold(start) {
                    self.hit = Some((iteration, start, v));
                }
            }
        }
    }
    pub(crate) fn hit(&self) -> Option<(usize, f64, f64)> {
        self.hit
    }
}

/// Iterations of the `Auto` schedule's first window, and the fewest of any window.
pub const PLATEAU_WINDOW: usize = 50;

/// The most iterations of one window of the `Auto` schedule.
pub const MAX_PLATEAU_WINDOW: usize = 1000;

/// The standard error (in the loss's units, nats for the KL objectives) a window's mean loss
/// should have: each window is long enough for it, given the loss's noise in the window before
/// (within [`PLATEAU_WINDOW`]..=[`MAX_PLATEAU_WINDOW`]).
pub const PLATEAU_SE: f64 = 0.02;

/// The most times longer than the noise asks for the `Auto` schedule's windows grow while a
/// halved step shows no improvement, before the fit counts as settled.
pub const MAX_WINDOW_SCALE: usize = 4;

/// The factor the `Auto` schedule multiplies the step size by at a plateau.
pub const PLATEAU_DECAY: f64 = 0.5;

/// The most times the `Auto` schedule halves the step (down to 1/1024 of the chosen one).
pub const MAX_DECAYS: u32 = 10;

/// Windows without a significant improvement on the best window before the `Auto` schedule
/// decays the step.
pub const PLATEAU_PATIENCE: u32 = 2;

/// What the `Auto` schedule asks of the loop after a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// Go on at this step.
    Keep,
    /// Multiply the step by [`PLATEAU_DECAY`].
    Decay,
    /// The fit has settled: stop ([`ConvergenceRule::Settled`]).
    Settled,
}

/// The `Auto` schedule after the search: Adam (or SGD) with a **decay on plateau** (PyTorch's
/// `ReduceLROnPlateau`, with a noise-aware threshold) that also says when the fit has settled.
/// The loss is averaged over windows; each window is long enough for its mean to have a
/// standard error of about [`PLATEAU_SE`] given the noise of the window before (the variance
/// from successive differences, which a falling trend hardly inflates), within
/// [`PLATEAU_WINDOW`]..=[`MAX_PLATEAU_WINDOW`] iterations — so the schedule does not depend on
/// the iteration budget, and a noisy fit (few draws) is judged over longer windows than a quiet
/// one. A window improves when its mean is below the best window's by more than one standard
/// error of the difference. After [`PLATEAU_PATIENCE`] windows without an improvement the fit
/// has stopped descending at this step and only rattles around the optimum: the step is
/// multiplied by [`PLATEAU_DECAY`] and the best is re-based on the current window. When a whole
/// step level passes without one improvement — halving the step no longer lowers the loss by a
/// standard error — or [`MAX_DECAYS`] halvings are spent, the fit has **settled**: the rattle
/// is below the noise, and the average of the settled phase is the answer.
#[derive(Debug)]
pub(crate) struct Plateau {
    window: usize,
    sum: f64,
    sum_sq: f64,
    sum_diff_sq: f64,
    previous: Option<f64>,
    len: usize,
    best: Option<(f64, f64)>,
    bad: u32,
    decays: u32,
    improved_at_this_step: bool,
    scale: usize,
}

impl Plateau {
    pub(crate) fn new() -> Plateau {
        Plateau {
            window: PLATEAU_WINDOW,
            sum: 0.0,
            sum_sq: 0.0,
            sum_diff_sq: 0.0,
            previous: None,
            len: 0,
            best: None,
            bad: 0,
            decays: 0,
            improved_at_this_step: false,
            scale: 1,
        }
    }

    /// The number of decays so far.
    pub(crate) fn decays(&self) -> u32 {
        self.decays
    }

    /// Adds one loss.
    pub(crate) fn push(&mut self, loss: f64) -> Schedule {
        if let Some(prev) = self.previous.replace(loss) {
            self.sum_diff_sq += (loss - prev) * (loss - prev);
        }
        self.sum += loss;
        self.sum_sq += loss * loss;
        self.len += 1;
        if self.len < self.window {
            return Schedule::Keep;
        }
        let n = self.len as f64;
        let mean = self.sum / n;
        let var = ((self.sum_sq - n * mean * mean) / (n - 1.0)).max(0.0);
        let se = (var / n).sqrt();
        // The noise from successive differences (the window's first difference reaches into
        // the window before; n of them in all but the first window).
        let noise = self.sum_diff_sq / (2.0 * n);
        let next = (noise / (PLATEAU_SE * PLATEAU_SE)).ceil();
        let window = if next.is_finite() {
            (next as usize).clamp(PLATEAU_WINDOW, MAX_PLATEAU_WINDOW)
        } else {
            MAX_PLATEAU_WINDOW
        };
        self.window = window * self.scale;
        (self.sum, self.sum_sq, self.sum_diff_sq, self.len) = (0.0, 0.0, 0.0, 0);
        let Some((best_mean, best_se)) = self.best else {
            self.best = Some((mean, se));
            return Schedule::Keep;
        };
        if best_mean - mean > (best_se * best_se + se * se).sqrt() {
            self.best = Some((mean, se));
            self.bad = 0;
            self.improved_at_this_step = true;
            return Schedule::Keep;
        }
        self.bad += 1;
        if self.bad < PLATEAU_PATIENCE {
            return Schedule::Keep;
        }
        if self.decays > 0 && !self.improved_at_this_step && self.scale < MAX_WINDOW_SCALE {
            // No improvement at this step yet: slow progress beneath the noise of short
            // windows looks the same as a settled rattle, so look again over longer ones.
            self.scale *= 2;
            self.bad = 0;
            return Schedule::Keep;
        }
        if (self.decays > 0 && !self.improved_at_this_step) || self.decays >= MAX_DECAYS {
            return Schedule::Settled;
        }
        self.decays += 1;
        self.bad = 0;
        self.improved_at_this_step = false;
        self.best = Some((mean, se));
        Schedule::Decay
    }
}

/// Relative changes kept by [`StanRule`].
const RULE_HISTORY: usize = 10;

/// Stan ADVI's relative-tolerance rule (`tol_rel_obj`): every `eval_every` iterations the mean
/// loss of the window just ended is compared with the previous window's, `|Δ| / max(1, |current|)`
/// (Stan divides by `|current|`; the floor of 1 lets objectives that converge to 0, a KL, stop
/// too); the last 10 changes are kept, and the fit has converged when their mean or their median
/// is below the tolerance.
#[derive(Debug)]
pub(crate) struct StanRule {
    stopping: Stopping,
    window_sum: f64,
    window_len: usize,
    previous: Option<f64>,
    changes: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl StanRule {
    pub(crate) fn new(stopping: Stopping) -> Self {
        StanRule {
            stopping,
            window_sum: 0.0,
            window_len: 0,
            previous: None,
            changes: VecDeque::with_capacity(RULE_HISTORY),
            sorted: Vec::with_capacity(RULE_HISTORY),
        }
    }

    /// Adds one loss; `Some(rule)` when the rule fires.
    pub(crate) fn push(&mut self, loss: f64) -> Option<ConvergenceRule> {
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
        self.sorted.clear();
        self.sorted.extend(self.changes.iter().copied());
        self.sorted.sort_by(f64::total_cmp);
        let median = self.sorted[self.sorted.len() / 2];
        if mean < tol {
            Some(ConvergenceRule::Mean)
        } else if median < tol {
            Some(ConvergenceRule::Median)
        } else {
            None
        }
    }
}

/// Which statistic of the relative changes fell below the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum ConvergenceRule {
    /// Their mean.
    Mean,
    /// Their median.
    Median,
    /// The `Auto` step-size schedule settled: halving the step no longer lowered the loss.
    Settled,
}

impl ConvergenceRule {
    /// `"mean"` or `"median"`.
    pub fn name(self) -> &'static str {
        match self {
            ConvergenceRule::Mean => "mean",
            ConvergenceRule::Median => "median",
            ConvergenceRule::Settled => "settled",
        }
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
        let mut w = BlowupWatch::default();
        for (k, v) in [2.07, 20.0, 27.7, 30.0].into_iter().enumerate() {
            w.push(k, v);
        }
        assert_eq!(w.hit(), Some((2, 2.07, 27.7)));
    }

    /// Deterministic noise of variance 1: a xorshift's uniforms, scaled (√12 · (u − ½)).
    fn noise(state: &mut u64) -> f64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        ((*state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 12f64.sqrt()
    }

    #[test]
    fn the_plateau_windows_follow_the_noise() {
        // σ = 0.2: a window of (0.2 / PLATEAU_SE)² = 100 iterations after the first one of 50.
        let mut p = Plateau::new();
        let mut rng = 7u64;
        for _ in 0..PLATEAU_WINDOW {
            p.push(1.0 + 0.2 * noise(&mut rng));
        }
        assert!((90..=110).contains(&p.window), "window {}", p.window);
        // A noiseless loss: the shortest window; a very noisy one: the longest.
        let mut p = Plateau::new();
        (0..PLATEAU_WINDOW).for_each(|_| _ = p.push(1.0));
        assert_eq!(p.window, PLATEAU_WINDOW);
        let mut p = Plateau::new();
        (0..PLATEAU_WINDOW).for_each(|_| _ = p.push(1.0 + 50.0 * noise(&mut rng)));
        assert_eq!(p.window, MAX_PLATEAU_WINDOW);
    }

    #[test]
    fn a_flat_noisy_loss_decays_once_then_settles() {
        // Noise about a constant: no window improves, so the step is halved after the patience
        // and, when a whole level (its windows lengthened up to MAX_WINDOW_SCALE times) shows
        // no improvement either, the fit has settled.
        let mut p = Plateau::new();
        let mut rng = 11u64;
        let events: Vec<(usize, Schedule)> = (0..200_000)
            .map(|k| (k, p.push(0.5 + 0.1 * noise(&mut rng))))
            .filter(|(_, s)| *s != Schedule::Keep)
            .take(2)
            .collect();
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].1, Schedule::Decay);
        assert_eq!(events[1].1, Schedule::Settled);
        assert_eq!(p.decays(), 1);
    }

    #[test]
    fn a_falling_loss_neither_decays_nor_settles() {
        // Falling by 0.1 per window of 50 (five standard errors of the difference of two
        // windows' means): every window improves on the best.
        let mut p = Plateau::new();
        let mut rng = 5u64;
        let hit = (0..20_000)
            .find(|&k| p.push(100.0 - 2e-3 * k as f64 + 0.1 * noise(&mut rng)) != Schedule::Keep);
        assert_eq!(hit, None);
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
