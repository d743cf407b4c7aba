//! Effective sample size, the importance-weighted ELBO, the k̂ thresholds and the diagnosis.

use std::fmt;

use crate::error::{Error, check_log_weights};
use crate::psis::{ParetoFit, TailFit, psis};

/// `ln Σ exp(xᵢ)` for values that are finite or `−inf`, not all `−inf` (callers check).
pub(crate) fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + xs.iter().map(|&x| (x - max).exp()).sum::<f64>().ln()
}

/// `(Σ w)² / Σ w²` with the largest weight scaled to 1, so that neither sum can overflow.
fn ess_with_max(log_weights: &[f64], max: f64) -> f64 {
    let (mut s1, mut s2) = (0.0, 0.0);
    for &lw in log_weights {
        let w = (lw - max).exp();
        s1 += w;
        s2 += w * w;
    }
    s1 * s1 / s2
}

/// Effective sample size of the self-normalized importance weights `wᵢ = exp(log_weightsᵢ)`,
/// Kish's `(Σ wᵢ)² / Σ wᵢ²`, computed with the largest weight scaled to 1 (the same as
/// `exp(2 lse(lw) − lse(2 lw))`, without overflow). It lies in `[1, S]`: `S` for equal
/// weights, 1 when one weight dominates. Invariant to adding a constant to every log weight.
///
/// ```
/// use kl_diag::ess;
///
/// # fn main() -> Result<(), kl_diag::Error> {
/// assert_eq!(ess(&[-3.0; 8])?, 8.0);
/// // Weights 1, 1, 2: 4² / 6.
/// let lw = [1000.0, 1000.0, 1000.0 + 2f64.ln()];
/// assert!((ess(&lw)? - 16.0 / 6.0).abs() < 1e-12);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Empty`], [`Error::NonFiniteLogWeight`] (NaN or `+inf`), [`Error::AllZeroWeights`].
pub fn ess(log_weights: &[f64]) -> Result<f64, Error> {
    let max = check_log_weights(log_weights)?;
    Ok(ess_with_max(log_weights, max))
}

/// The importance-weighted ELBO `ln( (1/S) Σ wᵢ ) = logsumexp(log_weights) − ln S`.
///
/// With `log_weightsᵢ = ln p̃(xᵢ) − ln q(xᵢ)`, `xᵢ ~ q` and `p̃` unnormalized, it is the
/// `S`-sample bound of Burda et al. (2016) on `ln Z`: its expectation is at most `ln Z` and
/// increases with `S`; for `S = 1` it is the ordinary ELBO estimate.
///
/// ```
/// use kl_diag::iw_elbo;
///
/// # fn main() -> Result<(), kl_diag::Error> {
/// // Weights 1 and 3: ln(2).
/// let value = iw_elbo(&[0.0, 3f64.ln()])?;
/// assert!((value - 2f64.ln()).abs() < 1e-15);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Empty`], [`Error::NonFiniteLogWeight`] (NaN or `+inf`), [`Error::AllZeroWeights`].
pub fn iw_elbo(log_weights: &[f64]) -> Result<f64, Error> {
    check_log_weights(log_weights)?;
    Ok(log_sum_exp(log_weights) - (log_weights.len() as f64).ln())
}

/// Below this k̂ the weights' distribution has finite variance (`k < 1/2`): good.
pub const K_GOOD: f64 = 0.5;
/// Above this k̂ PSIS estimates are unreliable whatever `S` (Vehtari et al. 2024).
pub const K_UNRELIABLE: f64 = 0.7;

/// The sample-size-dependent k̂ threshold of Vehtari et al. (2024),
/// `min(1 − 1 / log₁₀ S, 0.7)`: with `S` draws, PSIS estimates are reliable for k̂ below it.
/// It is 0.7 for `S ≥ 2155` (`10^(1/0.3)` ≈ 2154.4), lower for smaller `S`, and `≤ 0` for
/// `S ≤ 10` (`−inf` for `S ≤ 1`).
///
/// ```
/// use kl_diag::khat_threshold;
///
/// assert_eq!(khat_threshold(4000), 0.7);
/// assert!((khat_threshold(100) - 0.5).abs() < 1e-15); // 1 − 1/2
/// assert!((khat_threshold(1000) - 2.0 / 3.0).abs() < 1e-15); // 1 − 1/3
/// assert_eq!(khat_threshold(10), 0.0);
/// ```
pub fn khat_threshold(n_samples: usize) -> f64 {
    if n_samples <= 1 {
        return f64::NEG_INFINITY;
    }
    (1.0 - 1.0 / (n_samples as f64).log10()).min(K_UNRELIABLE)
}

