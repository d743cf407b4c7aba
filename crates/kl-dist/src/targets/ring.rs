use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use super::{assert_dim, check_positive, ln_gamma};
use crate::{Error, LogDensity, Sample};

/// Most proposals the radial rejection sampler makes for one draw before it falls back to the
/// mode of the radial density. The acceptance probability is above 0.3 for every parameter
/// choice (see [`Ring`]), so the fallback has probability below 0.7¹⁰⁰⁰ < 10⁻¹⁵⁴: it exists so
/// that no loop is unbounded, not because it is ever expected to run.
const MAX_TRIES: usize = 1000;

/// Panels of the composite Gauss–Legendre rule for the radial integrals, on
/// `[max(0, ρ* − 40 w), ρ* + 40 w]` (panel width ≤ 0.1 w).
const PANELS: usize = 800;

/// A ring (a spherical shell in d ≥ 1 dimensions):
///
/// p(x) ∝ exp(−(‖x‖ − r)² / 2w²),
///
/// with `radius = r ≥ 0` and `width = w > 0`. The radius ρ = ‖x‖ has density
/// g(ρ) ∝ ρ^{d−1} exp(−(ρ − r)² / 2w²) on ρ > 0 and the direction is uniform on the sphere.
///
/// **Normalized**, with the normalizer computed once, at construction, by quadrature:
/// `log p = −(‖x‖ − r)²/2w² − ln Z`, `Z = S_{d−1} ∫₀^∞ g̃(ρ) dρ` with the sphere's area
/// `S_{d−1} = 2 π^{d/2} / Γ(d/2)`. The integral is taken by 5-point Gauss–Legendre on 800 panels
/// over `[max(0, ρ* − 40w), ρ* + 40w]`, ρ* the mode of g; g is log-concave with
/// `(ln g)'' ≤ −1/w²`, so `g(ρ) ≤ g(ρ*) e^{−(ρ−ρ*)²/2w²}` and the tails beyond 40w are below
/// e^{−800} of the peak. The same rule gives `E ρ²` (no closed form in general).
///
/// Score: `∇ log p = −(‖x‖ − r)/w² · x/‖x‖` for x ≠ 0. At x = 0 (a cone point when r > 0, the
/// density has no gradient there) the score is defined as **0**, the average of the one-sided
/// limits over all directions; it is finite for every x.
///
/// Exact moments: mean 0, covariance (E ρ² / d) I.
///
/// Exact sampler: the direction is a normalized standard normal vector; the radius is drawn by
/// rejection from the envelope N(ρ*, w²), with ρ* = (r + √(r² + 4(d − 1)w²))/2 the mode of g.
/// The envelope is valid because ln ρ^{d−1} is concave, so it lies below its tangent at ρ*, and
/// completing the square of that tangent plus −(ρ − r)²/2w² gives exactly the Gaussian
/// N(ρ*, w²) (since ρ* − r = (d − 1)w²/ρ*). A proposal ρ ≤ 0 is rejected; ρ > 0 is accepted
/// with probability `exp((d − 1)(ln t − t + 1)) ≤ 1`, t = ρ/ρ*. The acceptance rate is the ratio
/// of g's mass to the envelope's; the envelope's variance w² is at most twice g's
/// (ρ* ≥ √(d−1) w bounds the curvature), and the tests check the rate stays above 0.3 over a
/// wide parameter grid. Each draw makes at most 1000 proposals and falls back to ρ* after that
/// (probability < 10⁻¹⁵⁴).
///
/// # Example
/// ```
/// use kl_dist::{LogDensity, Ring};
///
/// # fn main() -> Result<(), kl_dist::Error> {
/// let p = Ring::new(2.0, 0.2)?;
/// let mut g = [0.0; 2];
/// p.grad_log_prob(&[0.0, 2.0], &mut g); // on the ridge: zero score
/// assert_eq!(g, [0.0, 0.0]);
/// p.grad_log_prob(&[0.0, 0.0], &mut g); // the centre: defined as zero
/// assert_eq!(g, [0.0, 0.0]);
/// // In 2-D, E ρ² = (∫ρ³ g̃)/(∫ρ g̃) = r² + 3w² up to tails beyond ρ = 0 (here e^{−50}).
/// assert!((p.covariance()[0] - (4.0 + 3.0 * 0.04) / 2.0).abs() < 1e-12);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    d: usize,
    r: f64,
    w: f64,
    /// `−ln Z`.
    log_norm: f64,
    /// `E ρ²`.
    mean_sq_radius: f64,
    /// The mode ρ* of the radial density.
    mode: f64,
}

