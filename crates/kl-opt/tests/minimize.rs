//! The loop: trace layout, call counts, and how it stops.

use kl_opt::{Adam, Error, Sgd, minimize, minimize_with};
use kl_testkit::quadratic;
use std::cell::Cell;
use std::convert::Infallible;
use std::fmt;

/// f(θ) = ½ Σ aᵢ (θᵢ − cᵢ)², gradient aᵢ (θᵢ − cᵢ).
#[test]
fn record_count_and_call_count_are_n_iters_plus_one() {
    let a = [1.0, 3.0];
    let c = [0.5, -0.5];
    for n in [0, 1, 7, 20] {
        let calls = Cell::new(0_usize);
        let seen = std::cell::RefCell::new(Vec::new());
        let mut adam = Adam::new(0.1);
        let records = minimize(&[2.0, 2.0], &mut adam, n, |k, theta, grad| {
            calls.set(calls.get() + 1);
            seen.borrow_mut().push((k, theta.to_vec()));
            Ok::<_, Infallible>(quadratic(&a, &c, theta, grad))
        })
        .expect("finite");
        assert_eq!(records.len(), n + 1);
        assert_eq!(calls.get(), n + 1);
        // n updates: the last evaluation is not followed by a step.
        assert_eq!(adam.steps(), u64::try_from(n).expect("small"));
        assert_eq!(records[0].theta, [2.0, 2.0], "records[0] is θ₀");
        // The k-th call is at iteration k and at the θ recorded as records[k].
        for (k, (record, (call_k, call_theta))) in
            records.iter().zip(seen.borrow().iter()).enumerate()
        {
            assert_eq!(record.iteration, k);
            assert_eq!(*call_k, k);
            assert_eq!(&record.theta, call_theta);
            // Loss and gradient norm are those at θₖ.
            let mut g = [0.0; 2];
            let loss = quadratic(&a, &c, &record.theta, &mut g);
            assert_eq!(record.loss, loss);
            assert_eq!(record.grad_norm, (g[0] * g[0] + g[1] * g[1]).sqrt());
        }
    }
}

#[test]
fn grad_buffer_is_zeroed_before_each_call() {
    // An objective that accumulates with `+=` must see zeros each time.
    let records = minimize(&[1.0, 1.0], &mut Sgd::new(0.1), 5, |_, theta, grad| {
        for (g, t) in grad.iter_mut().zip(theta) {
            *g += 2.0 * t;
        }
        Ok::<_, Infallible>(theta.iter().map(|t| t * t).sum())
    })
    .expect("finite");
    // θₖ = 0.8ᵏ in each coordinate: the plain recurrence, not a growing gradient.
    for (k, r) in records.iter().enumerate() {
        let expected = 0.8_f64.powi(i32::try_from(k).expect("small"));
        assert!(
            (r.theta[0] - expected).abs() < 1e-14,
            "θ_{k} = {:?}",
            r.theta
        );
    }
}

#[test]
fn observer_sees_every_record_with_its_gradient() {
    let a = [2.0, 0.5];
    let c = [1.0, 1.0];
    let mut observed = Vec::new();
    let records = minimize_with(
        &[0.0, 4.0],
        &mut Sgd::new(0.3).with_momentum(0.5),
        6,
        |_, theta, grad| Ok::<_, Infallible>(quadratic(&a, &c, theta, grad)),
        |record, grad| observed.push((record.clone(), grad.to_vec())),
    )
    .expect("finite");
    assert_eq!(observed.len(), records.len());
    for ((obs_record, obs_grad), record) in observed.iter().zip(&records) {
        assert_eq!(obs_record, record);
        let mut g = [0.0; 2];
        quadratic(&a, &c, &record.theta, &mut g);
        assert_eq!(obs_grad, &g);
    }
}

#[test]
fn minimize_resets_the_optimizer() {
    let run = |adam: &mut Adam| {
        minimize(&[1.0], adam, 4, |_, theta, grad| {
            grad[0] = theta[0] - 3.0;
            Ok::<_, Infallible>(0.5 * (theta[0] - 3.0).powi(2))
        })
        .expect("finite")
    };
    let mut adam = Adam::new(0.1);
    let first = run(&mut adam);
    let second = run(&mut adam);
    assert_eq!(first, second);
}

