//! One optimizer step (value + gradient + SGD update) of each objective: the notebook's d = 2
//! problems (n = 1000) and a d = 16, K = 8 mixture (n = 10⁴). θ is reset to the same start before
//! every step, so each iteration measures the same work.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kl_dist::{Mvn, Sample};
use kl_grad::{Estimator, ForwardKlExact, ForwardKlSamples, Objective, ReverseKl};
use kl_opt::{Optimizer, Sgd};
use rand::SeedableRng;
use rand_pcg::Pcg64;

mod common;

/// The notebook's experiments' start (experiments/mixture-reverse.toml).
const THETA_2D: [f64; 6] = [
    1.727_836_132_049_560_5,
    2.204_556_226_730_346_7,
    0.794_827_640_056_610_1,
    0.976_421_117_782_592_8,
    -1.183_427_095_413_208,
    1.916_363_596_916_198_7,
];

/// value_and_grad + SGD, from `theta0` each time.
fn step<O: Objective>(
    obj: &mut O,
    sgd: &mut Sgd,
    theta0: &[f64],
    theta: &mut [f64],
    grad: &mut [f64],
) -> f64 {
    theta.copy_from_slice(theta0);
    let v = obj.value_and_grad(black_box(theta), grad).expect("finite");
    sgd.step(theta, grad);
    black_box(&theta);
    v
}

fn d2(c: &mut Criterion) {
    let mut g = c.benchmark_group("step/d2");
    let p = common::notebook_mixture();
    let mut sgd = Sgd::new(0.1);
    let theta0 = THETA_2D.to_vec();
    let mut theta = theta0.clone();
    let mut grad = vec![0.0; 6];

    // The gaussian-forward experiment's target.
    let target = Mvn::new(
        &[0.948_227_226_734_161_4, 1.153_486_490_249_633_8],
        &[
            1.182_112_336_158_752_4,
            0.170_524_196_481_704_7,
            0.170_524_196_481_704_7,
            0.215_643_256_902_694_7,
        ],
    )
    .expect("valid");
    let mut fwd_exact = ForwardKlExact::new(target);
    g.bench_function("forward-kl-exact", |b| {
        b.iter(|| step(&mut fwd_exact, &mut sgd, &theta0, &mut theta, &mut grad));
    });

    let mut rng = Pcg64::seed_from_u64(8);
    let mut samples = vec![0.0; 1000 * 2];
    p.sample(&mut rng, &mut samples);
    let mut fwd = ForwardKlSamples::new(&samples, 2).expect("valid");
    g.bench_function("forward-kl-samples/n1000", |b| {
        b.iter(|| step(&mut fwd, &mut sgd, &theta0, &mut theta, &mut grad));
    });
    g.bench_function("forward-kl-samples/n1000/construct", |b| {
        b.iter(|| ForwardKlSamples::new(black_box(&samples), 2).expect("valid"));
    });

    for (name, est) in [("total", Estimator::Total), ("stl", Estimator::Stl)] {
        let mut rev = ReverseKl::new(p.clone(), 1000, est, &mut rng).expect("valid");
        g.bench_function(format!("reverse-kl/{name}/k2/n1000"), |b| {
            b.iter(|| {
                rev.resample_with(&mut rng);
                step(&mut rev, &mut sgd, &theta0, &mut theta, &mut grad)
            });
        });
    }
    g.finish();
}

fn d16(c: &mut Criterion) {
    const D: usize = 16;
    const N: usize = 10_000;
    let mut g = c.benchmark_group("step/d16");
    g.sample_size(30);
    let p = common::random_mixture(D, 8, 16);
    let mut sgd = Sgd::new(0.01);
    let theta0 = common::theta_isotropic(D, 1.5);
    let mut theta = theta0.clone();
    let mut grad = vec![0.0; D + D * D];
    let mut rng = Pcg64::seed_from_u64(16);

    let mut samples = vec![0.0; N * D];
    p.sample(&mut rng, &mut samples);
    let mut fwd = ForwardKlSamples::new(&samples, D).expect("valid");
    g.bench_function("forward-kl-samples/k8/n10000", |b| {
        b.iter(|| step(&mut fwd, &mut sgd, &theta0, &mut theta, &mut grad));
    });
    g.bench_function("forward-kl-samples/k8/n10000/construct", |b| {
        b.iter_batched_ref(
            || (),
            |()| ForwardKlSamples::new(black_box(&samples), D).expect("valid"),
            BatchSize::SmallInput,
        );
    });

    for (name, est) in [("total", Estimator::Total), ("stl", Estimator::Stl)] {
        let mut rev = ReverseKl::new(p.clone(), N, est, &mut rng).expect("valid");
        g.bench_function(format!("reverse-kl/{name}/k8/n10000"), |b| {
            b.iter(|| {
                rev.resample_with(&mut rng);
                step(&mut rev, &mut sgd, &theta0, &mut theta, &mut grad)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, d2, d16);
criterion_main!(benches);
