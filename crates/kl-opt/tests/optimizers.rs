//! The update rules against closed forms and hand-computed steps, and their constructors.

use kl_opt::{Adam, Error, Optimizer, Sgd, minimize};
use kl_testkit::quadratic;
use std::convert::Infallible;

fn assert_close(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: got {actual}, expected {expected} (diff {:e})",
        (actual - expected).abs()
    );
}

/// f(θ) = ½ Σ aᵢ (θᵢ − cᵢ)², gradient aᵢ (θᵢ − cᵢ).
#[test]
fn sgd_iterates_match_closed_form_on_diagonal_quadratic() {
    let a = [0.5, 2.0, 3.0, 9.5];
    let c = [1.0, -2.0, 0.25, 3.0];
    let theta0 = [-1.0, 3.0, 0.0, 2.0];
    let lr = 0.2; // 1 − lr·a = 0.9, 0.6, 0.4, −0.9: one coordinate oscillates.
    let n = 60;
    let mut sgd = Sgd::new(lr);
    let records = minimize(&theta0, &mut sgd, n, |_, theta, grad| {
        Ok::<_, Infallible>(quadratic(&a, &c, theta, grad))
    })
    .expect("converges");
    assert_eq!(records.len(), n + 1);
    for (k, record) in records.iter().enumerate() {
        assert_eq!(record.iteration, k);
        let mut expected_loss = 0.0;
        let mut expected_grad_sq = 0.0;
        for i in 0..a.len() {
            let factor = (1.0 - lr * a[i]).powi(i32::try_from(k).expect("small k"));
            let expected = c[i] + factor * (theta0[i] - c[i]);
            assert_close(record.theta[i], expected, 1e-12, &format!("θ_{k}[{i}]"));
            let d = expected - c[i];
            expected_loss += 0.5 * a[i] * d * d;
            expected_grad_sq += (a[i] * d) * (a[i] * d);
        }
        assert_close(record.loss, expected_loss, 1e-12, &format!("loss_{k}"));
        assert_close(
            record.grad_norm,
            expected_grad_sq.sqrt(),
            1e-12,
            &format!("‖g_{k}‖"),
        );
    }
}

#[test]
fn sgd_momentum_matches_hand_derived_recurrence() {
    // f(θ) = ½·2·(θ − 1)², g(θ) = 2(θ − 1); θ₀ = 3, lr = 0.1, μ = 0.9.
    // PyTorch convention: v ← μv + g, θ ← θ − lr·v, v₀ = 0.
    //   g₀ = 2·(3 − 1)      = 4      v₁ = 4                θ₁ = 3 − 0.4      = 2.6
    //   g₁ = 2·(2.6 − 1)    = 3.2    v₂ = 0.9·4 + 3.2      = 6.8
    //                                                      θ₂ = 2.6 − 0.68   = 1.92
    //   g₂ = 2·(1.92 − 1)   = 1.84   v₃ = 0.9·6.8 + 1.84   = 7.96
    //                                                      θ₃ = 1.92 − 0.796 = 1.124
    let expected = [3.0, 2.6, 1.92, 1.124];
    let mut sgd = Sgd::new(0.1).with_momentum(0.9);
    let records = minimize(&[3.0], &mut sgd, 3, |_, theta, grad| {
        Ok::<_, Infallible>(quadratic(&[2.0], &[1.0], theta, grad))
    })
    .expect("finite");
    let got: Vec<f64> = records.iter().map(|r| r.theta[0]).collect();
    for (k, (&g, &e)) in got.iter().zip(&expected).enumerate() {
        assert_close(g, e, 1e-12, &format!("θ_{k}"));
    }

    // With μ = 0.5 instead:
    //   v₁ = 4                  θ₁ = 2.6
    //   g₁ = 3.2   v₂ = 2 + 3.2 = 5.2         θ₂ = 2.6 − 0.52  = 2.08
    //   g₂ = 2.16  v₃ = 2.6 + 2.16 = 4.76     θ₃ = 2.08 − 0.476 = 1.604
    let records = minimize(
        &[3.0],
        &mut Sgd::new(0.1).with_momentum(0.5),
        3,
        |_, theta, grad| Ok::<_, Infallible>(quadratic(&[2.0], &[1.0], theta, grad)),
    )
    .expect("finite");
    for (record, e) in records.iter().zip([3.0, 2.6, 2.08, 1.604]) {
        assert_close(record.theta[0], e, 1e-12, "μ = 0.5");
    }

    // The same through `step` directly, after `reset` (the velocity left by `minimize` is
    // forgotten), twice.
    for _ in 0..2 {
        sgd.reset();
        let mut theta = [3.0];
        for &e in &expected[1..] {
            let g = [2.0 * (theta[0] - 1.0)];
            sgd.step(&mut theta, &g);
            assert_close(theta[0], e, 1e-12, "direct step");
        }
    }
}

