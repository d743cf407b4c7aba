//! Forward and reverse KL objectives for a Gaussian model q(μ, Σ = L Lᵀ), with analytic gradients.
//!
//! The model's parameters θ are packed flat: the mean μ (d numbers), then the raw square factor L
//! (d × d, row-major, not constrained to be triangular). Every objective returns its value and
//! its gradient with respect to θ, in closed form — no automatic differentiation and no finite
//! differences in the library (the tests check every gradient against central differences).
//!
//! | objective | value | notes |
//! |---|---|---|
//! | [`ForwardKlExact`] | D(p ‖ q), closed form, Gaussian p | 0 at q = p |
//! | [`ForwardKlSamples`] | −(1/n) Σ log q(xᵢ) over fixed samples of p | maximum likelihood |
//! | [`ReverseKl`] | (1/n) Σ [log q(xᵢ) − log p(xᵢ)], xᵢ = μ + L εᵢ | any [`kl_dist::LogDensity`] target; `total` or `stl` gradient |
//! | [`ReverseKlExact`] | D(q ‖ p), closed form, Gaussian p | |
//! | [`Renyi`] | −VR bound: −1/(1 − α) log (1/n) Σ exp((1 − α) rᵢ), rᵢ = log p̃(xᵢ) − log q(xᵢ) | any α; α → 1 is [`ReverseKl`]; [`Objective::ess`] |
//! | [`RenyiExact`] | D_α(q ‖ p), closed form, Gaussian p | α → 1 is [`ReverseKlExact`] |
//! | [`ForwardKlIs`] | −Σ w̄ᵢ log q(xᵢ), xᵢ ~ q frozen, w̄ᵢ ∝ p̃/q | forward KL without samples of p; [`Objective::ess`] |
//!
//! Each of them is written for the full-rank family; [`MeanField`] turns any of them into an
//! objective over the mean-field parameters θ = (μ, ω), σᵢ = exp(ωᵢ) ([`Family`] says which
//! layout a θ has and gives its mean and covariance).
//!
//! The crate re-exports [`rand`] and [`rand_pcg`] (and [`kl_dist`]), so a program that builds
//! targets, objectives and seeded generators needs only `kl-dist`, `kl-grad` and `kl-opt` as
//! dependencies: `use kl_grad::rand::SeedableRng; let rng = kl_grad::rand_pcg::Pcg64::seed_from_u64(1);`.
//!
//! # Invariants
//! - An objective is built once (its target fixed, its buffers allocated); evaluating it then
//!   allocates nothing. Monte Carlo objectives own their base draws ε: with ε fixed the value is a
//!   deterministic function of θ; [`Objective::resample`] draws new ones from the caller's RNG.
//! - The covariance of q is factored once per evaluation (Cholesky of L Lᵀ); nothing inverts a
//!   matrix or takes a determinant. A singular L is [`Error::SingularModel`], a non-finite θ is
//!   [`Error::NonFiniteParameter`]: evaluation never returns NaN silently.
//! - Depends on kl-dist only; knows nothing of optimizers, configs or plots.
//!
//! # Example
//! ```
//! use kl_dist::Mvn;
//! use kl_grad::{ForwardKlExact, Objective};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let p = Mvn::new(&[1.0, -1.0], &[2.0, 0.3, 0.3, 0.5])?;
//! let mut objective = ForwardKlExact::new(p);
//! // θ = (μ, L): start at the standard normal.
//! let mut theta = vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
//! let mut grad = vec![0.0; theta.len()];
//! let first = objective.value_and_grad(&theta, &mut grad)?;
//! for _ in 0..200 {
//!     objective.value_and_grad(&theta, &mut grad)?;
//!     theta.iter_mut().zip(&grad).for_each(|(t, g)| *t -= 0.1 * g);
//! }
//! let last = objective.value_and_grad(&theta, &mut grad)?;
//! assert!(last < 1e-6 && last < first);
//! # Ok(())
//! # }
//! ```
//!
//! A mean-field Rényi fit to a mixture, with the generator taken from the re-exports (no
//! `rand` or `rand_pcg` in the user's dependencies):
//!
//! ```
//! use kl_grad::kl_dist::{Mixture, Mvn};
//! use kl_grad::rand::SeedableRng;
//! use kl_grad::{Family, MeanField, Objective, Renyi};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let a = Mvn::new(&[-2.0, 0.0], &[0.5, 0.0, 0.0, 0.5])?;
//! let b = Mvn::new(&[2.0, 0.0], &[0.5, 0.0, 0.0, 0.5])?;
//! let p = Mixture::new(&[0.5, 0.5], vec![a, b])?;
//! let mut rng = kl_grad::rand_pcg::Pcg64::seed_from_u64(1);
//! let mut objective = MeanField::new(Renyi::new(p, 0.0, 200, &mut rng)?);
//! let mut theta = vec![0.0; Family::MeanField.n_params(2)];
//! let mut grad = vec![0.0; theta.len()];
//! for _ in 0..300 {
//!     objective.resample(&mut rng);
//!     objective.value_and_grad(&theta, &mut grad)?;
//!     theta.iter_mut().zip(&grad).for_each(|(t, g)| *t -= 0.05 * g);
//! }
//! // α = 0 covers both modes: q spreads along the axis that separates them.
//! let cov = Family::MeanField.covariance(&theta, 2)?;
//! assert!(cov[0] > 2.0 && cov[3] < 1.0);
//! assert!(objective.ess().ok_or("weights")? > 1.0);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod error;
mod family;
mod forward;
mod forward_is;
mod model;
mod renyi;
mod reverse;
mod ziggurat;

