//! The diagnostics and the settings at the edges.

use kl_fit::kl_dist::Mvn;
use kl_fit::{Error, Family, Fit, Init, StepSize, Termination};

/// forward-kl-exact on a Gaussian converges to machine precision: every importance weight is
/// the same. That is exact importance sampling, not "k̂ = inf: unreliable".
#[test]
fn a_perfect_fit_is_diagnosed_as_exact_importance_sampling() {
    let p = Mvn::new(&[1.0, -0.5], &[1.5, 0.3, 0.3, 0.4]).expect("valid");
    let fit = Fit::forward_kl_exact(p.clone())
        .optimizer(kl_fit::Optimizer::sgd())
        .step_size(StepSize::Fixed(0.2))
        .max_iters(3000)
        .run()
        .expect("runs");
    let kl = kl_fit::kl_dist::kl_divergence(&p, fit.q()).expect("same d");
    assert!(kl < 1e-14, "{kl}");
    let d = fit.diagnosis().expect("diagnostics are on by default");
    assert!(d.exact, "{d:?}");
    assert_eq!(d.k_hat, kl_diag::FLAT_PARETO_K);
    assert_eq!(d.verdict, kl_diag::Reliability::Good);
    assert!((d.ess - 4000.0).abs() < 1e-6);
    assert_eq!(fit.termination(), Termination::MaxIters);
}

#[test]
fn bad_settings_are_errors_naming_the_setting() {
    let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).expect("valid");
    let cases: Vec<(Fit<'_>, &str)> = vec![
        (Fit::reverse_kl(p.clone()).n_samples(0), "n_samples"),
        (Fit::renyi(p.clone(), f64::NAN), "alpha"),
        (
            Fit::reverse_kl(p.clone()).step_size(StepSize::Fixed(-1.0)),
            "learning_rate",
        ),
        (
            Fit::reverse_kl(p.clone()).stop(kl_fit::Stopping::rel_obj(0.0)),
            "tol_rel_obj",
        ),
        (
            Fit::reverse_kl(p.clone()).init(Init::Explicit {
                mean: vec![0.0; 3],
                raw: vec![1.0, 0.0, 0.0, 1.0],
            }),
            "init.mean",
        ),
        (
            Fit::reverse_kl(p.clone())
                .family(Family::MeanField)
                .init(Init::Explicit {
                    mean: vec![0.0; 2],
                    raw: vec![1.0, 0.0, 0.0, 1.0],
                }),
            "init",
        ),
        (Fit::reverse_kl(p.clone()).init(Init::Laplace), "init"),
        (Fit::forward_kl_samples(vec![1.0, f64::NAN], 2), "samples"),
        (Fit::forward_kl_samples(vec![1.0, 2.0, 3.0], 2), "samples"),
    ];
    for (fit, what) in cases {
        match fit.run() {
            Err(Error::Setting { what: w, .. }) => assert_eq!(w, what),
            other => panic!("{what}: {other:?}"),
        }
    }
}

/// A user's closure that returns NaN somewhere stops the fit with an error naming the
/// iteration, never a NaN answer.
#[test]
fn a_nan_from_the_target_is_an_error_not_an_answer() {
    let p = kl_fit::kl_dist::from_fn(2, |x: &[f64], g: &mut [f64]| {
        g.copy_from_slice(&[-x[0], -x[1]]);
        if x[0] > 1.5 {
            f64::NAN
        } else {
            -0.5 * (x[0] * x[0] + x[1] * x[1])
        }
    })
    .expect("closure");
    let err = Fit::reverse_kl(p)
        .n_samples(50)
        .step_size(StepSize::Fixed(0.05))
        .max_iters(100)
        .run()
        .expect_err("NaN");
    assert!(
        matches!(err, Error::Step { .. } | Error::NonFinite { .. }),
        "{err:?}"
    );
}

/// The observer can stop a fit: the result says so.
#[test]
fn the_observer_interrupts() {
    let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).expect("valid");
    let fit = Fit::reverse_kl(p)
        .step_size(StepSize::Fixed(0.01))
        .max_iters(1000)
        .observer(|pr| {
            if pr.iteration == 37 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })
        .run()
        .expect("runs");
    assert_eq!(fit.termination(), Termination::Interrupted { at: 37 });
    assert_eq!(fit.records().last().map(|r| r.iteration), Some(37));
    // Gradient evaluations: 100 draws at each of the 38 states, no search (fixed step), plus
    // none for the diagnostics (they evaluate log p only).
    assert_eq!(fit.n_grad_evals(), 38 * 100);
    assert_eq!(fit.records().last().map(|r| r.n_grad_evals), Some(38 * 100));
}