impl Ring {
    /// The 2-D ring with `radius` r ≥ 0 and `width` w > 0.
    ///
    /// # Errors
    /// As [`Ring::with_dim`].
    pub fn new(radius: f64, width: f64) -> Result<Self, Error> {
        Self::with_dim(2, radius, width)
    }

    /// The ring in `dim ≥ 1` dimensions.
    ///
    /// # Errors
    /// [`Error::DimensionTooSmall`] for `dim = 0`; [`Error::BadParameter`] for a radius
    /// that is negative or not finite (`what = "radius"`) or a width that is not positive and
    /// finite (`what = "width"`).
    pub fn with_dim(dim: usize, radius: f64, width: f64) -> Result<Self, Error> {
        if dim == 0 {
            return Err(Error::DimensionTooSmall {
                what: "ring",
                min: 1,
                got: 0,
            });
        }
        if !(radius >= 0.0 && radius.is_finite()) {
            return Err(Error::BadParameter {
                what: "radius",
                value: radius,
                requirement: "≥ 0 and finite",
            });
        }
        check_positive("width", width)?;
        let k = (dim - 1) as f64;
        let mode = 0.5 * (radius + (radius * radius + 4.0 * k * width * width).sqrt());
        // ln g̃(ρ) − ln g̃(ρ*), with ln g̃ = (d − 1) ln ρ − (ρ − r)²/2w².
        let log_g = |rho: f64| {
            let a = if k > 0.0 { k * (rho / mode).ln() } else { 0.0 };
            let z = (rho - radius) / width;
            let z0 = (mode - radius) / width;
            a - 0.5 * (z * z - z0 * z0)
        };
        let lo = (mode - 40.0 * width).max(0.0);
        let hi = mode + 40.0 * width;
        let (i0, i2) = gauss_legendre(lo, hi, PANELS, |rho| {
            let g = if rho > 0.0 || k == 0.0 {
                log_g(rho).exp()
            } else {
                0.0
            };
            (g, g * rho * rho)
        });
        // ln Z = ln S_{d−1} + ln g̃(ρ*) + ln ∫ g̃/g̃(ρ*).
        let half_d = 0.5 * dim as f64;
        let ln_sphere =
            std::f64::consts::LN_2 + half_d * std::f64::consts::PI.ln() - ln_gamma(half_d);
        let ln_peak =
            if k > 0.0 { k * mode.ln() } else { 0.0 } - 0.5 * ((mode - radius) / width).powi(2);
        let log_z = ln_sphere + ln_peak + i0.ln();
        Ok(Ring {
            d: dim,
            r: radius,
            w: width,
            log_norm: -log_z,
            mean_sq_radius: i2 / i0,
            mode,
        })
    }

    /// r, the radius of the ridge.
    pub fn radius(&self) -> f64 {
        self.r
    }

    /// w, the width of the ridge.
    pub fn width(&self) -> f64 {
        self.w
    }

    /// `E ‖x‖²` (by quadrature at construction).
    pub fn mean_sq_radius(&self) -> f64 {
        self.mean_sq_radius
    }

    /// The exact mean, 0.
    pub fn mean(&self) -> Vec<f64> {
        vec![0.0; self.d]
    }

