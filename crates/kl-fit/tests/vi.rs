//! Pathfinder, GSM and BaM through the builder: the same surface as every fit (target, seed,
//! start, `max_iters`, observer, records with running evaluation counts, termination,
//! diagnostics) and typed errors for the bad cases.
//!
//! Oracles: the closed-form KL between normals and the target's own parameters (a Gaussian
//! target is a fixed point of GSM and BaM, and Pathfinder's Newton step lands on its mean); the
//! evaluation counts are the algorithms' definitions (B scores per GSM/BaM iteration).

use std::ops::ControlFlow;

use kl_dist::{LogDensity, Mvn, kl_divergence};
use kl_fit::{Error, Family, Fit, Init, PathfinderOptions, Schedule, Termination, kl_vi};

/// A 4-D correlated Gaussian (condition number ≈ 30).
fn target() -> Mvn {
    #[rustfmt::skip]
    let cov = [
        4.0, 1.2, 0.4, 0.0,
        1.2, 2.0, -0.3, 0.2,
        0.4, -0.3, 1.0, 0.1,
        0.0, 0.2, 0.1, 0.15,
    ];
    Mvn::new(&[1.0, -2.0, 0.5, 3.0], &cov).expect("positive definite")
}

#[test]
fn gsm_and_bam_reach_a_gaussian_target_and_count_b_scores_per_iteration() {
    let p = target();
    for (name, fit, b, iters) in [
        ("gsm", Fit::gsm(p.clone()).batch_size(2), 2u64, 150usize),
        ("bam", Fit::bam(p.clone()).batch_size(10), 10, 30),
    ] {
        let fit = fit.max_iters(iters).seed(3).run().expect(name);
        let kl = kl_divergence(fit.q(), &p).expect("dim");
        assert!(kl < 1e-8, "{name}: D(q‖p) = {kl:e}");
        assert_eq!(fit.termination(), Termination::MaxIters);
        assert_eq!(fit.n_iters(), iters);
        // Diagnostics evaluate log p only: the scores are the algorithm's, B per iteration.
        assert_eq!(fit.n_grad_evals(), b * iters as u64, "{name}");
        assert_eq!(
            fit.n_density_evals(),
            4000,
            "{name}: the 4000 diagnostic draws"
        );
        let r = fit.records();
        assert_eq!(r.len(), iters + 1);
        assert_eq!(r[0].iteration, 0);
        assert_eq!(r[0].mean(), &[0.0; 4]);
        for (k, rec) in r.iter().enumerate().skip(1) {
            assert_eq!(rec.iteration, k);
            assert_eq!(rec.n_grad_evals, b * k as u64, "{name}: the running count");
            assert!(rec.loss.is_finite() && rec.grad_norm.is_finite());
        }
        // At q = p the score residual ∇log p − ∇log q is zero, and log p − log q is the constant
        // log Z = 0 (the normal is normalized): the last records' loss is 0.
        let last = r.last().expect("records");
        assert!(last.grad_norm < 1e-6, "{name}: {}", last.grad_norm);
        assert!(last.loss.abs() < 1e-6, "{name}: {}", last.loss);
        // The exact KL is computed along the fit, as for every fit to a workspace target.
        assert!(last.kl_reverse.is_some_and(|k| k < 1e-8));
        let diag = fit.diagnosis().expect("diagnostics on by default");
        assert!(diag.k_hat < 0.5, "{name}: k̂ {}", diag.k_hat);
        assert_eq!(fit.rejected_steps(), 0);
        assert!(fit.pathfinder().is_none());
    }
}

#[test]
fn bam_records_its_learning_rate_schedule() {
    let p = target();
    let fit = Fit::bam(p.clone())
        .batch_size(5)
        .max_iters(10)
        .run()
        .expect("bam");
    // λₜ = B d / (t + 1) = 20 / (t + 1), the paper's decaying schedule.
    for r in fit.records() {
        let want = 20.0 / (r.iteration as f64 + 1.0);
        assert!((r.learning_rate - want).abs() < 1e-12, "{r:?}");
    }
    assert_eq!(fit.learning_rate(), 20.0);
    assert!((fit.final_learning_rate() - 2.0).abs() < 1e-12);
    let fit = Fit::bam(p)
        .schedule(Schedule::Constant(7.0))
        .max_iters(3)
        .run()
        .expect("bam");
    assert!(fit.records().iter().all(|r| r.learning_rate == 7.0));
}

