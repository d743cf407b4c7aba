use rand::{Rng, RngExt};

use crate::linalg::BLOCK;
use crate::mvn::{check_finite, with_buffer};
use crate::{Density, Error, Mvn};

/// A finite mixture Σₖ wₖ N(μₖ, Σₖ) of K ≥ 1 normals of one dimension.
///
/// `log_prob` is a log-sum-exp over `ln wₖ + log N(x; μₖ, Σₖ)`, so it stays finite and accurate
/// far out in the tails, where a sum of `exp` underflows to 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    weights: Vec<f64>,
    log_weights: Vec<f64>,
    /// `cumulative[k] = w₀ + … + wₖ`, for sampling.
    cumulative: Vec<f64>,
    components: Vec<Mvn>,
}

impl Mixture {
    /// A mixture of `components` with `weights` (≥ 0, summing to 1 within 1e-6; they are then
    /// renormalized to sum to 1 exactly).
    pub fn new(weights: &[f64], components: Vec<Mvn>) -> Result<Self, Error> {
        if components.is_empty() {
            return Err(Error::NoComponents);
        }
        if weights.len() != components.len() {
            return Err(Error::WeightCount {
                weights: weights.len(),
                components: components.len(),
            });
        }
        let d = components[0].dim();
        if let Some((index, c)) = components.iter().enumerate().find(|(_, c)| c.dim() != d) {
            return Err(Error::ComponentDimension {
                index,
                expected: d,
                got: c.dim(),
            });
        }
        if let Some(index) = weights.iter().position(|w| w.is_nan() || *w < 0.0) {
            return Err(Error::BadWeight {
                index,
                value: weights[index],
            });
        }
        check_finite("weights", weights)?;
        let sum: f64 = weights.iter().sum();
        // The weights are finite here, so the sum is not NaN.
        if (sum - 1.0).abs() > 1e-6 {
            return Err(Error::WeightsSum { sum });
        }
        let weights: Vec<f64> = weights.iter().map(|w| w / sum).collect();
        let log_weights = weights.iter().map(|w| w.ln()).collect();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Ok(Mixture {
            weights,
            log_weights,
            cumulative,
            components,
        })
    }

