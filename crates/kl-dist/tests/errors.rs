//! Every construction error of `kl-dist`, asserted by variant and by what it reports.

use kl_dist::{Error, Mixture, Mvn, density_grid};

fn eye(d: usize) -> Vec<f64> {
    (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { 0.0 })
        .collect()
}

#[test]
fn empty_mean_is_a_zero_dimension() {
    assert_eq!(
        Mvn::new(&[], &[]),
        Err(Error::ZeroDimension { what: "mean" })
    );
    assert_eq!(
        Mvn::from_factor(&[], &[]),
        Err(Error::ZeroDimension { what: "mean" })
    );
}

#[test]
fn dimension_mismatch_names_the_argument_and_both_sizes() {
    assert_eq!(
        Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 1.0]),
        Err(Error::DimensionMismatch {
            what: "covariance",
            expected: 4,
            got: 3
        })
    );
    assert_eq!(
        Mvn::from_factor(&[0.0, 0.0, 0.0], &eye(2)),
        Err(Error::DimensionMismatch {
            what: "factor L",
            expected: 9,
            got: 4
        })
    );
    let e = Mvn::new(&[0.0], &[1.0, 0.0]).expect_err("wrong size");
    assert_eq!(e.to_string(), "covariance has 2 entries, expected 1");
}

#[test]
fn non_finite_entries_are_located() {
    assert_eq!(
        Mvn::new(&[0.0, f64::INFINITY], &eye(2)),
        Err(Error::NonFinite {
            what: "mean",
            index: 1,
            value: f64::INFINITY
        })
    );
    let mut cov = eye(3);
    cov[5] = f64::NEG_INFINITY;
    assert_eq!(
        Mvn::new(&[0.0; 3], &cov),
        Err(Error::NonFinite {
            what: "covariance",
            index: 5,
            value: f64::NEG_INFINITY
        })
    );
    // NaN ≠ NaN, so match the variant.
    cov[5] = 0.0;
    cov[7] = f64::NAN;
    match Mvn::new(&[0.0; 3], &cov) {
        Err(Error::NonFinite {
            what: "covariance",
            index: 7,
            value,
        }) => assert!(value.is_nan()),
        other => panic!("expected NonFinite at covariance[7], got {other:?}"),
    }
    match Mvn::from_factor(&[f64::NAN, 0.0], &eye(2)) {
        Err(Error::NonFinite {
            what: "mean",
            index: 0,
            value,
        }) => assert!(value.is_nan()),
        other => panic!("expected NonFinite at mean[0], got {other:?}"),
    }
    let mut l = eye(2);
    l[2] = f64::INFINITY;
    assert_eq!(
        Mvn::from_factor(&[0.0, 0.0], &l),
        Err(Error::NonFinite {
            what: "factor L",
            index: 2,
            value: f64::INFINITY
        })
    );
}

#[test]
fn asymmetry_beyond_the_relative_tolerance_names_the_entries() {
    // cov[0][2] = 0.3 but cov[2][0] = 0.31.
    let cov = [2.0, 0.1, 0.3, 0.1, 2.0, 0.0, 0.31, 0.0, 2.0];
    assert_eq!(
        Mvn::new(&[0.0; 3], &cov),
        Err(Error::Asymmetric {
            row: 0,
            col: 2,
            upper: 0.3,
            lower: 0.31
        })
    );
    let e = Mvn::new(&[0.0; 3], &cov).expect_err("asymmetric");
    assert!(e.to_string().contains("cov[0][2] = 0.3"), "{e}");
    assert!(e.to_string().contains("cov[2][0] = 0.31"), "{e}");
    // 1e-8 relative is beyond the tolerance (1e-9); 1e-12 relative is within it and accepted.
    let beyond = [1.0, 0.5, 0.5 * (1.0 + 1e-8), 1.0];
    assert!(matches!(
        Mvn::new(&[0.0; 2], &beyond),
        Err(Error::Asymmetric { row: 0, col: 1, .. })
    ));
    let within = [1.0, 0.5, 0.5 * (1.0 + 1e-12), 1.0];
    let p = Mvn::new(&[0.0; 2], &within).expect("within tolerance");
    let c = p.covariance();
    assert_eq!(c[1], c[2], "the stored covariance is exactly symmetric");
    // Tiny entries: the tolerance is relative, so 1e-300 vs 2e-300 is asymmetric.
    let tiny = [1.0, 1e-300, 2e-300, 1.0];
    assert!(matches!(
        Mvn::new(&[0.0; 2], &tiny),
        Err(Error::Asymmetric { .. })
    ));
}

