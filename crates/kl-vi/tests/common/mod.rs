//! Shared fixtures of the kl-vi tests: Gaussian targets with a prescribed spectrum.
#![allow(dead_code)]

use kl_dist::Mvn;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

/// Σ = Q diag(λ) Qᵀ with λ geometric from 1 to `cond` and Q a product of d random Householder
/// reflections; mean ~ N(0, I). Condition number exactly `cond` (up to rounding).
pub fn gaussian(d: usize, cond: f64, seed: u64) -> Mvn {
    let mut rng = Pcg64::seed_from_u64(seed);
    let lambda: Vec<f64> = (0..d)
        .map(|i| {
            if d == 1 {
                1.0
            } else {
                cond.powf(i as f64 / (d - 1) as f64)
            }
        })
        .collect();
    // Q starts as I; each reflection H = I − 2 v vᵀ / vᵀv multiplies from the left.
    let mut q = vec![0.0; d * d];
    for i in 0..d {
        q[i * d + i] = 1.0;
    }
    for _ in 0..d {
        let v: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        let vv: f64 = v.iter().map(|x| x * x).sum();
        for j in 0..d {
            let vq: f64 = (0..d).map(|i| v[i] * q[i * d + j]).sum();
            for i in 0..d {
                q[i * d + j] -= 2.0 * v[i] * vq / vv;
            }
        }
    }
    let mut cov = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            cov[i * d + j] = (0..d)
                .map(|k| q[i * d + k] * lambda[k] * q[j * d + k])
                .sum();
        }
    }
    for i in 0..d {
        for j in 0..i {
            let v = 0.5 * (cov[i * d + j] + cov[j * d + i]);
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    let mean: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
    Mvn::new(&mean, &cov).expect("SPD by construction")
}

/// N(0, I) in dimension d.
pub fn standard(d: usize) -> Mvn {
    let mut cov = vec![0.0; d * d];
    for i in 0..d {
        cov[i * d + i] = 1.0;
    }
    Mvn::new(&vec![0.0; d], &cov).expect("identity")
}

/// A random symmetric positive definite d × d matrix A Aᵀ + 0.1 I from the seeded generator.
pub fn random_spd(d: usize, rng: &mut Pcg64) -> Vec<f64> {
    let a: Vec<f64> = (0..d * d).map(|_| rng.sample(StandardNormal)).collect();
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            m[i * d + j] = (0..d).map(|k| a[i * d + k] * a[j * d + k]).sum();
        }
        m[i * d + i] += 0.1;
    }
    m
}

/// A uniform draw in [0, 1) (to keep `RngExt` in one place).
pub fn uniform(rng: &mut Pcg64) -> f64 {
    rng.random::<f64>()
}
