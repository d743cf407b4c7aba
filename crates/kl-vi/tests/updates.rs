//! The update equations: checked against their defining conditions, not against the code.

#![allow(clippy::needless_range_loop)] // index loops mirror the formulas

mod common;

use kl_dist::{LogDensity, Mvn};
use kl_vi::{bam_covariance, bam_step, gsm_step};
use rand::RngExt;
use rand::SeedableRng;
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

fn normal_vec(d: usize, rng: &mut Pcg64) -> Vec<f64> {
    (0..d).map(|_| rng.sample(StandardNormal)).collect()
}

fn random_q(d: usize, rng: &mut Pcg64) -> Mvn {
    let mean = normal_vec(d, rng);
    Mvn::new(&mean, &common::random_spd(d, rng)).expect("spd")
}

#[test]
fn gsm_step_with_one_point_matches_the_score_there() {
    // Modi et al. (2023), eq. (5): after the update, ∇ log q'(x) = −Σ'⁻¹(x − μ') = g.
    let mut rng = Pcg64::seed_from_u64(10);
    for d in [1usize, 2, 5, 12] {
        for _ in 0..20 {
            let q = random_q(d, &mut rng);
            let x = normal_vec(d, &mut rng);
            let g = normal_vec(d, &mut rng);
            let next = gsm_step(&q, &x, &g).expect("a single-point GSM step is positive definite");
            let mut score = vec![0.0; d];
            next.grad_log_prob(&x, &mut score);
            let scale = g.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (a, b) in score.iter().zip(&g) {
                assert!((a - b).abs() < 1e-10 * scale, "d = {d}: score {a} vs {b}");
            }
        }
    }
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            out[i * d + j] = (0..d).map(|k| a[i * d + k] * b[k * d + j]).sum();
        }
    }
    out
}

fn fro(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn residual(sigma: &[f64], u: &[f64], v: &[f64], d: usize) -> f64 {
    let sus = matmul(&matmul(sigma, u, d), sigma, d);
    let r: Vec<f64> = (0..d * d).map(|i| sus[i] + sigma[i] - v[i]).collect();
    fro(&r) / fro(v)
}

#[test]
fn bam_covariance_solves_the_quadratic_matrix_equation() {
    // Cai et al. (2024), Lemma/eq. (13): Σ' U Σ' + Σ' = V; Σ' symmetric positive definite.
    let mut rng = Pcg64::seed_from_u64(11);
    for d in [1usize, 2, 3, 5, 10, 20] {
        for _ in 0..5 {
            let u = common::random_spd(d, &mut rng);
            let v = common::random_spd(d, &mut rng);
            let sigma = bam_covariance(&u, &v, d).expect("solvable");
            let r = residual(&sigma, &u, &v, d);
            assert!(r < 1e-10, "d = {d}: relative residual {r:e}");
            assert!(
                Mvn::new(&vec![0.0; d], &sigma).is_ok(),
                "Σ' positive definite"
            );
        }
    }
}

#[test]
fn bam_covariance_with_rank_one_u_and_with_u_zero() {
    let mut rng = Pcg64::seed_from_u64(12);
    let d = 6;
    let v = common::random_spd(d, &mut rng);
    let g = normal_vec(d, &mut rng);
    let mut u = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            u[i * d + j] = g[i] * g[j];
        }
    }
    let sigma = bam_covariance(&u, &v, d).expect("solvable");
    assert!(residual(&sigma, &u, &v, d) < 1e-10);
    // U = 0: Σ' = V.
    let sigma = bam_covariance(&vec![0.0; d * d], &v, d).expect("solvable");
    for (a, b) in sigma.iter().zip(&v) {
        assert!((a - b).abs() < 1e-12 * fro(&v));
    }
}

#[test]
fn bam_covariance_in_one_dimension_is_the_positive_root() {
    // σ² u + σ − v = 0 ⇒ σ = (−1 + √(1 + 4uv)) / (2u) = 2v / (1 + √(1 + 4uv)) (the second
    // form without cancellation).
    for (u, v) in [(1.0, 1.0), (3.0, 0.5), (1e-6, 2.0), (100.0, 7.0)] {
        let sigma = bam_covariance(&[u], &[v], 1).expect("solvable")[0];
        let exact = 2.0 * v / (1.0 + (1.0 + 4.0 * u * v).sqrt());
        assert!((sigma - exact).abs() < 1e-12 * exact, "{sigma} vs {exact}");
    }
}