pub use error::Error;
pub use family::{Family, MeanField};
pub use forward::{ForwardKlExact, ForwardKlSamples};
pub use forward_is::ForwardKlIs;
pub use renyi::{ALPHA_ONE_TOL, EXACT_ALPHA_ONE_TOL, Renyi, RenyiExact};
pub use reverse::{Estimator, ReverseKl, ReverseKlExact};

/// The `kl-dist` crate (targets: [`kl_dist::Mvn`], [`kl_dist::Mixture`], [`kl_dist::LogDensity`]).
pub use kl_dist;
/// The `rand` crate this one is built against (its `Rng` is what [`Objective::resample`] takes).
pub use rand;
/// The `rand_pcg` crate: `Pcg64`, the seeded generator every experiment of the workspace uses.
pub use rand_pcg;

/// A differentiable objective of the model parameters θ = (μ, L).
pub trait Objective {
    /// The dimension d of the model (θ has `d + d²` entries).
    fn dim(&self) -> usize;

    /// Number of parameters, `d + d²`.
    fn n_params(&self) -> usize {
        let d = self.dim();
        d + d * d
    }

    /// Writes ∇θ into `grad` (length [`Objective::n_params`]) and returns the value at `theta`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a `theta` or `grad` of the wrong length,
    /// [`Error::NonFiniteParameter`] naming a non-finite entry of θ, [`Error::SingularModel`]
    /// when L Lᵀ is not positive definite, and what the objective documents besides (e.g.
    /// [`Error::InfiniteDivergence`], [`Error::DegenerateWeights`]).
    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error>;

    /// The value at `theta`.
    ///
    /// # Errors
    /// As [`Objective::value_and_grad`].
    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        let mut grad = vec![0.0; self.n_params()];
        self.value_and_grad(theta, &mut grad)
    }

    /// Draws new base samples (Monte Carlo objectives); a no-op for deterministic ones.
    fn resample(&mut self, _rng: &mut dyn rand::Rng) {}

    /// Whether [`Objective::resample`] changes anything.
    fn is_stochastic(&self) -> bool {
        false
    }

    /// The effective sample size `1 / Σ w̄ᵢ²` of the last evaluation's self-normalized
    /// importance weights, for objectives that have them ([`Renyi`], [`ForwardKlIs`]); `None`
    /// for the others (and before the first evaluation).
    fn ess(&self) -> Option<f64> {
        None
    }
}

/// Splits θ into μ and the raw factor L.
pub fn split_theta(theta: &[f64], d: usize) -> (&[f64], &[f64]) {
    theta.split_at(d)
}

/// Packs μ and L (row-major) into θ.
pub fn pack_theta(mean: &[f64], raw: &[f64]) -> Vec<f64> {
    let mut t = Vec::with_capacity(mean.len() + raw.len());
    t.extend_from_slice(mean);
    t.extend_from_slice(raw);
    t
}
