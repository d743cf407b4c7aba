//! Pathfinder, GSM and BaM on the breast-cancer logistic posterior (d = 31, N = 569) from
//! N(0, I), at the settings of their JAX peers in `benches/jax/vi_race.py` (which runs both
//! sides in one script for BENCHMARKS.md): kl-vi's functions alone, and the same run through
//! the fit builder (records, counts; diagnostics and exact KL off), whose difference is the
//! builder's overhead.

use std::hint::black_box;
use std::ops::ControlFlow;

use common::peers::{
    BAM_BATCH, BAM_SCHEDULE, BLACKJAX_PATHFINDER, GSM_BATCH, ITERS, PATHFINDER_ITERS,
};
use criterion::{Criterion, criterion_group, criterion_main};
use kl_fit::Fit;
use kl_fit::kl_vi::{self, BamSettings, GsmSettings};
use rand::SeedableRng;
use rand_pcg::Pcg64;

mod common;

fn go(_: &kl_vi::State<'_>) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn vi(c: &mut Criterion) {
    let post = common::breast_cancer();
    let d = kl_dist::LogDensity::dim(&post);
    let mut eye = vec![0.0; d * d];
    for i in 0..d {
        eye[i * d + i] = 1.0;
    }
    let q0 = kl_dist::Mvn::new(&vec![0.0; d], &eye).expect("N(0, I)");
    let target = kl_fit::Target::from(post.clone());
    let mut g = c.benchmark_group("vi");
    g.sample_size(10);
    g.bench_function("pathfinder/kl-vi", |b| {
        let s = BLACKJAX_PATHFINDER.settings(PATHFINDER_ITERS);
        b.iter(|| {
            let mut rng = Pcg64::seed_from_u64(0);
            black_box(kl_vi::pathfinder(
                &post,
                &vec![0.0; d],
                &s,
                &mut rng,
                &mut go,
            ))
        });
    });
    g.bench_function("gsm/kl-vi", |b| {
        let s = GsmSettings {
            batch_size: GSM_BATCH,
            max_iters: ITERS,
        };
        b.iter(|| {
            let mut rng = Pcg64::seed_from_u64(0);
            black_box(kl_vi::gsm(&post, &q0, &s, &mut rng, &mut go))
        });
    });
    g.bench_function("bam/kl-vi", |b| {
        let s = BamSettings {
            batch_size: BAM_BATCH,
            max_iters: ITERS,
            schedule: BAM_SCHEDULE,
        };
        b.iter(|| {
            let mut rng = Pcg64::seed_from_u64(0);
            black_box(kl_vi::bam(&post, &q0, &s, &mut rng, &mut go))
        });
    });
    for (name, objective, iters) in common::peers::runs() {
        let name = format!("{name}/fit");
        g.bench_function(&name, |b| {
            b.iter(|| {
                black_box(
                    Fit::new(target.clone(), objective)
                        .max_iters(iters)
                        .diagnostics(0)
                        .exact_kl(false)
                        .run(),
                )
            });
        });
    }
    g.finish();
}

criterion_group!(benches, vi);
criterion_main!(benches);