#[test]
fn not_positive_definite_names_the_failing_pivot() {
    assert_eq!(
        Mvn::new(&[0.0; 2], &[-1.0, 0.0, 0.0, 1.0]),
        Err(Error::NotPositiveDefinite { pivot: 0 })
    );
    assert_eq!(
        Mvn::new(&[0.0; 2], &[1.0, 2.0, 2.0, 1.0]),
        Err(Error::NotPositiveDefinite { pivot: 1 })
    );
    // Singular (positive semidefinite) is not positive definite: [[4, 2], [2, 1]] has pivot 1 = 0.
    assert_eq!(
        Mvn::new(&[0.0; 2], &[4.0, 2.0, 2.0, 1.0]),
        Err(Error::NotPositiveDefinite { pivot: 1 })
    );
    // Leading 2 × 2 block is the identity; the third pivot is 1 − 0.9² − 0.9² < 0.
    let cov = [1.0, 0.0, 0.9, 0.0, 1.0, 0.9, 0.9, 0.9, 1.0];
    assert_eq!(
        Mvn::new(&[0.0; 3], &cov),
        Err(Error::NotPositiveDefinite { pivot: 2 })
    );
    // d = 10 goes through faer: make the 7th diagonal entry negative.
    let d = 10;
    let mut cov = eye(d);
    cov[6 * d + 6] = -1.0;
    assert_eq!(
        Mvn::new(&vec![0.0; d], &cov),
        Err(Error::NotPositiveDefinite { pivot: 6 })
    );
    let zero = Mvn::new(&[0.0], &[0.0]);
    assert_eq!(zero, Err(Error::NotPositiveDefinite { pivot: 0 }));
}

#[test]
fn a_singular_factor_names_the_failing_pivot() {
    // A zero row: L Lᵀ has a zero second pivot.
    assert_eq!(
        Mvn::from_factor(&[0.0; 2], &[1.0, 0.5, 0.0, 0.0]),
        Err(Error::SingularFactor { pivot: 1 })
    );
    // Equal rows (3, 4): L Lᵀ = 25·[[1, 1], [1, 1]], second pivot exactly 0.
    assert_eq!(
        Mvn::from_factor(&[0.0; 2], &[3.0, 4.0, 3.0, 4.0]),
        Err(Error::SingularFactor { pivot: 1 })
    );
    // The zero matrix fails at once; in 3-D a zero third column-and-row fails at pivot 2.
    assert_eq!(
        Mvn::from_factor(&[0.0; 2], &[0.0; 4]),
        Err(Error::SingularFactor { pivot: 0 })
    );
    assert_eq!(
        Mvn::from_factor(&[0.0; 3], &[1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]),
        Err(Error::SingularFactor { pivot: 2 })
    );
    // A non-triangular, non-singular factor is fine, and a negative diagonal too.
    assert!(Mvn::from_factor(&[0.0; 2], &[0.0, 1.0, -1.0, 0.0]).is_ok());
}

fn unit(d: usize) -> Mvn {
    Mvn::new(&vec![0.0; d], &eye(d)).expect("valid")
}

