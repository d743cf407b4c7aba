//! `grad_log_prob` of `Mvn` and `Mixture` against central finite differences of `log_prob`
//! (through the shared helper in `common`), d in 1..=5, K in 1..=4.

use kl_dist::{LogDensity, Mixture, Mvn, Sample};
use kl_testkit::{check_gradient, mixture, mvn, vector};
use proptest::prelude::*;

fn check_density<D: LogDensity + Sample>(
    what: &str,
    p: &D,
    x: &[f64],
) -> Result<(), TestCaseError> {
    let mut g = vec![0.0; x.len()];
    let lp = p.grad_log_prob(x, &mut g);
    let direct = p.log_prob(x);
    prop_assert!(
        (lp - direct).abs() <= 1e-12 * direct.abs().max(1.0),
        "{what}: grad_log_prob returned {lp}, log_prob is {direct}"
    );
    check_gradient(what, &mut |y| p.log_prob(y), x, &g)
}

fn mvn_case() -> impl Strategy<Value = (Mvn, Vec<f64>)> {
    (1usize..=5).prop_flat_map(|d| (mvn(d), vector(d, 3.0)))
}

fn mixture_case() -> impl Strategy<Value = (Mixture, Vec<f64>)> {
    (1usize..=5, 1usize..=4).prop_flat_map(|(d, k)| (mixture(d, k), vector(d, 3.0)))
}

proptest! {
    #![proptest_config(kl_testkit::config(128, "proptest-regressions/gradients.txt"))]

    #[test]
    fn mvn_score_matches_finite_differences((p, x) in mvn_case()) {
        check_density("Mvn", &p, &x)?;
    }

    #[test]
    fn mixture_score_matches_finite_differences((p, x) in mixture_case()) {
        check_density("Mixture", &p, &x)?;
    }
}