#[test]
fn sgd_without_momentum_is_memoryless() {
    let mut sgd = Sgd::new(0.5);
    let mut theta = [1.0, 2.0];
    sgd.step(&mut theta, &[1.0, -1.0]);
    assert_eq!(theta, [0.5, 2.5]);
    sgd.step(&mut theta, &[0.0, 0.0]);
    assert_eq!(theta, [0.5, 2.5], "a zero gradient must not move θ");
}

#[test]
fn adam_first_three_steps_match_hand_computation() {
    // Coordinate 0 sees g = 1, −2, 0.5; coordinate 1 sees the constant g = −3.
    // lr = 0.1, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    let lr = 0.1;
    let eps = 1e-8;
    let mut adam = Adam::new(lr);
    let grads = [[1.0, -3.0], [-2.0, -3.0], [0.5, -3.0]];

    // Coordinate 0, by hand:
    // t = 1: m = 0.1·1 = 0.1;  v = 0.001·1 = 0.001
    //        m̂ = 0.1 / (1 − 0.9) = 1;  v̂ = 0.001 / (1 − 0.999) = 1
    // t = 2: m = 0.9·0.1 + 0.1·(−2) = −0.11;  v = 0.999·0.001 + 0.001·4 = 0.004999
    //        1 − β₁² = 0.19;  1 − β₂² = 1 − 0.998001 = 0.001999
    // t = 3: m = 0.9·(−0.11) + 0.1·0.5 = −0.049;  v = 0.999·0.004999 + 0.001·0.25 = 0.005244001
    //        1 − β₁³ = 0.271;  1 − β₂³ = 1 − 0.997002999 = 0.002997001
    let m_hat = [1.0, -0.11 / 0.19, -0.049 / 0.271];
    let v_hat: [f64; 3] = [1.0, 0.004999 / 0.001999, 0.005244001 / 0.002997001];
    // Coordinate 1: with a constant g, m = (1 − β₁ᵗ)·g and v = (1 − β₂ᵗ)·g², so m̂ = g and
    // v̂ = g²: every step is lr·g/(|g| + ε), i.e. +0.1·3/(3 + 1e-8).

    let mut theta = [0.0, 5.0];
    let mut expected = theta;
    for t in 0..3 {
        adam.step(&mut theta, &grads[t]);
        expected[0] -= lr * m_hat[t] / (v_hat[t].sqrt() + eps);
        expected[1] += lr * 3.0 / (3.0 + eps);
        assert_eq!(adam.steps(), u64::try_from(t + 1).expect("small"));
        assert_close(
            theta[0],
            expected[0],
            1e-12,
            &format!("step {} θ[0]", t + 1),
        );
        assert_close(
            theta[1],
            expected[1],
            1e-12,
            &format!("step {} θ[1]", t + 1),
        );
        if t == 0 {
            // The first step moves each coordinate by ≈ lr·sign(g).
            assert_close(theta[0], -lr, 1e-8, "first step ≈ −lr");
            assert_close(theta[1], 5.0 + lr, 1e-8, "first step ≈ +lr");
        }
    }
    // Rough decimal check of the same: step 2 moves coordinate 0 by
    // 0.1·0.5789/1.5814 ≈ +0.0366, step 3 by 0.1·0.1808/1.3228 ≈ +0.0137.
    assert_close(theta[0], -0.1 + 0.0366 + 0.0137, 1e-3, "θ₃[0], rough");
    assert_close(theta[1], 5.3, 1e-6, "θ₃[1], rough");

    // After a reset, the same gradients give the same steps again.
    adam.reset();
    assert_eq!(adam.steps(), 0);
    let mut again = [0.0, 5.0];
    for g in &grads {
        adam.step(&mut again, g);
    }
    assert_eq!(again, theta);
}