#[test]
fn gsm_with_one_draw_is_bam_in_the_limit_of_a_large_rate() {
    // GSM is BaM's B = 1, λ → ∞ limit (Cai et al. 2024, §3): from the same seed the two draw the
    // same points, and with λ = 1e12 the updates agree to rounding.
    let p = target();
    let gsm = Fit::gsm(p.clone())
        .batch_size(1)
        .max_iters(5)
        .seed(9)
        .run()
        .expect("gsm");
    let bam = Fit::bam(p)
        .batch_size(1)
        .schedule(Schedule::Constant(1e12))
        .max_iters(5)
        .seed(9)
        .run()
        .expect("bam");
    for (a, b) in gsm.q().mean().iter().zip(bam.q().mean()) {
        assert!((a - b).abs() < 1e-6 * (1.0 + a.abs()), "{a} vs {b}");
    }
    for (a, b) in gsm.q().covariance().iter().zip(bam.q().covariance()) {
        assert!((a - b).abs() < 1e-6 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

#[test]
fn pathfinder_lands_on_the_mean_of_a_gaussian_and_reports_k_hat() {
    let p = target();
    let fit = Fit::pathfinder(p.clone())
        .history(4)
        .n_paths(3)
        .init(Init::Gaussian(
            Mvn::new(&[3.0; 4], &identity(4)).expect("N(3, I)"),
        ))
        .seed(4)
        .run()
        .expect("pathfinder");
    // The Newton step x + Σ_k ∇log p(x) lands on the mean of a Gaussian (exactly, for a
    // converged iterate; the best by a 25-draw ELBO is near it).
    for (a, b) in fit.q().mean().iter().zip(p.mean()) {
        assert!((a - b).abs() < 1e-2, "mean {a} vs {b}");
    }
    let kl = kl_divergence(fit.q(), &p).expect("dim");
    assert!(kl < 0.05, "D(q‖p) = {kl}");
    let report = fit.pathfinder().expect("a Pathfinder fit");
    assert_eq!(report.paths.len(), 3);
    assert!(report.pareto_k < 0.7, "k̂ {}", report.pareto_k);
    assert_eq!(report.draws.len(), PathfinderOptions::default().n_draws * 4);
    assert!(report.paths.iter().all(|s| s.error.is_none()));
    // Records: one per iterate with a finite ELBO, loss = −ELBO, the running counts growing.
    let r = fit.records();
    assert!(r.len() >= 3 && r[0].iteration >= 1);
    assert!(r.windows(2).all(|w| w[0].n_grad_evals <= w[1].n_grad_evals
        && w[0].n_density_evals <= w[1].n_density_evals
        && w[0].iteration < w[1].iteration));
    assert!(r.iter().all(|x| x.loss.is_finite()));
    assert!(fit.n_grad_evals() >= r.last().expect("records").n_grad_evals);
    assert!(fit.diagnosis().is_some_and(|d| d.k_hat.is_finite()));
}

fn identity(d: usize) -> Vec<f64> {
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        m[i * d + i] = 1.0;
    }
    m
}

#[test]
fn the_same_seed_gives_the_same_bits() {
    let run = |seed| {
        let gsm = Fit::gsm(target())
            .max_iters(40)
            .seed(seed)
            .run()
            .expect("gsm");
        let pf = Fit::pathfinder(target())
            .seed(seed)
            .run()
            .expect("pathfinder");
        (
            gsm.q().clone(),
            gsm.records().to_vec(),
            pf.q().clone(),
            pf.pathfinder().cloned(),
        )
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1).0, run(2).0);
}

#[test]
fn the_observer_sees_progress_and_can_stop_the_fit() {
    let mut seen = Vec::new();
    let fit = Fit::gsm(target())
        .max_iters(100)
        .observer(|p| {
            seen.push((p.iteration, p.n_grad_evals, p.q().is_ok()));
            if p.iteration == 7 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .run()
        .expect("gsm");
    assert_eq!(fit.termination(), Termination::Interrupted { at: 7 });
    assert_eq!(seen.len(), 8, "the start and iterations 1..=7");
    assert_eq!(seen[3], (3, 6, true));
    let mut n = 0;
    let fit = Fit::pathfinder(target())
        .observer(|_| {
            n += 1;
            if n == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .run()
        .expect("pathfinder");
    assert!(matches!(fit.termination(), Termination::Interrupted { .. }));
}

#[test]
fn memory_does_not_grow_with_the_iterations() {
    let p = Mvn::new(&[0.0, 0.0], &identity(2)).expect("N(0, I)");
    let n = 3 * kl_fit::record_capacity(6);
    let fit = Fit::gsm(p).max_iters(n).diagnostics(0).run().expect("gsm");
    assert!(fit.records().len() <= kl_fit::record_capacity(6) + 1);
    assert_eq!(fit.records().last().expect("records").iteration, n);
}

/// N(0, I) in 2-D whose density and score are NaN everywhere.
fn nan_everywhere() -> impl LogDensity + Send + Sync + 'static {
    kl_dist::from_fn(2, |_: &[f64], g: &mut [f64]| {
        g.iter_mut().for_each(|v| *v = f64::NAN);
        f64::NAN
    })
    .expect("dim 2")
}

#[test]
fn bad_cases_are_typed_errors() {
    // A NaN gradient at the start.
    let e = Fit::gsm(kl_fit::Target::custom(nan_everywhere()))
        .run()
        .expect_err("NaN scores");
    assert!(
        matches!(
            e,
            Error::Vi {
                algorithm: "gsm",
                source: kl_vi::Error::NonFiniteScore { iteration: 0, .. }
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("gsm: iteration 0:"), "{e}");
    let e = Fit::pathfinder(kl_fit::Target::custom(nan_everywhere()))
        .n_paths(1)
        .run()
        .expect_err("NaN at the start");
    assert!(
        matches!(
            e,
            Error::Vi {
                algorithm: "pathfinder",
                source: kl_vi::Error::NonFiniteLogDensity { iteration: 0, .. }
            }
        ),
        "{e:?}"
    );
    // L-BFGS that cannot make progress: a score pointing the wrong way (log p = −|x|²/2, its
    // "gradient" +x), so no step along the search direction decreases −log p.
    let wrong = kl_dist::from_fn(2, |x: &[f64], g: &mut [f64]| {
        g.copy_from_slice(x);
        -0.5 * (x[0] * x[0] + x[1] * x[1])
    })
    .expect("dim 2");
    let e = Fit::pathfinder(wrong)
        .n_paths(1)
        .init(Init::Gaussian(
            Mvn::new(&[1.0, 1.0], &identity(2)).expect("N"),
        ))
        .run()
        .expect_err("no descent");
    assert!(
        matches!(
            e,
            Error::Vi {
                source: kl_vi::Error::NoLbfgsStep { path: 0 },
                ..
            }
        ),
        "{e:?}"
    );
    // Settings, named as the builder spells them; λ ≤ 0 would make BaM's Σ' indefinite.
    let setting = |e: Error| match e {
        Error::Setting { what, .. } => what,
        other => panic!("not a setting error: {other:?}"),
    };
    let p = target();
    let cases: Vec<(Fit<'_>, &str)> = vec![
        (
            Fit::bam(p.clone()).schedule(Schedule::Constant(-1.0)),
            "lambda",
        ),
        (
            Fit::bam(p.clone()).schedule(Schedule::Constant(0.0)),
            "lambda",
        ),
        (
            Fit::bam(p.clone()).schedule(Schedule::Decaying { scale: f64::NAN }),
            "lambda_scale",
        ),
        (Fit::bam(p.clone()).batch_size(0), "batch_size"),
        (Fit::gsm(p.clone()).batch_size(0), "batch_size"),
        (Fit::gsm(p.clone()).max_iters(0), "max_iters"),
        (Fit::gsm(p.clone()).family(Family::MeanField), "family"),
        (Fit::pathfinder(p.clone()).history(0), "history"),
        (Fit::pathfinder(p.clone()).elbo_draws(0), "elbo_draws"),
        (Fit::pathfinder(p.clone()).n_paths(0), "n_paths"),
        (
            Fit::pathfinder(p.clone()).pathfinder_options(PathfinderOptions {
                init_radius: -1.0,
                ..PathfinderOptions::default()
            }),
            "init_radius",
        ),
    ];
    for (fit, what) in cases {
        assert_eq!(setting(fit.run().expect_err(what)), what);
    }
}