/// The sample size Vehtari et al. (2024) ask for at a given k̂: `10^(1 / (1 − max(k, 0)))`
/// (the inverse of [`khat_threshold`]; ArviZ's `pareto_min_ss`, which stops at k = 0.99).
/// `+inf` for `k ≥ 1` (the mean does not exist) and for NaN.
///
/// ```
/// use kl_diag::min_sample_size;
///
/// assert!((min_sample_size(0.5) - 100.0).abs() < 1e-9);
/// assert!((min_sample_size(-0.3) - 10.0).abs() < 1e-12);
/// assert_eq!(min_sample_size(1.0), f64::INFINITY);
/// ```
pub fn min_sample_size(pareto_k: f64) -> f64 {
    if pareto_k.is_nan() || pareto_k >= 1.0 {
        return f64::INFINITY;
    }
    10f64.powf(1.0 / (1.0 - pareto_k.max(0.0)))
}

/// What a k̂ says about the importance weights (Vehtari et al. 2024; Yao et al. 2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// k̂ < 0.5: the weights have finite variance; estimates converge at the usual rate.
    Good,
    /// 0.5 ≤ k̂ ≤ 0.7: infinite variance, but Pareto smoothing makes estimates usable (and
    /// reliable if `S` is large enough, see [`khat_threshold`]).
    Usable,
    /// k̂ > 0.7 (or not estimated): estimates are not to be trusted; q is a poor proposal for p.
    Unreliable,
}

impl Reliability {
    /// Classifies a k̂ by the fixed thresholds 0.5 and 0.7; `+inf` and NaN are unreliable.
    ///
    /// ```
    /// use kl_diag::Reliability;
    ///
    /// assert_eq!(Reliability::of(0.2), Reliability::Good);
    /// assert_eq!(Reliability::of(0.5), Reliability::Usable);
    /// assert_eq!(Reliability::of(0.7), Reliability::Usable);
    /// assert_eq!(Reliability::of(0.71), Reliability::Unreliable);
    /// assert_eq!(Reliability::of(f64::INFINITY), Reliability::Unreliable);
    /// ```
    pub fn of(pareto_k: f64) -> Reliability {
        if pareto_k < K_GOOD {
            Reliability::Good
        } else if pareto_k <= K_UNRELIABLE {
            Reliability::Usable
        } else {
            // Also NaN (no comparison holds).
            Reliability::Unreliable
        }
    }
}

impl fmt::Display for Reliability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reliability::Good => "good",
            Reliability::Usable => "usable",
            Reliability::Unreliable => "unreliable",
        })
    }
}

/// A summary of one set of importance weights: Pareto k̂ and what it means, the effective
/// sample sizes and the IW-ELBO. Its `Display` says it in words.
///
/// # Example
///
/// ```
/// use kl_diag::{Reliability, diagnose};
///
/// # fn main() -> Result<(), kl_diag::Error> {
/// // Too few draws for a Pareto fit: k̂ is not estimated.
/// let d = diagnose(&[0.1, -0.4, 0.3, 0.0, -1.2])?;
/// assert_eq!(d.pareto_k, f64::INFINITY);
/// assert_eq!(d.reliability, Reliability::Unreliable);
/// assert!(d.to_string().starts_with("Pareto k̂ not estimated: 1 draw above the tail cutoff"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diagnosis {
    /// Pareto k̂ (`+inf` if not estimated).
    pub pareto_k: f64,
    /// The Pareto fit it came from (tail size, smoothed or why not).
    pub fit: ParetoFit,
    /// `S`.
    pub n_samples: usize,
    /// [`khat_threshold`]`(S)`.
    pub khat_threshold: f64,
    /// [`min_sample_size`]`(k̂)`.
    pub min_sample_size: f64,
    /// [`Reliability::of`]`(k̂)`.
    pub reliability: Reliability,
    /// [`ess`] of the raw weights.
    pub ess: f64,
    /// [`ess`] of the Pareto-smoothed weights.
    pub ess_smoothed: f64,
    /// [`iw_elbo`] of the raw log weights.
    pub iw_elbo: f64,
}