#[test]
fn adam_with_zero_gradient_does_not_move() {
    let mut adam = Adam::new(0.3);
    let mut theta = [1.5, -2.0];
    adam.step(&mut theta, &[0.0, 0.0]);
    assert_eq!(theta, [1.5, -2.0]);
}

#[test]
fn adam_reaches_minimum_of_quadratic() {
    let a = [1.0, 10.0, 0.2];
    let c = [3.0, -1.0, 0.5];
    let mut adam = Adam::new(0.02);
    let records = minimize(&[0.0, 0.0, 0.0], &mut adam, 5000, |_, theta, grad| {
        Ok::<_, Infallible>(quadratic(&a, &c, theta, grad))
    })
    .expect("converges");
    let last = records.last().expect("non-empty");
    for (i, (&t, &ci)) in last.theta.iter().zip(&c).enumerate() {
        assert_close(t, ci, 1e-4, &format!("θ[{i}]"));
    }
    assert!(last.loss < 1e-8 * records[0].loss, "loss {}", last.loss);
}

#[test]
fn optimizers_work_through_dyn_and_box() {
    let mut boxed: Vec<Box<dyn Optimizer>> =
        vec![Box::new(Sgd::new(0.1)), Box::new(Adam::new(0.1))];
    let names: Vec<_> = boxed.iter().map(|o| o.name()).collect();
    assert_eq!(names, ["SGD", "Adam"]);
    for opt in &mut boxed {
        let records = minimize(&[1.0], opt, 3, |_, theta, grad| {
            grad[0] = theta[0];
            Ok::<_, Infallible>(0.5 * theta[0] * theta[0])
        })
        .expect("finite");
        assert!(records[3].loss < records[0].loss);
    }
    let dyn_opt: &mut dyn Optimizer = &mut Sgd::new(0.5);
    let records = minimize(&[2.0], dyn_opt, 1, |_, theta, grad| {
        grad[0] = 1.0;
        Ok::<_, Infallible>(theta[0])
    })
    .expect("finite");
    assert_eq!(records[1].theta, [1.5]);
}

#[test]
fn optimizers_accept_a_new_dimension_after_reset() {
    let mut adam = Adam::new(0.1);
    let mut sgd = Sgd::new(0.1).with_momentum(0.5);
    let opts: [&mut dyn Optimizer; 2] = [&mut adam, &mut sgd];
    for opt in opts {
        opt.step(&mut [1.0, 2.0], &[1.0, 1.0]);
        opt.reset();
        let mut theta = [1.0, 2.0, 3.0];
        opt.step(&mut theta, &[1.0, 1.0, 1.0]);
        assert!(theta.iter().all(|t| t.is_finite()));
    }
}

#[test]
#[should_panic(expected = "dimension changed")]
fn adam_panics_on_dimension_change_without_reset() {
    let mut adam = Adam::new(0.1);
    adam.step(&mut [1.0, 2.0], &[1.0, 1.0]);
    adam.step(&mut [1.0], &[1.0]);
}

#[test]
#[should_panic(expected = "theta has 2 entries but grad has 1")]
fn step_panics_on_length_mismatch() {
    Sgd::new(0.1).step(&mut [1.0, 2.0], &[1.0]);
}

