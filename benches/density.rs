//! Batch `log_prob` of `Mvn` and `Mixture` (d = 2 and d = 16), the notebook's 128 × 128 density
//! grid of its 2-component mixture, and the logistic regression posterior's batch score on the
//! breast cancer data next to faer's GEMMs of the same shapes.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kl_dist::dense::{gemm, set_threads};
use kl_dist::{LogDensity, Sample, density_grid};
use rand::SeedableRng;
use rand_pcg::Pcg64;

mod common;

const N_POINTS: usize = 1000;

fn log_prob(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_prob");
    g.throughput(Throughput::Elements(N_POINTS as u64));
    for d in [2, 16] {
        let mvn = if d == 2 {
            common::notebook_mixture().components()[0].clone()
        } else {
            common::random_mixture(d, 1, 3).components()[0].clone()
        };
        let mix = if d == 2 {
            common::notebook_mixture()
        } else {
            common::random_mixture(d, 8, 5)
        };
        let mut pts = vec![0.0; N_POINTS * d];
        mix.sample(&mut Pcg64::seed_from_u64(7), &mut pts);
        let mut out = vec![0.0; N_POINTS];
        g.bench_function(format!("mvn/d{d}/n{N_POINTS}"), |b| {
            b.iter(|| mvn.log_prob_batch(black_box(&pts), black_box(&mut out)));
        });
        let k = mix.n_components();
        g.bench_function(format!("mixture/d{d}/k{k}/n{N_POINTS}"), |b| {
            b.iter(|| mix.log_prob_batch(black_box(&pts), black_box(&mut out)));
        });
    }
    g.finish();
}

/// The score batch the reverse-KL step calls, on its own.
fn grad_log_prob(c: &mut Criterion) {
    let mut g = c.benchmark_group("grad_log_prob");
    for (d, k, n) in [(2, 2, 1000), (16, 8, 10_000)] {
        let mix = if d == 2 {
            common::notebook_mixture()
        } else {
            common::random_mixture(d, k, 5)
        };
        let mut pts = vec![0.0; n * d];
        mix.sample(&mut Pcg64::seed_from_u64(7), &mut pts);
        let (mut lp, mut grad) = (vec![0.0; n], vec![0.0; n * d]);
        g.bench_function(format!("mixture/d{d}/k{k}/n{n}"), |b| {
            b.iter(|| mix.grad_log_prob_batch(black_box(&pts), &mut lp, &mut grad));
        });
    }
    g.finish();
}

fn grid(c: &mut Criterion) {
    let p = common::notebook_mixture();
    let mut out = vec![0.0; 128 * 128];
    c.bench_function("density_grid/mixture/128x128", |b| {
        b.iter(|| {
            density_grid(&p, black_box([-4.0, 4.0, -4.0, 4.0]), 128, 128, &mut out).expect("2-D");
            black_box(&out);
        });
    });
}

/// The logistic regression posterior (d = 31, N = 569 rows): `grad_log_prob_batch` of n draws
/// (with the default threads and on one thread) and, for the ratio, faer's GEMMs of its two
/// products on one thread: η = B Xᵀ (n × d times d × N) and R X (n × N times N × d).
fn logistic(c: &mut Criterion) {
    let post = common::breast_cancer();
    let (d, rows) = (post.dim(), post.n_rows());
    let x = post.design();
    let laplace = post.laplace().expect("Newton converges");
    let mut xt = vec![0.0; d * rows];
    for (j, row) in x.chunks_exact(d).enumerate() {
        for (i, v) in row.iter().enumerate() {
            xt[i * rows + j] = *v;
        }
    }
    let mut g = c.benchmark_group("logistic");
    for n in [2, 4, 8, 50, 200, 1000] {
        g.throughput(Throughput::Elements(n as u64));
        // Draws of the Laplace approximation, where a fit's q puts them.
        let mut pts = vec![0.0; n * d];
        laplace.sample(&mut Pcg64::seed_from_u64(11), &mut pts);
        let (mut lp, mut grad) = (vec![0.0; n], vec![0.0; n * d]);
        g.bench_function(format!("grad_log_prob_batch/n{n}"), |b| {
            b.iter(|| post.grad_log_prob_batch(black_box(&pts), &mut lp, &mut grad));
        });
        set_threads(1);
        g.bench_function(format!("grad_log_prob_batch-1thread/n{n}"), |b| {
            b.iter(|| post.grad_log_prob_batch(black_box(&pts), &mut lp, &mut grad));
        });
        set_threads(0);
        let mut eta = vec![0.0; n * rows];
        g.bench_function(format!("gemm-eta/n{n}"), |b| {
            b.iter(|| gemm(&mut eta, false, black_box(&pts), &xt, n, d, rows));
        });
        let r: Vec<f64> = eta.iter().map(|e| 0.5 - 0.1 * e).collect();
        g.bench_function(format!("gemm-score/n{n}"), |b| {
            b.iter(|| gemm(&mut grad, false, black_box(&r), x, n, rows, d));
        });
        g.bench_function(format!("gemm-both/n{n}"), |b| {
            b.iter(|| {
                gemm(&mut eta, false, black_box(&pts), &xt, n, d, rows);
                gemm(&mut grad, false, &eta, x, n, rows, d);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, log_prob, grad_log_prob, grid, logistic);
criterion_main!(benches);