#[test]
fn mixture_errors() {
    assert_eq!(Mixture::new(&[], vec![]), Err(Error::NoComponents));
    assert_eq!(
        Mixture::new(&[0.5, 0.5], vec![unit(1)]),
        Err(Error::WeightCount {
            weights: 2,
            components: 1
        })
    );
    assert_eq!(
        Mixture::new(&[0.2, 0.3, 0.5], vec![unit(2), unit(2), unit(3)]),
        Err(Error::ComponentDimension {
            index: 2,
            expected: 2,
            got: 3
        })
    );
    assert_eq!(
        Mixture::new(&[0.5, -0.1, 0.6], vec![unit(1), unit(1), unit(1)]),
        Err(Error::BadWeight {
            index: 1,
            value: -0.1
        })
    );
    match Mixture::new(&[0.5, 0.5, f64::NAN], vec![unit(1), unit(1), unit(1)]) {
        Err(Error::BadWeight { index: 2, value }) => assert!(value.is_nan()),
        other => panic!("expected BadWeight at 2, got {other:?}"),
    }
    assert_eq!(
        Mixture::new(&[f64::INFINITY, 0.0], vec![unit(1), unit(1)]),
        Err(Error::NonFinite {
            what: "weights",
            index: 0,
            value: f64::INFINITY
        })
    );
    match Mixture::new(&[0.5, 0.4], vec![unit(1), unit(1)]) {
        Err(Error::WeightsSum { sum }) => assert!((sum - 0.9).abs() < 1e-15, "sum {sum}"),
        other => panic!("expected WeightsSum, got {other:?}"),
    }
    match Mixture::new(&[0.7, 0.4], vec![unit(1), unit(1)]) {
        Err(Error::WeightsSum { sum }) => assert!((sum - 1.1).abs() < 1e-15, "sum {sum}"),
        other => panic!("expected WeightsSum, got {other:?}"),
    }
    // Within 1e-6 of 1 is accepted and renormalized; a zero weight is allowed.
    let m = Mixture::new(&[0.3, 0.7 + 5e-7, 0.0], vec![unit(1), unit(1), unit(1)])
        .expect("close enough to 1");
    let s: f64 = m.weights().iter().sum();
    assert!((s - 1.0).abs() <= 1e-15, "renormalized sum {s}");
    for x in [-30.0, 0.0, 30.0] {
        // All components are N(0, 1), so the mixture is too.
        let want = -0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * x * x;
        let got = kl_dist::LogDensity::log_prob(&m, &[x]);
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
}

#[test]
fn a_bad_component_is_reported_with_its_index() {
    let err = Mixture::from_parameters(
        &[0.5, 0.5],
        &[
            (vec![0.0], vec![1.0]),
            (vec![0.0, 0.0], vec![1.0, 3.0, 3.0, 1.0]),
        ],
    )
    .expect_err("component 1 is not positive definite");
    assert_eq!(
        err,
        Error::Component {
            index: 1,
            source: Box::new(Error::NotPositiveDefinite { pivot: 1 })
        }
    );
    let source = std::error::Error::source(&err).expect("has a source");
    assert!(source.to_string().contains("pivot 1"), "{source}");
}

#[test]
fn grid_errors() {
    let p2 = unit(2);
    let mut out = vec![0.0; 12];
    assert_eq!(
        density_grid(&unit(3), [0.0, 1.0, 0.0, 1.0], 4, 3, &mut out),
        Err(Error::NotTwoDimensional { got: 3 })
    );
    assert_eq!(
        density_grid(&p2, [1.0, 1.0, 0.0, 1.0], 4, 3, &mut out),
        Err(Error::BadExtent {
            axis: "x",
            min: 1.0,
            max: 1.0
        })
    );
    assert_eq!(
        density_grid(&p2, [0.0, 1.0, 2.0, -2.0], 4, 3, &mut out),
        Err(Error::BadExtent {
            axis: "y",
            min: 2.0,
            max: -2.0
        })
    );
    assert_eq!(
        density_grid(&p2, [0.0, f64::INFINITY, 0.0, 1.0], 4, 3, &mut out),
        Err(Error::BadExtent {
            axis: "x",
            min: 0.0,
            max: f64::INFINITY
        })
    );
    assert!(matches!(
        density_grid(&p2, [0.0, 1.0, f64::NAN, 1.0], 4, 3, &mut out),
        Err(Error::BadExtent { axis: "y", .. })
    ));
    assert_eq!(
        density_grid(&p2, [0.0, 1.0, 0.0, 1.0], 5, 3, &mut out),
        Err(Error::DimensionMismatch {
            what: "grid buffer",
            expected: 15,
            got: 12
        })
    );
}

mod rank_deficient {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(kl_testkit::config(96, "proptest-regressions/errors.txt"))]

        /// A factor whose last row is a combination of the others is singular; in floating point
        /// the last pivot of L Lᵀ is rounding noise of either sign, which must not pass for a
        /// positive pivot. Rows 0..d−1 are I + small noise (well conditioned); d up to 10 covers
        /// the faer path (d > 8).
        #[test]
        fn a_rank_deficient_factor_is_singular(
            (d, noise, c) in (2usize..=10).prop_flat_map(|d| (
                Just(d),
                prop::collection::vec(-0.3..0.3f64, d * d),
                prop::collection::vec(-1.0..1.0f64, d - 1),
            ))
        ) {
            let mut l: Vec<f64> = noise
                .iter()
                .enumerate()
                .map(|(k, v)| if k / d == k % d { 1.0 } else { *v })
                .collect();
            for j in 0..d {
                l[(d - 1) * d + j] = (0..d - 1).map(|i| c[i] * l[i * d + j]).sum();
            }
            let r = Mvn::from_factor(&vec![0.0; d], &l);
            prop_assert_eq!(r, Err(Error::SingularFactor { pivot: d - 1 }));
        }
    }
}
