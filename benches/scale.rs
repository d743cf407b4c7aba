//! The scale table: one optimizer step (resample where stochastic, value and gradient, SGD
//! update) of reverse KL (`total` estimator) and of the closed-form forward KL at d = 2 … 256,
//! next to faer's GEMM of the same shapes (the roofline column of BENCHMARKS.md).
//!
//! | d | K (mixture target of reverse KL) | n |
//! |---|---|---|
//! | 2 | 2 (the notebook's) | 1000 |
//! | 16 | 8 | 10⁴ |
//! | 32, 64, 128 | 4 | 1000 |
//! | 256 | 1 | 1000 |
//!
//! The targets: reverse KL `common::random_mixture(d, K, seed = d)` (d = 2: the notebook's
//! mixture), forward KL `common::random_normal` seeded with d (a well-conditioned normal); the
//! start θ is μ = 0, L = 1.5 I (d = 2: the notebook's start). `benches/jax/steps.py` builds the same
//! shapes (its own random targets: the timing does not depend on the values).
//!
//! Bench ids: `scale/reverse-kl/d{d}/k{K}/n{n}`, `scale/reverse-kl-per-point/...` (d > 8: the
//! same step with the target behind `common::PerPoint`, i.e. without its reparameterized kernel),
//! `scale/resample/d{d}/n{n}` (the draws alone), `scale/forward-kl-exact/d{d}`,
//! `scale/gemm/{m}x{k}x{n}` (row-major `m × k` times `k × n`, one thread).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kl_dist::dense::gemm;
use kl_grad::{Estimator, ForwardKlExact, ReverseKl};
use kl_opt::Sgd;
use rand::SeedableRng;
use rand_pcg::Pcg64;

mod common;

/// `(d, K, n)` of the table.
pub const SHAPES: [(usize, usize, usize); 6] = [
    (2, 2, 1000),
    (16, 8, 10_000),
    (32, 4, 1000),
    (64, 4, 1000),
    (128, 4, 1000),
    (256, 1, 1000),
];

fn theta0(d: usize) -> Vec<f64> {
    if d == 2 {
        common::THETA_2D.to_vec()
    } else {
        common::theta_isotropic(d, 1.5)
    }
}

fn scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale");
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(3));
    g.sample_size(100);
    for (d, k, n) in SHAPES {
        let p = if d == 2 {
            common::notebook_mixture()
        } else {
            common::random_mixture(d, k, d as u64)
        };
        let t0 = theta0(d);
        let mut theta = t0.clone();
        let mut grad = vec![0.0; d + d * d];
        let mut sgd = Sgd::new(if d == 2 { 0.1 } else { 0.01 });
        let mut rng = Pcg64::seed_from_u64(d as u64);

        if d > 8 {
            // The same step through the per-point path (A/B of `grad_log_prob_affine`).
            let pp = common::PerPoint(p.clone());
            let mut rev = ReverseKl::new(pp, n, Estimator::Total, &mut rng).expect("valid");
            g.bench_function(format!("reverse-kl-per-point/d{d}/k{k}/n{n}"), |b| {
                b.iter(|| {
                    rev.resample_with(&mut rng);
                    common::step(&mut rev, &mut sgd, &t0, &mut theta, &mut grad)
                });
            });
        }
        let mut rev = ReverseKl::new(p, n, Estimator::Total, &mut rng).expect("valid");
        g.bench_function(format!("reverse-kl/d{d}/k{k}/n{n}"), |b| {
            b.iter(|| {
                rev.resample_with(&mut rng);
                common::step(&mut rev, &mut sgd, &t0, &mut theta, &mut grad)
            });
        });
        // Its parts: the draws alone.
        g.bench_function(format!("resample/d{d}/n{n}"), |b| {
            b.iter(|| rev.resample_with(&mut rng));
        });

        let target = common::random_normal(&mut Pcg64::seed_from_u64(d as u64), d, 0.0);
        let mut fwd = ForwardKlExact::new(target);
        g.bench_function(format!("forward-kl-exact/d{d}"), |b| {
            b.iter(|| common::step(&mut fwd, &mut sgd, &t0, &mut theta, &mut grad));
        });

        // Roofline shapes: the reverse step's (n × d)·(d × d) and the forward step's d × d × d.
        for (m, kk, nn) in [(n, d, d), (d, d, d)] {
            let a: Vec<f64> = (0..m * kk).map(|i| (i as f64 * 0.37).sin()).collect();
            let bm: Vec<f64> = (0..kk * nn).map(|i| (i as f64 * 0.11).cos()).collect();
            let mut out = vec![0.0; m * nn];
            g.bench_function(format!("gemm/{m}x{kk}x{nn}"), |b| {
                b.iter(|| {
                    gemm(&mut out, false, black_box(&a), black_box(&bm), m, kk, nn);
                    black_box(&out);
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