#[test]
fn gsm_is_bam_with_one_draw_and_infinite_learning_rate() {
    // Cai et al. (2024), §3: with B = 1 and λ → ∞ the BaM update is the GSM update.
    let mut rng = Pcg64::seed_from_u64(13);
    for d in [1usize, 3, 8] {
        for _ in 0..10 {
            let q = random_q(d, &mut rng);
            let x = normal_vec(d, &mut rng);
            let g = normal_vec(d, &mut rng);
            let a = gsm_step(&q, &x, &g).expect("gsm");
            let b = bam_step(&q, &x, &g, 1e8).expect("bam");
            let scale = fro(a.covariance()).max(1.0);
            for (u, v) in a.mean().iter().zip(b.mean()) {
                assert!((u - v).abs() < 1e-6 * scale, "d = {d}: mean {u} vs {v}");
            }
            for (u, v) in a.covariance().iter().zip(b.covariance()) {
                assert!((u - v).abs() < 1e-6 * scale, "d = {d}: cov {u} vs {v}");
            }
        }
    }
}

#[test]
fn bam_mean_update_is_the_stated_convex_combination() {
    // μ' = 1/(1+λ) μ + λ/(1+λ) (Σ' ḡ + x̄), Σ' from U, V built here from the batch statistics.
    let mut rng = Pcg64::seed_from_u64(14);
    let (d, b, lambda) = (4usize, 5usize, 0.7);
    let q = random_q(d, &mut rng);
    let xs: Vec<f64> = normal_vec(d * b, &mut rng);
    let gs: Vec<f64> = normal_vec(d * b, &mut rng);
    let mean = |m: &[f64]| -> Vec<f64> {
        (0..d)
            .map(|i| (0..b).map(|k| m[k * d + i]).sum::<f64>() / b as f64)
            .collect()
    };
    let (xbar, gbar) = (mean(&xs), mean(&gs));
    let mut u = vec![0.0; d * d];
    let mut v = q.covariance().to_vec();
    let dm: Vec<f64> = (0..d).map(|i| q.mean()[i] - xbar[i]).collect();
    for i in 0..d {
        for j in 0..d {
            let c: f64 = (0..b)
                .map(|k| (xs[k * d + i] - xbar[i]) * (xs[k * d + j] - xbar[j]))
                .sum::<f64>()
                / b as f64;
            let gam: f64 = (0..b)
                .map(|k| (gs[k * d + i] - gbar[i]) * (gs[k * d + j] - gbar[j]))
                .sum::<f64>()
                / b as f64;
            u[i * d + j] = lambda * gam + lambda / (1.0 + lambda) * gbar[i] * gbar[j];
            v[i * d + j] += lambda * c + lambda / (1.0 + lambda) * dm[i] * dm[j];
        }
    }
    let next = bam_step(&q, &xs, &gs, lambda).expect("bam");
    assert!(residual(next.covariance(), &u, &v, d) < 1e-10);
    for i in 0..d {
        let sg: f64 = (0..d).map(|j| next.covariance()[i * d + j] * gbar[j]).sum();
        let expected = (q.mean()[i] + lambda * (sg + xbar[i])) / (1.0 + lambda);
        assert!((next.mean()[i] - expected).abs() < 1e-12 * (1.0 + expected.abs()));
    }
}

#[test]
fn random_matrices_use_the_generator() {
    // Guard for the fixtures: two seeds give different matrices.
    let a = common::random_spd(3, &mut Pcg64::seed_from_u64(1));
    let b = common::random_spd(3, &mut Pcg64::seed_from_u64(2));
    assert_ne!(a, b);
    let _ = common::uniform(&mut Pcg64::seed_from_u64(1));
    let _: f64 = Pcg64::seed_from_u64(1).random();
}
