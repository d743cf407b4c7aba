//! Pareto-smoothed importance sampling (PSIS) diagnostics: smoothed log weights and Pareto k̂,
//! the effective sample size of self-normalized weights, and the importance-weighted ELBO.
//!
//! Given draws `xᵢ ~ q` of a fitted approximation and log weights `ln wᵢ = ln p(xᵢ) − ln q(xᵢ)`,
//! Pareto k̂ — the estimated shape of a generalized Pareto distribution (GPD) fitted to the
//! largest weights — says whether importance sampling from `q`, and hence `q` itself, can be
//! trusted ("Yes, but did it work?", Yao, Vehtari, Simpson & Gelman 2018). This crate knows
//! nothing of densities: it takes `&[f64]` log weights (std only, no dependencies).
//!
//! - [`psis`] / [`psis_into`]: ArviZ's `psislw(log_weights, reff=1)`, returning [`Psis`] (the
//!   smoothed, normalized log weights and the [`ParetoFit`]);
//! - [`ess`]: Kish's `(Σ w)² / Σ w²`; [`iw_elbo`]: `logsumexp(lw) − ln S`;
//! - [`diagnose`] → [`Diagnosis`], whose `Display` says in words what k̂ means, classified by
//!   [`Reliability`] and [`khat_threshold`].
//!
//! # The algorithm (Vehtari, Simpson, Gelman, Yao & Gabry 2024, JMLR 25(72); ArviZ 0.23)
//!
//! For `S` log weights, with `reff = 1` (independent draws, as from a variational `q`; the
//! relative efficiency `reff < 1` of correlated MCMC draws, which lengthens ArviZ's tail, is
//! not supported):
//!
//! 1. Shift so the largest is 0: `xᵢ = lwᵢ − max lw`.
//! 2. Tail size `M = ⌈min(S / 5, 3 √S)⌉` ([`tail_len`]); cutoff `c = max(x₍S−M₎, ln(tiny))`,
//!    the `(M + 1)`-th largest `x` floored at `ln f64::MIN_POSITIVE ≈ −708.4`. The tail is
//!    `{i : xᵢ > c}` (strictly: ties at the cutoff stay in the body), `n ≤ M` draws.
//! 3. If `n < 5`: k̂ = `+inf`, no smoothing ([`TailFit::TooFewTailDraws`]). This is always the
//!    case for `S ≤ 20`.
//! 4. Otherwise fit the GPD to `yᵢ = exp(xᵢ) − exp(c)` (ascending) by the empirical-Bayes
//!    method of Zhang & Stephens (2009): profile likelihood on the grid
//!    `b_j = 1/y₍n₎ + (1 − √(m / (j − ½))) / (3 y₍⌊n/4+½⌋₎)`, `j = 1..m`, `m = 30 + ⌊√n⌋`,
//!    `k(b) = mean ln(1 − b y)`, `ℓ(b) = n (ln(−b / k(b)) − k(b) − 1)`; posterior-mean `b̂`
//!    over the normalized weights `exp(ℓ_j − logsumexp ℓ)` with those below `10 ε` dropped;
//!    `k = mean ln(1 − b̂ y)`, `σ̂ = −k / b̂`; then the weakly-informative prior on the shape,
//!    `k̂ = (n k + 10 · 0.5) / (n + 10)`.
//! 5. Replace the `i`-th smallest tail draw by `ln(F⁻¹((i + ½) / n) + exp(c))`, `F⁻¹` the GPD
//!    quantile with `(k̂, σ̂)`; truncate at the largest raw weight (`x ≤ 0`).
//! 6. Normalize: subtract `logsumexp(x)`, so that `Σ exp(xᵢ) = 1` (ArviZ's `normalize=True`).
//!
//! # Reading k̂
//!
//! | k̂ | [`Reliability`] | meaning |
//! |---|---|---|
//! | `< 0.5` | `Good` | weights have finite variance; estimates converge at the usual rate |
//! | `0.5 ..= 0.7` | `Usable` | infinite variance, but the smoothed estimates are usable |
//! | `> 0.7` | `Unreliable` | too heavy-tailed, even smoothed; `q` is a poor proposal |
//!
//! With `S` draws the 2024 paper's reliability threshold is `min(1 − 1/log₁₀ S, 0.7)`
//! ([`khat_threshold`]; [`Diagnosis::is_reliable`]); [`min_sample_size`] inverts it.
//!
//! # Where this differs from ArviZ (on purpose)
//!
//! Matched against `arviz.psislw` of ArviZ 0.23.4 (the `arviz.stats` implementation of the
//! 0.x series, the one `pip install arviz` gives on Python 3.11); k̂ and every smoothed log
//! weight agree to 1e-6 on the committed reference cases (`tests/reference/`). Deviations:
//!
//! - **Bad input is an error, not NaN.** NaN or `+inf` log weights give
//!   [`Error::NonFiniteLogWeight`] (ArviZ returns NaNs); all `−inf` gives
//!   [`Error::AllZeroWeights`]; `S = 0` gives [`Error::Empty`]. A `−inf` log weight is a zero
//!   weight and allowed, as in ArviZ (it stays `−inf`).
//! - **`S = 1`**: ArviZ raises `IndexError`; here k̂ = `+inf` and the weight is `ln 1 = 0`.
//! - **Failed fit**: when the exponentiated tail values are indistinguishable from the cutoff,
//!   ArviZ returns the prior mean `5 / (n + 10)` as a (good-looking) k̂ with NaN log weights;
//!   here k̂ = `+inf`, the weights are only normalized ([`TailFit::FitFailed`]).
//! - Identical log weights (q = p up to the constant, spread ≤ [`FLAT_TOLERANCE`]): importance
//!   sampling is exact, k̂ = [`FLAT_PARETO_K`] = 0, "good" ([`TailFit::Flat`]).
//! - **Ties inside the tail**: equal raw log weights get the quantiles in index order (ArviZ's
//!   order among ties is numpy's unstable argsort's); the multiset of smoothed weights is the
//!   same.
//! - ArviZ ≥ 1.0 moved PSIS to `arviz-stats`, whose `psislw` takes log-*likelihood* values
//!   (it smooths their negation) and changed the algorithm: `M = ⌊3 √S⌋` for `S > 225` and
//!   `⌊S / 5⌋` otherwise (instead of `⌈min(S / 5, 3 √S)⌉`), the tail chosen by rank rather
//!   than by `> cutoff` and without the `ln(tiny)` floor, a `ValueError` for fewer than 5 tail
//!   draws or all-equal tail values, and NaN k̂ when the tail's first quartile equals its
//!   minimum. For the same draws its k̂ differs from ArviZ 0.x's and from this crate's
//!   (arviz-stats 0.8.0 on the committed cases: by 0.001–0.02 for S ≥ 1000, identical for
//!   `S` = 25–100 without ties, an error for `S` = 21); this crate follows 0.x.
//!
//! # Invariants
//!
//! - Every function validates its input first and returns an [`Error`] naming the index; on
//!   `Ok`, k̂ is finite or `+inf` (never NaN), every smoothed log weight is finite or `−inf`
//!   (exactly where the input was `−inf`, or for a finite input more than `f64::MAX` below the
//!   largest) and `Σ exp(lwᵢ) = 1` to rounding.
//! - k̂ and the smoothed weights depend only on the differences of the log weights (adding a
//!   constant changes nothing beyond rounding) and not on their order (permuting the input
//!   permutes the output, exactly when there are no ties in the tail).
//! - Smoothing never raises a weight above the largest raw weight, and the body (all draws
//!   not in the tail) keeps its raw relative weights.
//! - [`psis_into`] allocates only its tail buffer (≤ [`tail_len`]`(S)` entries): O(S) for the
//!   cutoff by selection, O(M log M) to sort the tail, O(M √M) for the fit.
//! - No randomness: the same input gives the same bits.
//!
//! # Example
//!
//! Two proposals for two targets, with the draws replaced by the quantiles `F⁻¹((i + ½) / S)` of
//! the proposal (a deterministic stand-in for a sample): a heavy-tailed Cauchy proposal for a
//! Laplace target gives bounded weights, a Laplace proposal for a Cauchy target does not.
//!
//! ```
//! use std::f64::consts::PI;
//! use kl_diag::{Reliability, diagnose, psis};
//!
//! # fn main() -> Result<(), kl_diag::Error> {
//! let s = 2000;
//! let u = |i: usize| (i as f64 + 0.5) / s as f64;
//! let log_cauchy = |x: f64| -(PI * (1.0 + x * x)).ln();
//! let log_laplace = |x: f64| -x.abs() - 2f64.ln();
//!
//! // q = Cauchy, p = Laplace: w = p / q ≤ max, so k̂ is small.
//! let x_cauchy = |i: usize| (PI * (u(i) - 0.5)).tan();
//! let lw: Vec<f64> = (0..s).map(|i| log_laplace(x_cauchy(i)) - log_cauchy(x_cauchy(i))).collect();
//! let good = psis(&lw)?;
//! let total: f64 = good.log_weights().iter().map(|lw| lw.exp()).sum();
//! assert!((total - 1.0).abs() < 1e-12);
//! assert_eq!(good.diagnose().reliability, Reliability::Good);
//!
//! // q = Laplace, p = Cauchy: w ∝ e^|x| / (1 + x²) is heavy-tailed, so k̂ is large.
//! let x_laplace = |i: usize| {
//!     let v = u(i) - 0.5;
//!     -v.signum() * (1.0 - 2.0 * v.abs()).ln()
//! };
//! let lw: Vec<f64> = (0..s).map(|i| log_cauchy(x_laplace(i)) - log_laplace(x_laplace(i))).collect();
//! let bad = diagnose(&lw)?;
//! assert_eq!(bad.reliability, Reliability::Unreliable);
//! assert!(bad.to_string().contains("unreliable (k̂ > 0.7"));
//! assert!(bad.ess < s as f64);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod error;
mod psis;
mod summary;

pub use error::Error;
pub use psis::{
    FLAT_PARETO_K, FLAT_TOLERANCE, MIN_TAIL_DRAWS, ParetoFit, Psis, TailFit, psis, psis_into,
    tail_len,
};
pub use summary::{
    Diagnosis, K_GOOD, K_UNRELIABLE, Reliability, diagnose, ess, iw_elbo, khat_threshold,
    min_sample_size,
};
