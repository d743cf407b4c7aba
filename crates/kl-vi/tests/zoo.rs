//! Every algorithm runs on every zoo target without error, with finite results, and is
//! reproducible bit for bit from the seed.

mod common;

use std::ops::ControlFlow;

use kl_dist::{
    AnyDensity, Banana, Funnel, LogDensity, LogisticOptions, LogisticRegression, Mixture, Mvn,
    Ring, StudentT,
};
use kl_vi::{BamSettings, GsmSettings, PathfinderSettings, bam, gsm, pathfinder};
use rand::SeedableRng;
use rand_pcg::Pcg64;

fn zoo() -> Vec<AnyDensity> {
    let a = Mvn::new(&[-2.0, 0.0], &[0.5, 0.1, 0.1, 0.5]).expect("spd");
    let b = Mvn::new(&[2.0, 1.0], &[0.3, 0.0, 0.0, 0.8]).expect("spd");
    // Logistic regression on 40 synthetic rows of 3 features (a fixed, deterministic design).
    let n = 40;
    let features: Vec<f64> = (0..n * 3)
        .map(|i| ((i * 37 % 17) as f64 - 8.0) / 4.0)
        .collect();
    let labels: Vec<f64> = (0..n)
        .map(|i| f64::from(u8::from(features[i * 3] + 0.5 * features[i * 3 + 1] > 0.0)))
        .collect();
    vec![
        AnyDensity::Banana(Banana::new(1.0, 0.5).expect("banana")),
        AnyDensity::Funnel(Funnel::new(3, 1.5).expect("funnel")),
        AnyDensity::StudentT(StudentT::new(4.0, &[0.5, -0.5], &[1.0, 0.3, 0.3, 2.0]).expect("t")),
        AnyDensity::Ring(Ring::new(2.0, 0.3).expect("ring")),
        AnyDensity::Mixture(Mixture::new(&[0.6, 0.4], vec![a, b]).expect("mixture")),
        AnyDensity::LogisticRegression(
            LogisticRegression::new(&features, 3, &labels, LogisticOptions::default())
                .expect("logistic"),
        ),
    ]
}

fn finite(q: &Mvn) -> bool {
    q.mean().iter().chain(q.covariance()).all(|v| v.is_finite())
}

#[test]
fn all_algorithms_run_on_the_zoo() {
    for p in zoo() {
        let d = p.dim();
        let q0 = common::standard(d);
        let mut rng = Pcg64::seed_from_u64(9);
        let mut go = |s: &kl_vi::State<'_>| {
            assert!(finite(s.q));
            ControlFlow::Continue(())
        };
        let out = gsm(
            &p,
            &q0,
            &GsmSettings {
                batch_size: 4,
                max_iters: 200,
            },
            &mut rng,
            &mut go,
        )
        .unwrap_or_else(|e| panic!("gsm on {}: {e}", p.name()));
        assert!(finite(&out.q), "gsm on {}", p.name());
        let out = bam(
            &p,
            &q0,
            &BamSettings {
                max_iters: 200,
                ..BamSettings::default()
            },
            &mut rng,
            &mut go,
        )
        .unwrap_or_else(|e| panic!("bam on {}: {e}", p.name()));
        assert!(finite(&out.q), "bam on {}", p.name());
        let s = PathfinderSettings {
            draws_per_path: 200,
            n_draws: 200,
            ..PathfinderSettings::default()
        };
        let out = pathfinder(&p, &vec![0.3; d], &s, &mut rng, &mut go)
            .unwrap_or_else(|e| panic!("pathfinder on {}: {e}", p.name()));
        assert!(
            finite(&out.q) && out.elbo.is_finite(),
            "pathfinder on {}",
            p.name()
        );
        assert!(!out.pareto_k.is_nan());
        assert_eq!(out.draws.len(), 200 * d);
        assert!(out.draws.iter().all(|v| v.is_finite()));
        assert!(
            out.paths.iter().all(|s| s.error.is_none()),
            "{}: {:?}",
            p.name(),
            out.paths
        );
    }
}

#[test]
fn runs_are_reproducible_from_the_seed() {
    let p = zoo().swap_remove(0);
    let q0 = common::standard(2);
    let run = || {
        let mut rng = Pcg64::seed_from_u64(17);
        let go = &mut |_: &kl_vi::State<'_>| ControlFlow::Continue(());
        let a = gsm(
            &p,
            &q0,
            &GsmSettings {
                batch_size: 3,
                max_iters: 50,
            },
            &mut rng,
            go,
        )
        .expect("gsm");
        let b = bam(
            &p,
            &q0,
            &BamSettings {
                max_iters: 50,
                ..BamSettings::default()
            },
            &mut rng,
            go,
        )
        .expect("bam");
        let c = pathfinder(
            &p,
            &[1.0, 1.0],
            &PathfinderSettings::default(),
            &mut rng,
            go,
        )
        .expect("pathfinder");
        (a, b, c)
    };
    let (a1, b1, c1) = run();
    let (a2, b2, c2) = run();
    assert_eq!(a1, a2);
    assert_eq!(b1, b2);
    assert_eq!(c1.draws, c2.draws);
    assert_eq!(c1, c2);
}

#[test]
fn multi_path_on_the_mixture_pools_both_modes() {
    // Dispersed starts find both components; the resampled draws cover both, so the
    // moment-matched fit spans the modes (means 4 apart along x₀; a single component has
    // variance ≤ 0.5 along x₀). The proportions need not be the true 60/40: weights taken
    // against each path's own Gaussian are heavy-tailed here, and k̂ says so.
    let p = zoo().swap_remove(4);
    let s = PathfinderSettings {
        n_paths: 8,
        init_radius: 4.0,
        ..PathfinderSettings::default()
    };
    let mut rng = Pcg64::seed_from_u64(23);
    let out = pathfinder(&p, &[0.0, 0.0], &s, &mut rng, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect("runs");
    let left = out.draws.chunks(2).filter(|x| x[0] < 0.0).count();
    assert!(
        left > 100 && left < 900,
        "{left} of 1000 draws on the left mode"
    );
    let fit = out.draws_fit.expect("non-degenerate");
    assert!(
        fit.covariance()[0] > 1.0,
        "left {left}, var {}",
        fit.covariance()[0]
    );
    assert!(out.pareto_k > 0.7, "k̂ {}", out.pareto_k);
}
