//! Invariances of PSIS, ESS and the IW-ELBO, by proptest (regressions in
//! `proptest-regressions/properties.txt`).

use kl_diag::{TailFit, ess, iw_elbo, psis, tail_len};
use kl_testkit::config;
use proptest::prelude::*;

/// Log weights: S in [1, 600], each uniform in [-8, 8] or, with probability 1/10, `−inf`
/// (a zero weight), and at least one finite.
fn log_weights() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![9 => -8.0..8.0f64, 1 => Just(f64::NEG_INFINITY)],
        1..600,
    )
    .prop_map(|mut lw| {
        if lw.iter().all(|v| *v == f64::NEG_INFINITY) {
            lw[0] = 0.0;
        }
        lw
    })
}

/// Heavy-tailed log weights (so that most cases are smoothed): `ln w = a · (−ln u)`, u uniform,
/// i.e. Pareto weights with shape a ∈ [0.1, 1.5]; S in [21, 600].
fn heavy_log_weights() -> impl Strategy<Value = Vec<f64>> {
    (0.1..1.5f64, prop::collection::vec(1e-9..1.0f64, 21..600))
        .prop_map(|(a, u)| u.iter().map(|u| -a * u.ln()).collect())
}

/// Log weights drawn from 6 levels: ties everywhere, also in the tail and at the cutoff.
fn tied_log_weights() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(0..6u8, 21..400)
        .prop_map(|v| v.iter().map(|&l| f64::from(l) * 0.7 - 2.0).collect())
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(config(256, "proptest-regressions/properties.txt"))]

    #[test]
    fn smoothed_weights_sum_to_one_and_keep_zero_weights(lw in log_weights()) {
        let result = psis(&lw).expect("valid input");
        let out = result.log_weights();
        let total: f64 = out.iter().map(|v| v.exp()).sum();
        prop_assert!((total - 1.0).abs() < 1e-12, "Σ w = {total}");
        for (i, (&o, &raw)) in out.iter().zip(&lw).enumerate() {
            prop_assert!(!o.is_nan(), "entry {i} is NaN");
            prop_assert_eq!(o == f64::NEG_INFINITY, raw == f64::NEG_INFINITY, "entry {}", i);
            prop_assert!(o <= 1e-15, "entry {i}: log weight {o} > 0");
        }
        prop_assert!(!result.pareto_k().is_nan());
        prop_assert!(result.fit().n_tail <= tail_len(lw.len()));
    }

    #[test]
    fn pareto_k_and_weights_are_shift_invariant(lw in heavy_log_weights(), c in -1e3..1e3f64) {
        let a = psis(&lw).expect("valid input");
        let shifted: Vec<f64> = lw.iter().map(|v| v + c).collect();
        let b = psis(&shifted).expect("valid input");
        // Shifting by c rounds each log weight by up to ulp(c) ≈ 1e-13.
        prop_assert!(close(a.pareto_k(), b.pareto_k(), 1e-8), "k̂ {} vs {}", a.pareto_k(), b.pareto_k());
        for (i, (x, y)) in a.log_weights().iter().zip(b.log_weights()).enumerate() {
            prop_assert!(close(*x, *y, 1e-8), "entry {i}: {x} vs {y}");
        }
        prop_assert!(close(ess(&lw).expect("valid"), ess(&shifted).expect("valid"), 1e-9));
        let elbo_diff = iw_elbo(&shifted).expect("valid") - iw_elbo(&lw).expect("valid");
        prop_assert!((elbo_diff - c).abs() <= 1e-9 * c.abs().max(1.0));
    }

    #[test]
    fn pareto_k_and_weights_are_permutation_invariant(
        (lw, perm) in heavy_log_weights().prop_flat_map(|lw| {
            let idx: Vec<usize> = (0..lw.len()).collect();
            (Just(lw), Just(idx).prop_shuffle())
        })
    ) {
        let a = psis(&lw).expect("valid input");
        let permuted: Vec<f64> = perm.iter().map(|&i| lw[i]).collect();
        let b = psis(&permuted).expect("valid input");
        // The fit sees the tail sorted, so k̂ is bit-identical; only the final log-sum-exp
        // sums in a different order.
        prop_assert_eq!(a.pareto_k().to_bits(), b.pareto_k().to_bits());
        for (j, &i) in perm.iter().enumerate() {
            let (x, y) = (a.log_weights()[i], b.log_weights()[j]);
            prop_assert!(close(x, y, 1e-12), "input {i} → {j}: {x} vs {y}");
        }
    }

    #[test]
    fn with_ties_permutation_permutes_the_multiset(
        (lw, perm) in tied_log_weights().prop_flat_map(|lw| {
            let idx: Vec<usize> = (0..lw.len()).collect();
            (Just(lw), Just(idx).prop_shuffle())
        })
    ) {
        let a = psis(&lw).expect("valid input");
        let permuted: Vec<f64> = perm.iter().map(|&i| lw[i]).collect();
        let b = psis(&permuted).expect("valid input");
        prop_assert_eq!(a.pareto_k().to_bits(), b.pareto_k().to_bits());
        let (sa, sb) = (sorted(a.log_weights().to_vec()), sorted(b.log_weights().to_vec()));
        for (x, y) in sa.iter().zip(&sb) {
            prop_assert!(close(*x, *y, 1e-12), "{x} vs {y}");
        }
    }

    #[test]
    fn body_keeps_its_raw_relative_weights_and_the_tail_is_truncated(lw in heavy_log_weights()) {
        let result = psis(&lw).expect("valid input");
        let out = result.log_weights();
        let s = lw.len();
        let m = tail_len(s);
        // The draws of rank ≤ S − M − 1 (ascending) are never in the tail.
        let mut order: Vec<usize> = (0..s).collect();
        order.sort_by(|&i, &j| lw[i].total_cmp(&lw[j]));
        let body = &order[..s - m];
        let offset = out[body[0]] - lw[body[0]];
        for &i in body {
            prop_assert!(close(out[i] - lw[i], offset, 1e-12), "body entry {i}");
        }
        if matches!(result.fit().tail, TailFit::Smoothed { .. }) {
            let max = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for (i, &o) in out.iter().enumerate() {
                prop_assert!(o - offset <= max + 1e-12, "entry {i} above the largest raw weight");
            }
        }
    }

    #[test]
    fn ess_is_between_one_and_s_and_iw_elbo_between_mean_and_max(lw in log_weights()) {
        let e = ess(&lw).expect("valid input");
        let s = lw.len() as f64;
        prop_assert!((1.0 - 1e-12..=s * (1.0 + 1e-12)).contains(&e), "ESS {e} of {s}");
        // ln mean w ≤ max ln w and ≥ max ln w − ln S.
        let v = iw_elbo(&lw).expect("valid input");
        let max = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(v <= max + 1e-12 && v >= max - s.ln() - 1e-12, "IW-ELBO {v}, max {max}");
    }
}