fn hyperparameter_error<T: std::fmt::Debug>(result: Result<T, Error>) -> (&'static str, f64) {
    match result {
        Err(Error::InvalidHyperparameter { name, value, .. }) => (name, value),
        other => panic!("expected a hyperparameter error, got {other:?}"),
    }
}

#[test]
fn sgd_constructor_rejects_bad_hyperparameters() {
    for lr in [0.0, -0.0, -0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let (name, value) = hyperparameter_error(Sgd::try_new(lr, 0.0));
        assert_eq!(name, "learning_rate");
        assert!(value.to_bits() == lr.to_bits(), "{value} vs {lr}");
    }
    for momentum in [-0.1, 1.0, 1.5, f64::NAN, f64::INFINITY, -f64::MIN_POSITIVE] {
        let (name, _) = hyperparameter_error(Sgd::try_new(0.1, momentum));
        assert_eq!(name, "momentum", "momentum = {momentum}");
    }
    for momentum in [0.0, 0.5, 0.999] {
        let sgd = Sgd::try_new(0.1, momentum).expect("valid");
        assert_eq!((sgd.learning_rate(), sgd.momentum()), (0.1, momentum));
    }
    let err = Sgd::try_new(-0.1, 0.0).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "learning_rate must be positive and finite, got -0.1"
    );
    assert_eq!(
        Sgd::try_new(0.1, 1.0).expect_err("invalid").to_string(),
        "momentum must be in [0, 1), got 1"
    );
    assert_eq!(err.iteration(), None);
}

#[test]
fn adam_constructor_rejects_bad_hyperparameters() {
    let ok = (0.1, 0.9, 0.999, 1e-8);
    for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let r = Adam::try_new(lr, ok.1, ok.2, ok.3);
        assert_eq!(hyperparameter_error(r).0, "learning_rate", "lr = {lr}");
    }
    for beta in [-0.5, 1.0, 2.0, f64::NAN] {
        let r = Adam::try_new(ok.0, beta, ok.2, ok.3);
        assert_eq!(hyperparameter_error(r).0, "beta1", "beta1 = {beta}");
        let r = Adam::try_new(ok.0, ok.1, beta, ok.3);
        assert_eq!(hyperparameter_error(r).0, "beta2", "beta2 = {beta}");
    }
    for eps in [0.0, -1e-8, f64::NAN, f64::INFINITY] {
        let r = Adam::try_new(ok.0, ok.1, ok.2, eps);
        assert_eq!(hyperparameter_error(r).0, "eps", "eps = {eps}");
    }
    let adam = Adam::try_new(0.1, 0.0, 0.0, 1.0).expect("betas may be 0");
    assert_eq!(
        (adam.learning_rate(), adam.beta1(), adam.beta2(), adam.eps()),
        (0.1, 0.0, 0.0, 1.0)
    );
    let adam = Adam::new(0.01);
    assert_eq!(
        (adam.beta1(), adam.beta2(), adam.eps()),
        (0.9, 0.999, 1e-8),
        "defaults"
    );
    assert_eq!(
        Adam::try_new(0.1, 0.9, f64::NAN, 1e-8)
            .expect_err("invalid")
            .to_string(),
        "beta2 must be in [0, 1), got NaN"
    );
}

#[test]
#[should_panic(expected = "learning_rate must be positive and finite, got NaN")]
fn sgd_new_panics_on_nan_learning_rate() {
    let _ = Sgd::new(f64::NAN);
}

#[test]
#[should_panic(expected = "momentum must be in [0, 1), got -0.5")]
fn sgd_with_momentum_panics_on_negative_momentum() {
    let _ = Sgd::new(0.1).with_momentum(-0.5);
}

#[test]
#[should_panic(expected = "beta1 must be in [0, 1), got 1")]
fn adam_with_betas_panics_on_beta_one() {
    let _ = Adam::new(0.1).with_betas(1.0, 0.999);
}

#[test]
#[should_panic(expected = "eps must be positive and finite, got 0")]
fn adam_with_eps_panics_on_zero() {
    let _ = Adam::new(0.1).with_eps(0.0);
}
