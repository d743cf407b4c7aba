//! Pareto-smoothed importance sampling: ArviZ's `psislw` with `reff = 1`, for one vector.

use crate::error::{Error, check_log_weights};
use crate::summary::{Diagnosis, ess_of_valid, log_sum_exp};

/// `ln(f64::MIN_POSITIVE)` = `np.log(np.finfo(float).tiny)`, ArviZ's floor for the tail cutoff.
const LOG_TINY: f64 = -708.396_418_532_264_1;
/// Fewest tail draws for which the generalized Pareto distribution is fitted (ArviZ: `tail_len <= 4`
/// means `k = inf`).
pub const MIN_TAIL_DRAWS: usize = 5;
/// Zhang–Stephens / ArviZ: the prior on the profile grid for `b` is scaled by `1 / (3 x*)`.
const PRIOR_BS: f64 = 3.0;
/// Weight of the weakly-informative prior on k, in pseudo-observations (Vehtari et al. 2024, eq. 8).
const PRIOR_K: f64 = 10.0;
/// Prior mean of k.
const PRIOR_K_MEAN: f64 = 0.5;

/// The number of draws ArviZ puts in the tail, `M = ⌈min(S / 5, 3 √S)⌉` (`reff = 1`).
///
/// The draws strictly above the `(M + 1)`-th largest log weight form the tail, so the tail has
/// `M` draws when there are no ties at the cutoff and fewer with them (or when the cutoff is
/// floored at `ln(f64::MIN_POSITIVE)` relative to the largest weight). `M ≥ 5`, and hence a
/// finite k̂, needs `S ≥ 21`.
///
/// ```
/// use kl_diag::tail_len;
///
/// assert_eq!(tail_len(20), 4); // ⌈4⌉: too few for a fit
/// assert_eq!(tail_len(21), 5); // ⌈4.2⌉
/// assert_eq!(tail_len(225), 45); // both bounds are 45
/// assert_eq!(tail_len(1000), 95); // ⌈94.87⌉
/// ```
pub fn tail_len(n_samples: usize) -> usize {
    let s = n_samples as f64;
    (s / 5.0).min(3.0 * s.sqrt()).ceil() as usize
}

/// What happened to the tail in [`psis_into`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TailFit {
    /// The generalized Pareto distribution was fitted to the tail and its draws replaced by the
    /// fitted quantiles (truncated at the largest raw weight).
    Smoothed {
        /// The fitted scale σ̂ of the GPD of `exp(x) − exp(cutoff)` (with `x` the log weights
        /// shifted so that the largest is 0).
        sigma: f64,
    },
    /// Fewer than [`MIN_TAIL_DRAWS`] draws lie strictly above the cutoff (always so for
    /// `S ≤ 20`): k̂ is reported as `+inf` and the weights are only normalized, as in ArviZ.
    TooFewTailDraws,
    /// The fit produced no usable estimate (the tail values are indistinguishable from the
    /// cutoff once exponentiated, so the profile likelihood is NaN): k̂ is reported as `+inf`
    /// and the weights are only normalized. ArviZ 0.23 returns the prior mean `5 / (n + 10)` as
    /// k̂ and NaN log weights here; this crate reports a failed fit instead.
    FitFailed,
    /// Every log weight is the same to rounding ([`FLAT_TOLERANCE`]): q is p up to its
    /// normalizing constant and importance sampling is exact. The weights have no tail at all,
    /// so k̂ is reported as [`FLAT_PARETO_K`] (0: "good"); nothing is smoothed.
    Flat,
}

/// Log weights whose spread (max − min) is at most this times max(1, |max|) count as identical
/// ([`TailFit::Flat`]): about 2⁹ ulps, the rounding of log p − log q at q = p.
pub const FLAT_TOLERANCE: f64 = 1e-13;

/// The k̂ reported for identical weights ([`TailFit::Flat`]).
pub const FLAT_PARETO_K: f64 = 0.0;

/// The Pareto fit of one PSIS run: k̂, the tail size and what was done to the tail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParetoFit {
    /// Pareto k̂, the estimated shape of the generalized Pareto distribution fitted to the
    /// largest weights, including the weakly-informative prior: `(n k + 10 · 0.5) / (n + 10)`.
    /// `+inf` when no fit was made ([`TailFit::TooFewTailDraws`], [`TailFit::FitFailed`]).
    /// Never NaN.
    pub pareto_k: f64,
    /// `n`, the number of draws strictly above the cutoff (at most [`tail_len`]`(S)`).
    pub n_tail: usize,
    /// Whether the tail was smoothed, and if not, why.
    pub tail: TailFit,
}