    /// Builds each component from `(mean, cov)` (row-major) and the mixture from them; a bad
    /// component is reported as [`Error::Component`] with its index.
    pub fn from_parameters(
        weights: &[f64],
        components: &[(Vec<f64>, Vec<f64>)],
    ) -> Result<Self, Error> {
        let comps = components
            .iter()
            .enumerate()
            .map(|(index, (m, c))| {
                Mvn::new(m, c).map_err(|e| Error::Component {
                    index,
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Mixture::new(weights, comps)
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.components.len()
    }

    /// The weights (summing to 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The components.
    pub fn components(&self) -> &[Mvn] {
        &self.components
    }

    /// The exact mean Σ wₖ μₖ.
    pub fn mean(&self) -> Vec<f64> {
        let d = self.dim();
        let mut m = vec![0.0; d];
        for (w, c) in self.weights.iter().zip(&self.components) {
            for (mi, ci) in m.iter_mut().zip(c.mean()) {
                *mi += w * ci;
            }
        }
        m
    }

    /// The exact covariance Σ wₖ (Σₖ + (μₖ − μ)(μₖ − μ)ᵀ), row-major.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim();
        let m = self.mean();
        let mut cov = vec![0.0; d * d];
        for (w, c) in self.weights.iter().zip(&self.components) {
            let (mu, s) = (c.mean(), c.covariance());
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += w * (s[i * d + j] + (mu[i] - m[i]) * (mu[j] - m[j]));
                }
            }
        }
        cov
    }

    /// The moment-matched Gaussian N(mean, covariance): the minimizer of D(p ‖ q) over Gaussian q.
    pub fn moment_matched(&self) -> Mvn {
        Mvn::new(&self.mean(), &self.covariance())
            .expect("a mixture of positive definite covariances has a positive definite covariance")
    }

    /// p(x).
    pub fn prob(&self, x: &[f64]) -> f64 {
        self.log_prob(x).exp()
    }

    /// Component log densities `aₖ = ln wₖ + log Nₖ` of a block of `m` points into `a` (`K × BLOCK`),
    /// and, when `u` is given (`K × d × BLOCK`), `Σₖ⁻¹ (x − μₖ)` for each component.
    #[inline]
    fn block_terms(&self, pts: &[f64], m: usize, a: &mut [f64], mut u: Option<&mut [f64]>) {
        let d = self.dim();
        let want_grad = u.is_some();
        for (k, c) in self.components.iter().enumerate() {
            let r: &mut [f64] = match u.as_deref_mut() {
                Some(u) => &mut u[k * d * BLOCK..(k + 1) * d * BLOCK],
                None => &mut a[self.components.len() * BLOCK..],
            };
            c.whiten_block(pts, m, r);
            let q = Mvn::lane_sq_norms(r, d);
            let base = self.log_weights[k] + c.log_norm();
            if want_grad {
                c.cholesky().solve_upper_cols(r, BLOCK);
            }
            for (av, qs) in a[k * BLOCK..(k + 1) * BLOCK].iter_mut().zip(q) {
                *av = base - 0.5 * qs;
            }
        }
    }
}

/// Per lane, the max over components and `ln Σₖ exp(aₖ)` (the log-sum-exp).
#[inline]
fn lanes_logsumexp(a: &[f64], k_count: usize) -> [f64; BLOCK] {
    let mut max = [f64::NEG_INFINITY; BLOCK];
    for k in 0..k_count {
        for (mx, v) in max.iter_mut().zip(&a[k * BLOCK..(k + 1) * BLOCK]) {
            *mx = mx.max(*v);
        }
    }
    let mut sum = [0.0; BLOCK];
    for k in 0..k_count {
        for ((s, v), mx) in sum.iter_mut().zip(&a[k * BLOCK..(k + 1) * BLOCK]).zip(&max) {
            *s += (v - mx).exp();
        }
    }
    let mut out = [0.0; BLOCK];
    for ((o, mx), s) in out.iter_mut().zip(max).zip(sum) {
        *o = mx + s.ln();
    }
    out
}

impl Density for Mixture {
    fn dim(&self) -> usize {
        self.components[0].dim()
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        let mut out = [0.0];
        self.log_prob_batch(x, &mut out);
        out[0]
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut out = [0.0];
        self.grad_log_prob_batch(x, &mut out, grad);
        out[0]
    }

    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        let (d, kc) = (self.dim(), self.n_components());
        assert_eq!(
            points.len(),
            out.len() * d,
            "points must hold out.len() points of dimension d"
        );
        with_buffer(kc * BLOCK + d * BLOCK, |a| {
            for (pts, o) in points.chunks(d * BLOCK).zip(out.chunks_mut(BLOCK)) {
                self.block_terms(pts, o.len(), a, None);
                let lse = lanes_logsumexp(a, kc);
                o.copy_from_slice(&lse[..o.len()]);
            }
        })
    }

    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        let (d, kc) = (self.dim(), self.n_components());
        assert_eq!(
            points.len(),
            log_prob.len() * d,
            "points must hold log_prob.len() points"
        );
        assert_eq!(
            grad.len(),
            points.len(),
            "grad must have the shape of points"
        );
        with_buffer(kc * BLOCK + kc * d * BLOCK, |buf| {
            let (a, u) = buf.split_at_mut(kc * BLOCK);
            for ((pts, lp), g) in points
                .chunks(d * BLOCK)
                .zip(log_prob.chunks_mut(BLOCK))
                .zip(grad.chunks_mut(d * BLOCK))
            {
                let m = lp.len();
                self.block_terms(pts, m, a, Some(u));
                let lse = lanes_logsumexp(a, kc);
                lp.copy_from_slice(&lse[..m]);
                // Responsibilities rₖ = exp(aₖ − lse) in place of aₖ.
                for k in 0..kc {
                    for (av, l) in a[k * BLOCK..(k + 1) * BLOCK].iter_mut().zip(&lse) {
                        *av = (*av - l).exp();
                    }
                }
                g.fill(0.0);
                for k in 0..kc {
                    let rk = &a[k * BLOCK..(k + 1) * BLOCK];
                    let uk = &u[k * d * BLOCK..(k + 1) * d * BLOCK];
                    for s in 0..m {
                        for i in 0..d {
                            g[s * d + i] -= rk[s] * uk[i * BLOCK + s];
                        }
                    }
                }
            }
        })
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let d = self.dim();
        assert_eq!(out.len() % d, 0, "out must hold whole points");
        let last = self.n_components() - 1;
        with_buffer(d, |z| {
            for x in out.chunks_mut(d) {
                let u: f64 = rng.random();
                let k = self.cumulative.iter().position(|c| u < *c).unwrap_or(last);
                self.components[k].sample_one(rng, z, x);
            }
        })
    }
}
