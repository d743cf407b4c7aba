//! The hand-written Cholesky (used for d ≤ 8) against faer's, and the `Cholesky` solves against
//! the matrix they invert.

use kl_dist::bench::{cholesky_hand_written, cholesky_with_faer};
use kl_dist::dense::{Cholesky, matmul};
use kl_testkit::spd;
use proptest::prelude::*;

fn dim_and_spd() -> impl Strategy<Value = (usize, Vec<f64>)> {
    (1usize..=8).prop_flat_map(|d| (Just(d), spd(d)))
}

proptest! {
    #![proptest_config(kl_testkit::config(128, "proptest-regressions/cholesky.txt"))]

    #[test]
    fn hand_written_agrees_with_faer((d, a) in dim_and_spd()) {
        let hand = cholesky_hand_written(&a, d).expect("SPD");
        let faer = cholesky_with_faer(&a, d).expect("SPD");
        // Both are the unique factor with a positive diagonal; entries of row i are bounded by
        // sqrt(aᵢᵢ), so compare on that scale.
        for i in 0..d {
            let scale = a[i * d + i].sqrt();
            for j in 0..d {
                let (h, f) = (hand[i * d + j], faer[i * d + j]);
                prop_assert!((h - f).abs() <= 1e-12 * scale, "C[{i}][{j}]: {h} vs faer {f}");
                if j > i {
                    prop_assert!(h == 0.0 && f == 0.0, "upper triangle must be zero");
                }
            }
            prop_assert!(hand[i * d + i] > 0.0);
        }
    }

    /// A matrix made indefinite at pivot k (the leading k × k block untouched) fails at k in both.
    #[test]
    fn both_report_the_same_failing_pivot(((d, a), k) in dim_and_spd().prop_flat_map(|(d, a)| (Just((d, a)), 0..d))) {
        let mut b = a.clone();
        // Subtract more than the whole diagonal entry: the k-th pivot is aₖₖ − ‖Cₖ,₀..ₖ‖² < 0.
        b[k * d + k] = -1.0;
        prop_assert_eq!(cholesky_hand_written(&b, d), Err(k));
        prop_assert_eq!(cholesky_with_faer(&b, d), Err(k));
    }

    #[test]
    fn solves_invert_the_matrix((d, a) in (1usize..=12).prop_flat_map(|d| (Just(d), spd(d))), seed in 0u32..1000) {
        let c = Cholesky::new(&a, d).expect("SPD");
        let mut back = vec![0.0; d * d];
        c.reconstruct(&mut back);
        for (x, y) in a.iter().zip(&back) {
            prop_assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs()));
        }
        let b: Vec<f64> = (0..d).map(|i| (seed as f64 + 1.7 * i as f64).sin()).collect();
        let mut x = b.clone();
        c.solve(&mut x);
        let mut ax = vec![0.0; d];
        matmul(&a, &x, d, d, 1, &mut ax);
        for (u, v) in ax.iter().zip(&b) {
            prop_assert!((u - v).abs() <= 1e-10, "A A⁻¹ b = {u}, b = {v}");
        }
        // log det A against the product of the pivots of the other implementation.
        let f = cholesky_with_faer(&a, d).expect("SPD");
        let ld: f64 = (0..d).map(|i| 2.0 * f[i * d + i].ln()).sum();
        prop_assert!((c.log_det() - ld).abs() <= 1e-12 * (1.0 + ld.abs()));
    }
}