/// The result of [`psis`]: the smoothed, normalized log weights and the Pareto fit.
///
/// # Example
///
/// ```
/// use kl_diag::{Reliability, psis};
///
/// # fn main() -> Result<(), kl_diag::Error> {
/// // Log weights of a proposal that matches its target well: ln w = 0.3 sin(i).
/// let log_weights: Vec<f64> = (0..1000).map(|i| 0.3 * (i as f64).sin()).collect();
/// let result = psis(&log_weights)?;
///
/// assert_eq!(result.log_weights().len(), 1000);
/// let total: f64 = result.log_weights().iter().map(|lw| lw.exp()).sum();
/// assert!((total - 1.0).abs() < 1e-12);
/// assert!(result.pareto_k() < 0.5); // bounded weights
/// assert_eq!(result.diagnose().reliability, Reliability::Good);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Psis {
    log_weights: Vec<f64>,
    fit: ParetoFit,
    ess: f64,
    iw_elbo: f64,
}

impl Psis {
    /// The Pareto-smoothed log weights, normalized: `Σ exp(lwᵢ) = 1`. Entry `i` belongs to
    /// input `i`; zero weights (`−inf`) stay `−inf`.
    pub fn log_weights(&self) -> &[f64] {
        &self.log_weights
    }

    /// The smoothed log weights, by value.
    pub fn into_log_weights(self) -> Vec<f64> {
        self.log_weights
    }

    /// Pareto k̂ (`+inf` if not estimated, never NaN).
    pub fn pareto_k(&self) -> f64 {
        self.fit.pareto_k
    }

    /// The Pareto fit: k̂, tail size, and whether the tail was smoothed.
    pub fn fit(&self) -> ParetoFit {
        self.fit
    }

    /// `S`, the number of draws.
    pub fn n_samples(&self) -> usize {
        self.log_weights.len()
    }

    /// The diagnosis in words: k̂ against the thresholds, with the ESS and the IW-ELBO of the
    /// raw weights that went in and the ESS of the smoothed ones.
    pub fn diagnose(&self) -> Diagnosis {
        Diagnosis::new(
            self.fit,
            self.n_samples(),
            self.ess,
            ess_of_valid(&self.log_weights),
            self.iw_elbo,
        )
    }
}

/// Pareto-smoothed importance sampling of one vector of log weights `ln wᵢ = ln p(xᵢ) − ln q(xᵢ)`,
/// `xᵢ ~ q`, exactly as ArviZ's `psislw(log_weights, reff=1)`: see the crate docs for the
/// algorithm. Allocates the output and one buffer of at most [`tail_len`]`(S)` entries.
///
/// # Errors
///
/// [`Error::Empty`], [`Error::NonFiniteLogWeight`] (NaN or `+inf`, with the index),
/// [`Error::AllZeroWeights`].
pub fn psis(log_weights: &[f64]) -> Result<Psis, Error> {
    let mut out = vec![0.0; log_weights.len()];
    let fit = psis_into(log_weights, &mut out)?;
    Ok(Psis {
        log_weights: out,
        fit,
        // The input was validated by `psis_into`: finite or −inf, not all −inf.
        ess: ess_of_valid(log_weights),
        iw_elbo: log_sum_exp(log_weights) - (log_weights.len() as f64).ln(),
    })
}

/// [`psis`] into caller memory: writes the smoothed, normalized log weights into `out` (one
/// entry per log weight) and returns the fit. Its only allocation is the tail buffer, at most
/// [`tail_len`]`(S)` (index, value) pairs; the work is O(S) for the cutoff (a selection, not a
/// sort) plus O(M log M) for the tail and O(M √M) for the fit.
///
/// # Errors
///
/// As [`psis`], and [`Error::LengthMismatch`] if `out.len() != log_weights.len()`; on error
/// `out` is left unspecified.
pub fn psis_into(log_weights: &[f64], out: &mut [f64]) -> Result<ParetoFit, Error> {
    let n_samples = log_weights.len();
    let max = check_log_weights(log_weights)?;
    if out.len() != n_samples {
        return Err(Error::LengthMismatch {
            n_samples,
            out_len: out.len(),
        });
    }
    let shift = |out: &mut [f64]| {
        for (o, &lw) in out.iter_mut().zip(log_weights) {
            *o = lw - max;
        }
    };

    let m = tail_len(n_samples);
    let min = log_weights.iter().copied().fold(f64::INFINITY, f64::min);
    let fit = if n_samples > 1 && max - min <= FLAT_TOLERANCE * max.abs().max(1.0) {
        shift(out);
        ParetoFit {
            pareto_k: FLAT_PARETO_K,
            n_tail: 0,
            tail: TailFit::Flat,
        }
    } else if m + 1 > n_samples {
        // S = 1: ArviZ indexes out of bounds (IndexError); there is no tail to fit.
        shift(out);
        ParetoFit {
            pareto_k: f64::INFINITY,
            n_tail: 0,
            tail: TailFit::TooFewTailDraws,
        }
    } else {
        // The (M + 1)-th largest shifted log weight, by selection in `out`, then `out` refilled.
        shift(out);
        let kth = n_samples - m - 1;
        let (_, cut, _) = out.select_nth_unstable_by(kth, f64::total_cmp);
        let cutoff = cut.max(LOG_TINY);
        shift(out);
        smooth_tail(out, cutoff, m)
    };

    let lse = log_sum_exp(out);
    for o in out.iter_mut() {
        *o -= lse;
    }
    Ok(fit)
}

