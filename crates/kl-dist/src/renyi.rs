//! The Rényi divergence of order α between two normals, in closed form (precision form).

use crate::linalg::Cholesky;
use crate::{Error, Mvn, kl_divergence};

/// [`renyi_divergence`] treats `|α − 1| ≤ 1e-8` as α = 1 and returns the KL divergence
/// (the limit). The closed form divides a quantity that vanishes at α = 1 by α − 1, so its
/// rounding error grows like `ε_mach / |α − 1|` while the limit's error grows like `|α − 1|`: at
/// 1e-8 both are ~1e-8 relative to the log-determinants.
const ALPHA_ONE_TOL: f64 = 1e-8;

/// `D_α(q ‖ p) = 1/(α − 1) log ∫ q^α p^{1−α}` between normals q = N(μq, Σq) and p = N(μp, Σp).
///
/// **Derivation (precision form).** With Λq = Σq⁻¹, Λp = Σp⁻¹, the exponent of q^α p^{1−α} is
/// −½ of `xᵀ Λα x − 2 bᵀ x + c`, `Λα = α Λq + (1 − α) Λp`, `b = α Λq μq + (1 − α) Λp μp`,
/// `c = α μqᵀ Λq μq + (1 − α) μpᵀ Λp μp`. When Λα is positive definite the Gaussian integral gives
///
/// `log ∫ q^α p^{1−α} = −(α/2) log det Σq − ((1 − α)/2) log det Σp − ½ log det Λα
///  − ½ α (1 − α) δᵀ Λq Λα⁻¹ Λp δ`, δ = μq − μp,
///
/// using `c − bᵀ Λα⁻¹ b = α (1 − α) δᵀ Λq Λα⁻¹ Λp δ` (no cancellation: `Λq δ` and `Λp δ` are
/// solves with the factors of q and p, and the middle is a solve with the factor of Λα).
///
/// **Computation.** Λα is formed as `α Aᵀ A + (1 − α) Bᵀ B` from the inverse Cholesky factors
/// A = Cq⁻¹, B = Cp⁻¹ (triangular solves against the identity: no inverse of a non-triangular
/// matrix), then factored.
///
/// **Where it is finite.** For α ∈ [0, 1], Λα is a convex combination of positive definite
/// matrices and D_α is finite. For α > 1 or α < 0 the integral converges only if Λα is positive
/// definite; a failed Cholesky factorization of Λα means it diverges, and the divergence is
/// `f64::INFINITY` for α > 1 (the factor 1/(α − 1) is positive) and `f64::NEG_INFINITY` for α < 0
/// (it is negative: Rényi divergences of negative order are ≤ 0). A matrix within rounding of
/// singular (condition ≳ 10¹⁴) counts as not positive definite.
///
/// **Limits.** α = 1 (within `|α − 1| ≤ 1e-8`, where the closed form would lose digits to
/// cancellation) is [`kl_divergence`]`(q, p)`; α = 0 gives
/// −log ∫_{q > 0} p = 0 for normals, and the formula is used as is near 0.
///
/// Errors: a non-finite α ([`Error::NonFinite`] naming `"alpha"`), or normals of different
/// dimensions ([`Error::DimensionMismatch`]).
///
/// ```
/// use kl_dist::{Mvn, kl_divergence, renyi_divergence};
///
/// # fn main() -> Result<(), kl_dist::Error> {
/// let q = Mvn::new(&[0.0], &[1.0])?;
/// let p = Mvn::new(&[1.0], &[2.0])?;
/// // D_α is non-decreasing in α and meets the KL at α = 1.
/// let half = renyi_divergence(&q, &p, 0.5)?;
/// let one = renyi_divergence(&q, &p, 1.0)?;
/// let two = renyi_divergence(&q, &p, 2.0)?;
/// assert!(half < one && one < two);
/// assert_eq!(one, kl_divergence(&q, &p)?);
/// // w² / q is not integrable when Σw ≥ 2 Σq.
/// let w = Mvn::new(&[0.0], &[3.0])?;
/// assert_eq!(renyi_divergence(&w, &q, 2.0)?, f64::INFINITY);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`Error::NonFinite`] (`what = "alpha"`) for a non-finite α;
/// [`Error::DimensionMismatch`] (`what = "second normal"`) when `q` and `p` differ in
/// dimension.
pub fn renyi_divergence(q: &Mvn, p: &Mvn, alpha: f64) -> Result<f64, Error> {
    if !alpha.is_finite() {
        return Err(Error::NonFinite {
            what: "alpha",
            index: 0,
            value: alpha,
        });
    }
    let d = q.dim();
    if p.dim() != d {
        return Err(Error::DimensionMismatch {
            what: "second normal",
            expected: d,
            got: p.dim(),
        });
    }
    if (alpha - 1.0).abs() <= ALPHA_ONE_TOL {
        return kl_divergence(q, p);
    }
    let beta = 1.0 - alpha;
    let inv_factor = |c: &Cholesky| {
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            a[i * d + i] = 1.0;
        }
        c.solve_lower_cols(&mut a, d);
        a
    };
    let a = inv_factor(q.cholesky());
    let b = inv_factor(p.cholesky());
    let mut lambda = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = 0.0;
            for k in 0..d {
                s += alpha * a[k * d + i] * a[k * d + j] + beta * b[k * d + i] * b[k * d + j];
            }
            lambda[i * d + j] = s;
            lambda[j * d + i] = s;
        }
    }
    let Ok(chol) = Cholesky::new(&lambda, d) else {
        return Ok(if alpha < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    };
    let delta: Vec<f64> = q.mean().iter().zip(p.mean()).map(|(a, b)| a - b).collect();
    let mut u = delta.clone();
    q.cholesky().solve(&mut u);
    let mut v = delta;
    p.cholesky().solve(&mut v);
    chol.solve_lower(&mut u);
    chol.solve_lower(&mut v);
    let cross: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
    let log_integral = -0.5 * alpha * q.log_det_covariance()
        - 0.5 * beta * p.log_det_covariance()
        - 0.5 * chol.log_det()
        - 0.5 * alpha * beta * cross;
    Ok(log_integral / (alpha - 1.0))
}
