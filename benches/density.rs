//! Batch `log_prob` of `Mvn` and `Mixture` (d = 2 and d = 16) and the notebook's 128 × 128 density
//! grid of its 2-component mixture.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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

criterion_group!(benches, log_prob, grad_log_prob, grid);
criterion_main!(benches);