/// Fits and replaces the tail `{i : xᵢ > cutoff}` of the shifted log weights `x` (max 0) in place.
fn smooth_tail(x: &mut [f64], cutoff: f64, m: usize) -> ParetoFit {
    // At most M draws are strictly above the (M + 1)-th largest (and the floor only removes some).
    let mut tail: Vec<(f64, usize)> = Vec::with_capacity(m);
    tail.extend(
        x.iter()
            .enumerate()
            .filter(|&(_, &v)| v > cutoff)
            .map(|(i, &v)| (v, i)),
    );
    let n_tail = tail.len();
    if n_tail < MIN_TAIL_DRAWS {
        return ParetoFit {
            pareto_k: f64::INFINITY,
            n_tail,
            tail: TailFit::TooFewTailDraws,
        };
    }
    // Ascending by value; ties by index, so the result is deterministic (numpy's argsort order
    // among ties is unspecified).
    tail.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let exp_cutoff = cutoff.exp();
    for t in tail.iter_mut() {
        t.0 = t.0.exp() - exp_cutoff;
    }

    let failed = ParetoFit {
        pareto_k: f64::INFINITY,
        n_tail,
        tail: TailFit::FitFailed,
    };
    let Some((k, sigma)) = gpd_fit(&tail) else {
        return failed;
    };
    let n = n_tail as f64;
    for (i, &(_, index)) in tail.iter().enumerate() {
        let p = (i as f64 + 0.5) / n;
        let smoothed = (gpd_quantile(p, k, sigma) + exp_cutoff).ln();
        // Truncation at the largest raw weight, which is exp(0) = 1 after the shift.
        x[index] = if smoothed > 0.0 { 0.0 } else { smoothed };
    }
    ParetoFit {
        pareto_k: k,
        n_tail,
        tail: TailFit::Smoothed { sigma },
    }
}

/// Zhang & Stephens (2009) empirical-Bayes fit of the generalized Pareto distribution to the
/// ascending, non-negative values `ys[..].0`, with the weakly-informative prior on k of
/// Vehtari et al. (2024): ArviZ's `_gpdfit`. Returns `(k̂, σ̂)`, or `None` if either is not
/// finite or σ̂ ≤ 0.
///
/// The profile log likelihood over the grid `b_j` is computed twice (once for its log-sum-exp,
/// once for the weights) instead of being stored: no allocation, `2 m n` `ln_1p` calls with
/// `m = 30 + ⌊√n⌋`.
fn gpd_fit(ys: &[(f64, usize)]) -> Option<(f64, f64)> {
    let n_usize = ys.len();
    let n = n_usize as f64;
    let m_est = 30 + (n.sqrt() as usize);
    let m = m_est as f64;
    // First quartile ys[⌊n/4 + 0.5⌋ − 1] and maximum.
    let x_star = ys[(n / 4.0 + 0.5) as usize - 1].0;
    let x_max = ys[n_usize - 1].0;
    let b_at =
        |j: usize| (1.0 - (m / (j as f64 + 1.0 - 0.5)).sqrt()) / (PRIOR_BS * x_star) + 1.0 / x_max;
    let mean_log1p = |b: f64| ys.iter().map(|&(y, _)| (-b * y).ln_1p()).sum::<f64>() / n;
    let profile = |j: usize| {
        let b = b_at(j);
        let k = mean_log1p(b);
        (b, n * ((-(b / k)).ln() - k - 1.0))
    };

    // Pass 1: log-sum-exp of the profile log likelihoods (online, so nothing is stored).
    let mut max = f64::NEG_INFINITY;
    let mut sum = 0.0;
    for j in 0..m_est {
        let (_, l) = profile(j);
        if l.is_nan() || l == f64::INFINITY {
            return None;
        }
        if l > max {
            sum = sum * (max - l).exp() + 1.0;
            max = l;
        } else {
            sum += (l - max).exp();
        }
    }
    if max == f64::NEG_INFINITY {
        return None;
    }
    let lse = max + sum.ln();

    // Pass 2: posterior mean of b over the normalized weights, negligible ones (< 10 ε) dropped.
    let mut weight_sum = 0.0;
    let mut b_sum = 0.0;
    for j in 0..m_est {
        let (b, l) = profile(j);
        let w = (l - lse).exp();
        if w >= 10.0 * f64::EPSILON {
            weight_sum += w;
            b_sum += b * w;
        }
    }
    let b_post = b_sum / weight_sum;
    let k_raw = mean_log1p(b_post);
    let sigma = -k_raw / b_post;
    let k = (n * k_raw + PRIOR_K * PRIOR_K_MEAN) / (n + PRIOR_K);
    // NaN-safe: rejects NaN and infinities in both, and σ̂ ≤ 0.
    if k.is_finite() && sigma.is_finite() && sigma > 0.0 {
        Some((k, sigma))
    } else {
        None
    }
}