#[test]
fn sgd_divergence_on_square_reports_the_overflow_iteration_of_the_loss() {
    // f(θ) = θ², g = 2θ, lr = 512.5: θₖ = (1 − 2·512.5)ᵏ θ₀ = (−1024)ᵏ = ±2^(10k), exactly.
    // The loss θ² = 2^(20k) exceeds f64::MAX (< 2^1024) first when 20k ≥ 1024, i.e. k = 52;
    // θ and g = 2^(10k+1) are still finite there.
    let expected_k = 1024_usize.div_ceil(20);
    assert_eq!(expected_k, 52);
    let err = minimize(&[1.0], &mut Sgd::new(512.5), 100, |_, theta, grad| {
        grad[0] = 2.0 * theta[0];
        Ok::<_, Infallible>(theta[0] * theta[0])
    })
    .expect_err("must diverge");
    assert_eq!(
        err,
        Error::NonFiniteLoss {
            iteration: expected_k,
            loss: f64::INFINITY
        }
    );
    assert_eq!(err.iteration(), Some(expected_k));
    assert_eq!(
        err.to_string(),
        "iteration 52: loss is inf (the learning rate may be too large)"
    );
}

#[test]
fn sgd_divergence_reports_the_parameter_that_overflows_first() {
    // Same update θ ← θ − 512.5·2θ = −1024·θ, but a loss that stays finite (|θ₀|), so the
    // parameter check is what fires. θ₀ = [1, 2¹⁰]: coordinate 1 is one step ahead,
    // |θₖ[1]| = 2^(10k+10). The update to θₖ₊₁ first leaves f64 when the new magnitude reaches
    // 2^1024, i.e. the smallest k+1 with 10(k+1) + 10 ≥ 1024 → k+1 = 102 (the gradient
    // 2^(10k+11) at k = 101 is still finite: 2^1021).
    let expected_k = (1024_usize - 10).div_ceil(10);
    assert_eq!(expected_k, 102);
    let calls = Cell::new(0_usize);
    let err = minimize(
        &[1.0, 1024.0],
        &mut Sgd::new(512.5),
        500,
        |_, theta, grad| {
            calls.set(calls.get() + 1);
            grad[0] = 2.0 * theta[0];
            grad[1] = 2.0 * theta[1];
            Ok::<_, Infallible>(theta[0].abs())
        },
    )
    .expect_err("must diverge");
    match err {
        Error::NonFiniteParameter {
            iteration,
            index,
            value,
        } => {
            assert_eq!((iteration, index), (expected_k, 1));
            assert!(value.is_infinite());
        }
        other => panic!("unexpected {other:?}"),
    }
    // Evaluated at θ₀ … θ₁₀₁, then the update to θ₁₀₂ failed.
    assert_eq!(calls.get(), expected_k);
    assert!(
        err.to_string()
            .starts_with("iteration 102: parameter 1 became ")
    );
    assert!(err.to_string().ends_with("inf after the update"));
}

#[test]
fn nan_loss_is_reported_at_its_iteration() {
    for bad_k in [0, 1, 4, 9] {
        let calls = Cell::new(0_usize);
        let err = minimize(&[1.0, 2.0], &mut Sgd::new(0.1), 10, |k, theta, grad| {
            calls.set(calls.get() + 1);
            grad.copy_from_slice(theta);
            Ok::<_, Infallible>(if k == bad_k { f64::NAN } else { 1.0 })
        })
        .expect_err("NaN loss");
        assert!(
            matches!(err, Error::NonFiniteLoss { iteration, loss } if iteration == bad_k && loss.is_nan()),
            "{err:?}"
        );
        assert_eq!(calls.get(), bad_k + 1);
        let msg = err.to_string();
        if bad_k == 0 {
            assert_eq!(msg, "iteration 0: loss is NaN at the initial parameters");
        } else {
            assert_eq!(
                msg,
                format!("iteration {bad_k}: loss is NaN (the learning rate may be too large)")
            );
        }
    }
}

#[test]
fn non_finite_gradient_entry_is_named() {
    let err = minimize(&[0.0; 4], &mut Sgd::new(0.1), 10, |k, _, grad| {
        if k == 3 {
            grad[2] = f64::INFINITY;
            grad[3] = f64::NAN;
        }
        Ok::<_, Infallible>(0.0)
    })
    .expect_err("inf gradient");
    assert_eq!(
        err,
        Error::NonFiniteGradient {
            iteration: 3,
            index: 2,
            value: f64::INFINITY
        }
    );
    assert_eq!(err.to_string(), "iteration 3: gradient entry 2 is inf");
}