impl Diagnosis {
    pub(crate) fn new(
        fit: ParetoFit,
        n_samples: usize,
        ess: f64,
        ess_smoothed: f64,
        iw_elbo: f64,
    ) -> Diagnosis {
        Diagnosis {
            pareto_k: fit.pareto_k,
            fit,
            n_samples,
            khat_threshold: khat_threshold(n_samples),
            min_sample_size: min_sample_size(fit.pareto_k),
            reliability: Reliability::of(fit.pareto_k),
            ess,
            ess_smoothed,
            iw_elbo,
        }
    }

    /// Whether k̂ is below the sample-size-dependent threshold [`khat_threshold`]`(S)`, i.e.
    /// PSIS estimates from these `S` draws can be trusted (Vehtari et al. 2024).
    pub fn is_reliable(&self) -> bool {
        self.pareto_k <= self.khat_threshold
    }
}

/// [`psis`] followed by [`Psis::diagnose`](crate::Psis::diagnose).
///
/// # Errors
///
/// As [`psis`].
pub fn diagnose(log_weights: &[f64]) -> Result<Diagnosis, Error> {
    Ok(psis(log_weights)?.diagnose())
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.n_samples;
        match self.fit.tail {
            TailFit::TooFewTailDraws => write!(
                f,
                "Pareto k̂ not estimated: {} above the tail cutoff, at least 5 needed \
                 (S = {s}; PSIS needs S ≥ 21 and untied large weights): unreliable, treat the \
                 importance weights as untrustworthy",
                draws(self.fit.n_tail)
            )?,
            TailFit::FitFailed => write!(
                f,
                "Pareto k̂ not estimated: the generalized Pareto fit to the {} largest weights \
                 failed (they are indistinguishable from the cutoff): unreliable, treat the \
                 importance weights as untrustworthy",
                self.fit.n_tail
            )?,
            TailFit::Flat => write!(
                f,
                "Pareto k̂ = {}: every importance weight is the same (S = {s}), q equals p up to \
                 its normalizing constant and importance sampling is exact: good",
                crate::psis::FLAT_PARETO_K
            )?,
            TailFit::Smoothed { .. } => {
                let k = self.pareto_k;
                write!(
                    f,
                    "Pareto k̂ = {k:.3} ({} tail draws of S = {s}): ",
                    self.fit.n_tail
                )?;
                match self.reliability {
                    Reliability::Good => write!(
                        f,
                        "good (k̂ < 0.5: the importance weights have finite variance and \
                         estimates converge at the usual Monte Carlo rate)"
                    )?,
                    Reliability::Usable => write!(
                        f,
                        "usable (0.5 ≤ k̂ ≤ 0.7: the raw weights have infinite variance, but \
                         Pareto-smoothed estimates are usable)"
                    )?,
                    Reliability::Unreliable => write!(
                        f,
                        "unreliable (k̂ > 0.7: the weights are too heavy-tailed for importance \
                         sampling, even smoothed; q is a poor proposal for p{})",
                        if k >= 1.0 {
                            "; with k̂ ≥ 1 not even the weights' mean exists"
                        } else {
                            ""
                        }
                    )?,
                }
                if k <= K_UNRELIABLE && !self.is_reliable() {
                    write!(
                        f,
                        "; but S = {s} is too small for this k̂ (threshold {:.3}, about {:.0} \
                         draws needed)",
                        self.khat_threshold, self.min_sample_size
                    )?;
                }
            }
        }
        write!(
            f,
            ". ESS {:.1} raw, {:.1} smoothed, of {s} draws; IW-ELBO {:.4}",
            self.ess, self.ess_smoothed, self.iw_elbo
        )
    }
}

/// "1 draw", "5 draws".
fn draws(n: usize) -> String {
    if n == 1 {
        "1 draw".to_owned()
    } else {
        format!("{n} draws")
    }
}

/// `(Σ w)² / Σ w²` of PSIS output (finite or −inf, normalized so the largest is ≤ 0 and not
/// all −inf).
pub(crate) fn ess_of_valid(log_weights: &[f64]) -> f64 {
    let max = log_weights
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    ess_with_max(log_weights, max)
}