    /// The covariance `(E ρ² / d) I`, row-major `d × d` (E ρ² by quadrature).
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.d;
        let mut c = vec![0.0; d * d];
        let v = self.mean_sq_radius / d as f64;
        for i in 0..d {
            c[i * d + i] = v;
        }
        c
    }

    /// The acceptance probability of the radial rejection sampler, `∫ g / ∫ envelope`
    /// (from the same quadrature as the normalizer; for tests and diagnostics).
    pub fn acceptance_rate(&self) -> f64 {
        // ∫₀^∞ g̃ = Z / S_{d−1}; the envelope g̃(ρ*) e^{−(ρ−ρ*)²/2w²} has mass g̃(ρ*) √(2π) w.
        let half_d = 0.5 * self.d as f64;
        let ln_sphere =
            std::f64::consts::LN_2 + half_d * std::f64::consts::PI.ln() - ln_gamma(half_d);
        let k = (self.d - 1) as f64;
        let ln_peak = if k > 0.0 { k * self.mode.ln() } else { 0.0 }
            - 0.5 * ((self.mode - self.r) / self.w).powi(2);
        let ln_mass = -self.log_norm - ln_sphere - ln_peak;
        (ln_mass - (self.w * (2.0 * std::f64::consts::PI).sqrt()).ln()).exp()
    }

    /// One radius from g by rejection (see the type's docs).
    fn sample_radius<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let k = (self.d - 1) as f64;
        for _ in 0..MAX_TRIES {
            let z: f64 = rng.sample(StandardNormal);
            let rho = self.mode + self.w * z;
            if rho <= 0.0 {
                continue;
            }
            if k == 0.0 {
                return rho;
            }
            let t = rho / self.mode;
            let log_accept = k * (t.ln() - t + 1.0);
            let u: f64 = rng.random();
            // u ∈ [0, 1): accept iff u < e^{log_accept}; ln(0) = −∞ always accepts.
            if u.ln() < log_accept {
                return rho;
            }
        }
        self.mode
    }
}

/// `(∫ f₀, ∫ f₁)` over `[a, b]` for `f(ρ) = (f₀, f₁)` by 5-point Gauss–Legendre on `panels`
/// equal panels.
fn gauss_legendre(a: f64, b: f64, panels: usize, f: impl Fn(f64) -> (f64, f64)) -> (f64, f64) {
    // Nodes ±(1/3)√(5 ∓ 2√(10/7)) and 0 on [−1, 1], with their weights.
    let s = (10.0f64 / 7.0).sqrt();
    let x1 = (5.0 - 2.0 * s).sqrt() / 3.0;
    let x2 = (5.0 + 2.0 * s).sqrt() / 3.0;
    let w0 = 128.0 / 225.0;
    let w1 = (322.0 + 13.0 * 70f64.sqrt()) / 900.0;
    let w2 = (322.0 - 13.0 * 70f64.sqrt()) / 900.0;
    let nodes = [(0.0, w0), (-x1, w1), (x1, w1), (-x2, w2), (x2, w2)];
    let h = (b - a) / panels as f64;
    let (mut s0, mut s1) = (0.0, 0.0);
    for p in 0..panels {
        let c = a + (p as f64 + 0.5) * h;
        for (x, w) in nodes {
            let (v0, v1) = f(c + 0.5 * h * x);
            s0 += w * v0;
            s1 += w * v1;
        }
    }
    (0.5 * h * s0, 0.5 * h * s1)
}

impl LogDensity for Ring {
    fn dim(&self) -> usize {
        self.d
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        assert_dim(x, self.d);
        let rho = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let z = (rho - self.r) / self.w;
        self.log_norm - 0.5 * z * z
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        assert_dim(x, self.d);
        assert_dim(grad, self.d);
        let rho = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let z = (rho - self.r) / self.w;
        if rho > 0.0 {
            let f = -z / (self.w * rho);
            for (g, xi) in grad.iter_mut().zip(x) {
                *g = f * xi;
            }
        } else {
            grad.fill(0.0);
        }
        self.log_norm - 0.5 * z * z
    }
}

impl Sample for Ring {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let d = self.d;
        assert_eq!(out.len() % d, 0, "out must hold whole points");
        for x in out.chunks_exact_mut(d) {
            // Direction: a standard normal vector, normalized (redrawn if it is exactly 0, which
            // has probability 0; after MAX_TRIES the first axis is used).
            let mut norm = 0.0;
            for _ in 0..MAX_TRIES {
                for xi in x.iter_mut() {
                    *xi = rng.sample(StandardNormal);
                }
                norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 0.0 {
                    break;
                }
            }
            if norm <= 0.0 {
                x.fill(0.0);
                x[0] = 1.0;
                norm = 1.0;
            }
            let rho = self.sample_radius(rng);
            let f = rho / norm;
            x.iter_mut().for_each(|v| *v *= f);
        }
    }
}
