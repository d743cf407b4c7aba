//! Bad input gives a typed error, never a panic.

mod common;

use std::ops::ControlFlow;

use kl_vi::{BamSettings, Error, GsmSettings, PathfinderSettings, Schedule, bam, gsm, pathfinder};
use rand::SeedableRng;
use rand_pcg::Pcg64;

fn go(_: &kl_vi::State<'_>) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// N(0, I) in 2-D except that for x₀ > `edge` the density and score are NaN.
fn nan_region(edge: f64) -> impl kl_dist::LogDensity {
    kl_dist::from_fn(2, move |x, g| {
        if x[0] > edge {
            g.iter_mut().for_each(|v| *v = f64::NAN);
            return f64::NAN;
        }
        g[0] = -x[0];
        g[1] = -x[1];
        -0.5 * (x[0] * x[0] + x[1] * x[1])
    })
    .expect("dim 2")
}

#[test]
fn nan_scores_name_the_iteration_and_draw() {
    let p = nan_region(1.0);
    let q0 = common::standard(2);
    let mut rng = Pcg64::seed_from_u64(1);
    let e =
        gsm(&p, &q0, &GsmSettings::default(), &mut rng, &mut go).expect_err("draws reach x₀ > 1");
    assert!(matches!(e, Error::NonFiniteScore { index: 0, .. }), "{e:?}");
    assert!(e.to_string().contains("score entry 0 is NaN"));
    let e =
        bam(&p, &q0, &BamSettings::default(), &mut rng, &mut go).expect_err("draws reach x₀ > 1");
    assert!(matches!(e, Error::NonFiniteScore { .. }), "{e:?}");
}

#[test]
fn pathfinder_from_a_nan_start_fails_and_avoids_nan_regions_otherwise() {
    let p = nan_region(1.0);
    let mut rng = Pcg64::seed_from_u64(2);
    let one = PathfinderSettings {
        n_paths: 1,
        ..PathfinderSettings::default()
    };
    let e = pathfinder(&p, &[2.0, 0.0], &one, &mut rng, &mut go).expect_err("NaN at the start");
    assert!(
        matches!(e, Error::NonFiniteLogDensity { iteration: 0, .. }),
        "{e:?}"
    );
    // Every Gaussian along the path puts ~16% of its mass on x₀ > 1, so each iterate's 25 ELBO
    // draws meet a NaN: no iterate is usable, and that is an error, not a NaN result.
    let e = pathfinder(
        &p,
        &[-2.0, 1.0],
        &PathfinderSettings::default(),
        &mut rng,
        &mut go,
    );
    assert_eq!(e, Err(Error::NoFiniteElbo));
    // With the NaN region far out, the line search backs off NaN trial points (the first step
    // from x₀ = −3 overshoots past 4) and the rare NaN pooled draws get weight zero.
    let p = nan_region(4.0);
    let out = pathfinder(
        &p,
        &[-3.0, 1.0],
        &PathfinderSettings::default(),
        &mut rng,
        &mut go,
    )
    .expect("paths succeed");
    assert!(out.elbo.is_finite() && !out.pareto_k.is_nan());
    assert!(out.draws.iter().all(|v| v.is_finite()));
    assert!(out.draws.chunks(2).all(|x| x[0] <= 4.0));
}

#[test]
fn wrong_dimensions_name_the_input() {
    let p = common::gaussian(3, 10.0, 1);
    let q0 = common::standard(2);
    let mut rng = Pcg64::seed_from_u64(3);
    assert_eq!(
        gsm(&p, &q0, &GsmSettings::default(), &mut rng, &mut go),
        Err(Error::DimensionMismatch {
            what: "q0",
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        bam(&p, &q0, &BamSettings::default(), &mut rng, &mut go),
        Err(Error::DimensionMismatch {
            what: "q0",
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        pathfinder(
            &p,
            &[0.0; 4],
            &PathfinderSettings::default(),
            &mut rng,
            &mut go
        ),
        Err(Error::DimensionMismatch {
            what: "init",
            expected: 3,
            got: 4
        })
    );
    let e = pathfinder(
        &p,
        &[0.0, f64::INFINITY, 0.0],
        &PathfinderSettings::default(),
        &mut rng,
        &mut go,
    );
    assert!(matches!(
        e,
        Err(Error::NonFiniteInput {
            what: "init",
            index: 1,
            ..
        })
    ));
    let e = kl_vi::gsm_step(&q0, &[0.0, 0.0, 1.0], &[0.0, 0.0, 1.0]);
    assert!(matches!(
        e,
        Err(Error::DimensionMismatch { what: "points", .. })
    ));
    let e = kl_vi::bam_covariance(&[1.0], &[1.0, 0.0, 0.0, 1.0], 2);
    assert!(matches!(e, Err(Error::DimensionMismatch { what: "U", .. })));
    let e = kl_vi::bam_covariance(&[1.0, 0.0, 0.0, 1.0], &[1.0, 0.0, 0.0, -1.0], 2);
    assert!(matches!(
        e,
        Err(Error::NotPositiveDefinite {
            what: "V",
            pivot: 1
        })
    ));
}

#[test]
fn invalid_settings_name_the_setting() {
    let p = common::standard(2);
    let mut rng = Pcg64::seed_from_u64(4);
    let e = gsm(
        &p,
        &p,
        &GsmSettings {
            batch_size: 0,
            max_iters: 1,
        },
        &mut rng,
        &mut go,
    );
    assert!(matches!(
        e,
        Err(Error::InvalidSetting {
            name: "batch_size",
            ..
        })
    ));
    let s = BamSettings {
        schedule: Schedule::Constant(-1.0),
        ..BamSettings::default()
    };
    assert!(matches!(
        bam(&p, &p, &s, &mut rng, &mut go),
        Err(Error::InvalidSetting { .. })
    ));
    let s = BamSettings {
        schedule: Schedule::Constant(f64::NAN),
        ..BamSettings::default()
    };
    assert!(matches!(
        bam(&p, &p, &s, &mut rng, &mut go),
        Err(Error::InvalidSetting { .. })
    ));
    for s in [
        PathfinderSettings {
            history: 0,
            ..PathfinderSettings::default()
        },
        PathfinderSettings {
            elbo_draws: 0,
            ..PathfinderSettings::default()
        },
        PathfinderSettings {
            init_radius: -1.0,
            ..PathfinderSettings::default()
        },
        PathfinderSettings {
            line_search_c2: 1.0,
            ..PathfinderSettings::default()
        },
    ] {
        let e = pathfinder(&p, &[0.0, 0.0], &s, &mut rng, &mut go);
        assert!(matches!(e, Err(Error::InvalidSetting { .. })), "{e:?}");
    }
}

#[test]
fn the_observer_can_interrupt() {
    let p = common::gaussian(4, 10.0, 2);
    let q0 = common::standard(4);
    let mut rng = Pcg64::seed_from_u64(5);
    let mut stop = |s: &kl_vi::State<'_>| {
        if s.iteration == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let out = gsm(&p, &q0, &GsmSettings::default(), &mut rng, &mut stop).expect("runs");
    assert!(out.interrupted && out.iterations == 3 && out.n_grad_evals == 6);
    let out = pathfinder(
        &p,
        &[1.0; 4],
        &PathfinderSettings::default(),
        &mut rng,
        &mut stop,
    )
    .expect("runs");
    assert!(out.interrupted && out.paths.len() == 1);
}
