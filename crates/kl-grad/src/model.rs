//! The per-evaluation state of q: Σ = L Lᵀ, its Cholesky factor, and W = Σ⁻¹ L (= L⁻ᵀ).

use kl_dist::linalg::{Cholesky, gram};

use crate::Error;

/// Buffers for one evaluation of the model at θ, allocated once per objective.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub d: usize,
    sigma: Vec<f64>,
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
        let chol = Cholesky::new(&eye, d).expect("the identity is positive definite");
        Model {
            d,
            sigma: eye.clone(),
            chol,
            w: eye,
        }
    }

    /// Checks θ, factors Σ = L Lᵀ and forms W. Allocation-free.
    pub fn load(&mut self, theta: &[f64]) -> Result<(), Error> {
        let d = self.d;
        if theta.len() != d + d * d {
            return Err(Error::DimensionMismatch {
                what: "theta",
                expected: d + d * d,
                got: theta.len(),
            });
        }
        if let Some(index) = theta.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteParameter {
                index,
                value: theta[index],
            });
        }
        let l = &theta[d..];
        gram(l, d, &mut self.sigma);
        self.chol
            .refactor(&self.sigma)
            .map_err(|pivot| Error::SingularModel { pivot })?;
        self.w.copy_from_slice(l);
        self.chol.solve_cols(&mut self.w, d);
        Ok(())
    }

    /// `log det Σ`.
    pub fn log_det(&self) -> f64 {
        self.chol.log_det()
    }
}