#[test]
fn gradient_norm_overflow_is_an_error() {
    let err = minimize(&[0.0; 2], &mut Sgd::new(0.1), 3, |_, _, grad| {
        grad.fill(f64::MAX);
        Ok::<_, Infallible>(0.0)
    })
    .expect_err("norm overflows");
    assert_eq!(err, Error::GradientNormOverflow { iteration: 0 });
}

#[test]
fn non_finite_initial_parameter_is_rejected_without_calling_the_objective() {
    let calls = Cell::new(0_usize);
    let err = minimize(
        &[1.0, f64::NEG_INFINITY],
        &mut Sgd::new(0.1),
        3,
        |_, _, _| {
            calls.set(calls.get() + 1);
            Ok::<_, Infallible>(0.0)
        },
    )
    .expect_err("bad θ₀");
    assert_eq!(calls.get(), 0);
    assert_eq!(err.to_string(), "iteration 0: initial parameter 1 is -inf");
}

#[derive(Debug, Clone, PartialEq)]
struct SamplingFailed(&'static str);

impl fmt::Display for SamplingFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sampling failed: {}", self.0)
    }
}

impl std::error::Error for SamplingFailed {}

#[test]
fn objective_error_is_wrapped_with_its_iteration() {
    let calls = Cell::new(0_usize);
    let err = minimize(&[1.0], &mut Adam::new(0.1), 10, |k, theta, grad| {
        calls.set(calls.get() + 1);
        if k == 4 {
            return Err(SamplingFailed("not positive definite"));
        }
        grad[0] = theta[0];
        Ok(0.5 * theta[0] * theta[0])
    })
    .expect_err("objective fails");
    assert_eq!(calls.get(), 5);
    assert_eq!(
        err,
        Error::Objective {
            iteration: 4,
            source: SamplingFailed("not positive definite")
        }
    );
    assert_eq!(
        err.to_string(),
        "iteration 4: the objective returned an error"
    );
    let source = std::error::Error::source(&err).expect("has a source");
    assert_eq!(source.to_string(), "sampling failed: not positive definite");
    assert!(source.downcast_ref::<SamplingFailed>().is_some());

    // `?` into a boxed error works, and map_objective changes only the objective's error.
    let mapped: Error<String> = err.map_objective(|e| e.0.to_owned());
    assert_eq!(
        mapped,
        Error::Objective {
            iteration: 4,
            source: "not positive definite".to_owned()
        }
    );
}

#[test]
fn errors_convert_into_boxed_errors() {
    fn run() -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        let mut sgd = Sgd::try_new(0.1, 0.0)?;
        let records = minimize(&[1.0], &mut sgd, 2, |_, theta, grad| {
            grad[0] = 1.0;
            if theta[0] < 0.95 {
                Err(SamplingFailed("boom"))
            } else {
                Ok(theta[0])
            }
        })?;
        Ok(records.len())
    }
    let err = run().expect_err("fails at iteration 1");
    assert_eq!(
        err.to_string(),
        "iteration 1: the objective returned an error"
    );
}

#[test]
fn an_observer_that_breaks_stops_the_loop_after_that_record() {
    use std::ops::ControlFlow;
    let a = [1.0, 3.0];
    let c = [0.5, -1.0];
    let calls = Cell::new(0);
    let mut opt = Sgd::try_new(0.1, 0.0).expect("valid");
    let records = kl_opt::minimize_until(
        &[0.0, 0.0],
        &mut opt,
        100,
        |_, t, g| {
            calls.set(calls.get() + 1);
            Ok::<_, Infallible>(quadratic(&a, &c, t, g))
        },
        |r, _| {
            if r.iteration == 7 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .expect("finite");
    assert_eq!(records.len(), 8);
    assert_eq!(records.last().map(|r| r.iteration), Some(7));
    assert_eq!(calls.get(), 8, "no evaluation after the break");
    // The same prefix as an unstopped run.
    let full = minimize(&[0.0, 0.0], &mut opt, 100, |_, t, g| {
        Ok::<_, Infallible>(quadratic(&a, &c, t, g))
    })
    .expect("finite");
    assert_eq!(&full[..8], &records[..]);
}
