//! Property tests on random convex quadratics.

use kl_opt::{Adam, Sgd, minimize};
use kl_testkit::quadratic;
use proptest::prelude::*;
use std::convert::Infallible;

/// (a, c, θ₀) for f(θ) = ½ Σ aᵢ (θᵢ − cᵢ)², with 1 to 6 coordinates.
fn quadratic_problem() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
    (1_usize..=6).prop_flat_map(|d| {
        (
            prop::collection::vec(0.05_f64..20.0, d),
            prop::collection::vec(-5.0_f64..5.0, d),
            prop::collection::vec(-5.0_f64..5.0, d),
        )
    })
}

proptest! {
    #[test]
    fn sgd_with_stable_learning_rate_decreases_loss_monotonically(
        (a, c, theta0) in quadratic_problem(),
        fraction in 0.01_f64..0.99,
    ) {
        // lr < 2/max(a) ⇒ |1 − lr·aᵢ| < 1 for every i: each term shrinks by (1 − lr·aᵢ)².
        let max_a = a.iter().copied().fold(0.0_f64, f64::max);
        let lr = fraction * 2.0 / max_a;
        let records = minimize(&theta0, &mut Sgd::new(lr), 100, |_, theta, grad| {
            Ok::<_, Infallible>(quadratic(&a, &c, theta, grad))
        });
        let records = match records {
            Ok(r) => r,
            Err(e) => return Err(TestCaseError::fail(format!("diverged: {e}"))),
        };
        prop_assert_eq!(records.len(), 101);
        for pair in records.windows(2) {
            // Slack only at the rounding floor (|θ − c| ~ ulp(c) ⇒ loss ~ 1e-29).
            prop_assert!(
                pair[1].loss <= pair[0].loss + 1e-24,
                "loss rose from {} to {} at iteration {}",
                pair[0].loss, pair[1].loss, pair[1].iteration
            );
        }
    }

    #[test]
    fn sgd_with_too_large_learning_rate_increases_loss(
        (a, c, theta0) in quadratic_problem(),
        excess in 1.05_f64..3.0,
    ) {
        // Counterpart of the above: lr > 2/aᵢ for the stiffest coordinate makes that term grow
        // by (1 − lr·aᵢ)² > 1 per step, so the loss eventually increases.
        let (i_max, max_a) = a.iter().copied().enumerate()
            .fold((0, 0.0_f64), |(bi, ba), (i, x)| if x > ba { (i, x) } else { (bi, ba) });
        prop_assume!((theta0[i_max] - c[i_max]).abs() > 1e-3);
        let lr = excess * 2.0 / max_a;
        let result = minimize(&theta0, &mut Sgd::new(lr), 200, |_, theta, grad| {
            Ok::<_, Infallible>(quadratic(&a, &c, theta, grad))
        });
        match result {
            Ok(records) => {
                let first = records[0].loss;
                let last = records[200].loss;
                prop_assert!(last > first, "loss went from {} to {}", first, last);
            }
            // Or it overflowed, which must be reported at some iteration ≥ 1.
            Err(e) => prop_assert!(e.iteration().is_some_and(|k| k >= 1), "{}", e),
        }
    }

    #[test]
    fn adam_ends_near_minimum_of_random_quadratic(
        (a, c, theta0) in quadratic_problem(),
    ) {
        // With a constant learning rate Adam need not converge exactly: near the minimum it can
        // settle into a small oscillation whose amplitude scales with lr (each step moves a
        // coordinate by about lr at most). So the claim is "within lr of the minimum".
        let lr = 0.05;
        let records = minimize(&theta0, &mut Adam::new(lr), 3000, |_, theta, grad| {
            Ok::<_, Infallible>(quadratic(&a, &c, theta, grad))
        });
        let records = match records {
            Ok(r) => r,
            Err(e) => return Err(TestCaseError::fail(format!("diverged: {e}"))),
        };
        let last = &records[3000];
        for (i, (&t, &ci)) in last.theta.iter().zip(&c).enumerate() {
            prop_assert!((t - ci).abs() < lr, "θ[{}] = {} vs c = {}", i, t, ci);
        }
    }
}