/// Quantile function of the generalized Pareto distribution with location 0, shape `k` and
/// scale `sigma > 0` at `p ∈ (0, 1)`: `σ (1 − p)^(−k) − 1) / k`, `−σ ln(1 − p)` for `|k| < ε`
/// (ArviZ's `_gpinv`, same operation order).
fn gpd_quantile(p: f64, k: f64, sigma: f64) -> f64 {
    if k.abs() < f64::EPSILON {
        -(-p).ln_1p() * sigma
    } else {
        (-k * (-p).ln_1p()).exp_m1() / k * sigma
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tiny_is_ln_of_min_positive() {
        assert_eq!(LOG_TINY, f64::MIN_POSITIVE.ln());
    }

    #[test]
    fn tail_len_matches_the_formula_at_its_switch_points() {
        // S / 5 < 3 √S  ⇔  S < 225.
        assert_eq!(tail_len(1), 1);
        assert_eq!(tail_len(5), 1);
        assert_eq!(tail_len(6), 2);
        assert_eq!(tail_len(224), 45); // ⌈44.8⌉
        assert_eq!(tail_len(226), 46); // ⌈3 √226⌉ = ⌈45.099⌉
        assert_eq!(tail_len(4000), 190); // ⌈189.74⌉
        assert_eq!(tail_len(10_000), 300); // exactly 300
    }

    #[test]
    fn gpd_quantile_inverts_the_closed_form_cdf() {
        // F(y) = 1 − (1 + k y / σ)^(−1/k); F(y) = 1 − exp(−y / σ) for k = 0.
        for &(k, sigma) in &[(0.3, 2.0), (-0.4, 0.5), (0.0, 1.5), (1.2, 0.1)] {
            for &p in &[0.01, 0.25, 0.5, 0.9, 0.999] {
                let y = gpd_quantile(p, k, sigma);
                let cdf = if k == 0.0 {
                    1.0 - (-y / sigma).exp()
                } else {
                    1.0 - (1.0 + k * y / sigma).powf(-1.0 / k)
                };
                assert!(
                    (cdf - p).abs() < 1e-12,
                    "k = {k}, σ = {sigma}, p = {p}: F = {cdf}"
                );
            }
        }
    }

    #[test]
    fn gpd_fit_recovers_the_shape_of_exact_quantiles() {
        // Data = GPD(k, σ) quantiles at (i + 0.5) / n: the fit must come close to k, σ (the
        // prior pulls k toward 0.5 by the weight 10 / (n + 10)).
        let n = 2000;
        for &(k, sigma) in &[(0.2, 1.0), (0.7, 3.0), (-0.3, 0.5)] {
            let ys: Vec<(f64, usize)> = (0..n)
                .map(|i| (gpd_quantile((i as f64 + 0.5) / n as f64, k, sigma), i))
                .collect();
            let (k_hat, s_hat) = gpd_fit(&ys).expect("a regular fit");
            let k_raw = (k_hat * (n as f64 + 10.0) - 5.0) / n as f64;
            assert!((k_raw - k).abs() < 0.02, "k = {k}: raw k̂ = {k_raw}");
            assert!(
                (s_hat / sigma - 1.0).abs() < 0.05,
                "σ = {sigma}: σ̂ = {s_hat}"
            );
        }
    }
}
