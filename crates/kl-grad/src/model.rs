//! The per-evaluation state of q: Σ = L Lᵀ, its Cholesky factor, and W = Σ⁻¹ L (= L⁻ᵀ).

use kl_dist::Cholesky;

use crate::Error;

/// Buffers for one evaluation of the model at θ, allocated once per objective.
///
/// # Invariants
/// - After a successful [`Model::load`] of θ = (μ, L): `chol` is the Cholesky factor C of
///   Σ = L Lᵀ (formed inside the factor's own buffers: for d > 8 one faer triangular product and
///   faer's blocked Cholesky) and `w` = Σ⁻¹ L = C⁻ᵀ C⁻¹ L (row-major; two triangular solves with
///   d right-hand sides). No inverse is formed, nothing is allocated.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub d: usize,
    pub chol: Cholesky,
    /// W = Σ⁻¹ L, row-major. Since Σ⁻¹ L = L⁻ᵀ L⁻¹ L = L⁻ᵀ, this is ∂ ln|det L| / ∂L.
    pub w: Vec<f64>,
}

impl Model {
    pub fn new(d: usize) -> Self {
        let mut eye = vec![0.0; d * d];
        for i in 0..d {
            eye[i * d + i] = 1.0;
        }
        Model {
            d,
            chol: Cholesky::identity(d),
            w: eye,
        }
    }

    /// Checks θ, factors Σ = L Lᵀ and forms W. Allocation-free.
    pub fn load(&mut self, theta: &[f64]) -> Result<(), Error> {
        self.load_factor(theta)?;
        let d = self.d;
        self.w.copy_from_slice(&theta[d..]);
        self.chol.solve_matrix(&mut self.w, d);
        Ok(())
    }

    /// As [`Model::load`] without forming W (`w` keeps its old contents), for an objective that
    /// forms Σ⁻¹ L its own way.
    pub fn load_factor(&mut self, theta: &[f64]) -> Result<(), Error> {
        let d = self.d;
        if theta.len() != d + d * d {
            return Err(Error::DimensionMismatch {
                what: "theta",
                expected: d + d * d,
                got: theta.len(),
            });
        }
        if let Some(index) = first_non_finite(theta) {
            return Err(Error::NonFiniteParameter {
                index,
                value: theta[index],
            });
        }
        let l = &theta[d..];
        self.chol
            .refactor_gram(l)
            .map_err(|pivot| Error::SingularModel { pivot })?;
        Ok(())
    }

    /// `log det Σ`.
    pub fn log_det(&self) -> f64 {
        self.chol.log_det()
    }
}

/// The index of the first non-finite value of `x`: a branch-free scan by blocks of 8 (the
/// element-by-element early exit was a tenth of a d = 128 forward-KL evaluation), then the
/// position inside the first bad block.
pub(crate) fn first_non_finite(x: &[f64]) -> Option<usize> {
    const B: usize = 8;
    let blocks = x.chunks(B);
    for (b, blk) in blocks.enumerate() {
        // `v · 0` is 0 for a finite v and NaN for ±∞ and NaN; the sum is NaN iff one is.
        if blk.iter().fold(0.0, |acc, v| acc + v * 0.0).is_nan() {
            return blk.iter().position(|v| !v.is_finite()).map(|i| b * B + i);
        }
    }
    None
}
