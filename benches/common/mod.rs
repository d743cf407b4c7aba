//! Shared fixtures of the benches: the notebook's mixture, a d = 16, K = 8 mixture and the
//! breast-cancer logistic posterior.

#![allow(dead_code)]

pub mod peers;

use kl_dist::{LogisticOptions, LogisticRegression, Mixture, Mvn, dense::gram};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

/// The notebook's 2-component mixture (experiments/mixture-*.toml).
pub fn notebook_mixture() -> Mixture {
    let a = Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]).expect("valid");
    let b = Mvn::new(&[-2.5, 2.5], &[0.5, 0.1, 0.1, 0.5]).expect("valid");
    Mixture::new(&[0.8, 0.2], vec![a, b]).expect("valid")
}

/// A seeded, well-conditioned normal of dimension `d`: mean ~ N(shift, I), Σ = A Aᵀ / d + I / 2.
pub fn random_normal(rng: &mut Pcg64, d: usize, shift: f64) -> Mvn {
    let mean: Vec<f64> = (0..d)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut *rng);
            shift + z
        })
        .collect();
    let a: Vec<f64> = (0..d * d)
        .map(|_| StandardNormal.sample(&mut *rng))
        .collect();
    let mut cov = vec![0.0; d * d];
    gram(&a, d, &mut cov);
    for (k, v) in cov.iter_mut().enumerate() {
        *v /= d as f64;
        if k % (d + 1) == 0 {
            *v += 0.5;
        }
    }
    Mvn::new(&mean, &cov).expect("positive definite")
}

/// A seeded K-component mixture of dimension `d` with unequal weights.
pub fn random_mixture(d: usize, k: usize, seed: u64) -> Mixture {
    let mut rng = Pcg64::seed_from_u64(seed);
    let comps: Vec<Mvn> = (0..k)
        .map(|i| random_normal(&mut rng, d, i as f64 - k as f64 / 2.0))
        .collect();
    let raw: Vec<f64> = (1..=k).map(|i| i as f64).collect();
    let total: f64 = raw.iter().sum();
    let w: Vec<f64> = raw.iter().map(|v| v / total).collect();
    Mixture::new(&w, comps).expect("valid")
}

/// θ = (μ, L) with μ = 0 and L = s I.
pub fn theta_isotropic(d: usize, s: f64) -> Vec<f64> {
    let mut t = vec![0.0; d + d * d];
    for i in 0..d {
        t[d + i * d + i] = s;
    }
    t
}

/// The notebook's experiments' start (experiments/mixture-reverse.toml).
pub const THETA_2D: [f64; 6] = [
    1.727_836_132_049_560_5,
    2.204_556_226_730_346_7,
    0.794_827_640_056_610_1,
    0.976_421_117_782_592_8,
    -1.183_427_095_413_208,
    1.916_363_596_916_198_7,
];

/// value_and_grad + SGD, from `theta0` each time.
pub fn step<O: kl_grad::Objective>(
    obj: &mut O,
    sgd: &mut kl_opt::Sgd,
    theta0: &[f64],
    theta: &mut [f64],
    grad: &mut [f64],
) -> f64 {
    use kl_opt::Optimizer;
    theta.copy_from_slice(theta0);
    let v = obj
        .value_and_grad(std::hint::black_box(theta), grad)
        .expect("finite");
    sgd.step(theta, grad);
    std::hint::black_box(&theta);
    v
}

/// A target seen only through the per-point batch methods: `grad_log_prob_affine` keeps its
/// default (`false`), so `ReverseKl` pushes the points forward and calls `grad_log_prob_batch`
/// (the A/B of the reparameterized kernel in `benches/scale.rs`).
#[derive(Debug, Clone)]
pub struct PerPoint<P>(pub P);

impl<P: kl_dist::LogDensity> kl_dist::LogDensity for PerPoint<P> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn log_prob(&self, x: &[f64]) -> f64 {
        self.0.log_prob(x)
    }
    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.0.grad_log_prob(x, grad)
    }
    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        self.0.log_prob_batch(points, out)
    }
    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        self.0.grad_log_prob_batch(points, log_prob, grad)
    }
}

/// The breast cancer posterior of `experiments/logistic-*.toml` (30 standardized features and an
/// intercept, prior N(0, 2.5²)), read from `data/breast_cancer.csv` (header, then the features and
/// the 0/1 label `benign` last).
pub fn breast_cancer() -> LogisticRegression {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/breast_cancer.csv");
    let text = std::fs::read_to_string(path).expect("data/breast_cancer.csv");
    let mut lines = text.lines();
    let k = lines.next().expect("header").split(',').count() - 1;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let v: Vec<f64> = line
            .split(',')
            .map(|s| s.trim().parse().expect("a number"))
            .collect();
        x.extend_from_slice(&v[..k]);
        y.push(v[k]);
    }
    let options = LogisticOptions {
        prior_scale: 2.5,
        ..LogisticOptions::default()
    };
    LogisticRegression::new(&x, k, &y, options).expect("valid data")
}
