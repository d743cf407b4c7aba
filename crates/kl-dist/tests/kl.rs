//! The closed-form `kl_divergence`: zero at equality, the 1-D textbook formula, and a 10⁵-sample
//! Monte Carlo estimate of E_p[log p − log q] within 4 standard errors.

use kl_dist::{Error, LogDensity, Mvn, Sample, kl_divergence};
use kl_testkit::{assert_close, fixed_spd, mvn};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;

#[test]
fn zero_at_equality_whatever_the_parameterization() {
    for d in [1, 2, 3, 5, 9] {
        let mean: Vec<f64> = (0..d).map(|i| 0.3 * i as f64 - 1.0).collect();
        let cov = fixed_spd(d, 1.0);
        let p = Mvn::new(&mean, &cov).expect("valid");
        // Zero up to rounding: the trace term is d computed as a sum of squares.
        let self_kl = kl_divergence(&p, &p).expect("same d");
        assert!(self_kl.abs() < 1e-14, "d = {d}: D(p ‖ p) = {self_kl}");
        // The same normal from a full (non-triangular) factor: C Q with Q a Householder reflection.
        let c = p.cholesky().factor();
        let v: Vec<f64> = (0..d).map(|i| 1.0 + i as f64).collect();
        let vv: f64 = v.iter().map(|x| x * x).sum();
        let mut l = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                l[i * d + j] = (0..d)
                    .map(|k| {
                        let q = if k == j { 1.0 } else { 0.0 } - 2.0 * v[k] * v[j] / vv;
                        c[i * d + k] * q
                    })
                    .sum();
            }
        }
        let q = Mvn::from_factor(&mean, &l).expect("valid");
        for kl in [kl_divergence(&p, &q), kl_divergence(&q, &p)] {
            assert!(kl.expect("same d").abs() < 1e-12, "d = {d}");
        }
        // A shifted mean is not equal.
        let mut m2 = mean.clone();
        m2[0] += 0.1;
        let r = Mvn::new(&m2, &cov).expect("valid");
        assert!(kl_divergence(&p, &r).expect("same d") > 1e-4);
    }
}

#[test]
fn one_dimensional_matches_the_textbook_formula() {
    // D(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) = ln(σ₂/σ₁) + (σ₁² + (μ₁ − μ₂)²) / (2σ₂²) − ½.
    for (m1, s1, m2, s2) in [
        (0.0, 1.0, 1.0, 2.0),
        (3.0, 0.5, -1.0, 0.7),
        (0.0, 2.0, 0.0, 1.0),
    ] {
        let p = Mvn::new(&[m1], &[s1 * s1]).expect("valid");
        let q = Mvn::new(&[m2], &[s2 * s2]).expect("valid");
        let want = (s2 / s1).ln() + (s1 * s1 + (m1 - m2) * (m1 - m2)) / (2.0 * s2 * s2) - 0.5;
        assert_close(
            kl_divergence(&p, &q).expect("same d"),
            want,
            1e-14,
            "1-D KL",
        );
    }
}

#[test]
fn equals_a_monte_carlo_estimate_within_four_standard_errors() {
    let n = 100_000;
    let cases = [
        (
            Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]),
            Mvn::new(&[-0.5, 0.5], &[2.0, 0.3, 0.3, 0.5]),
        ),
        (
            Mvn::new(
                &[0.1, -0.2, 0.3],
                &[1.5, 0.4, -0.2, 0.4, 1.0, 0.3, -0.2, 0.3, 0.8],
            ),
            Mvn::new(&[0.0, 0.0, 0.0], &fixed_spd(3, 4.0)),
        ),
    ];
    for (seed, (p, q)) in cases.into_iter().enumerate() {
        let (p, q) = (p.expect("valid"), q.expect("valid"));
        let d = p.dim();
        let mut rng = Pcg64::seed_from_u64(seed as u64);
        let mut xs = vec![0.0; n * d];
        p.sample(&mut rng, &mut xs);
        let (mut lp, mut lq) = (vec![0.0; n], vec![0.0; n]);
        p.log_prob_batch(&xs, &mut lp);
        q.log_prob_batch(&xs, &mut lq);
        let diffs: Vec<f64> = lp.iter().zip(&lq).map(|(a, b)| a - b).collect();
        let mean = diffs.iter().sum::<f64>() / n as f64;
        let var = diffs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (var / n as f64).sqrt();
        let kl = kl_divergence(&p, &q).expect("same d");
        assert!(
            (kl - mean).abs() <= 4.0 * se,
            "D(p ‖ q), d = {d}: closed form {kl} vs Monte Carlo {mean} ± {se}"
        );
        // And the argument order matters: D(q ‖ p) is a different number here.
        let back = kl_divergence(&q, &p).expect("same d");
        assert!(
            (back - mean).abs() > 10.0 * se,
            "D(q ‖ p) = {back} should differ from {mean}"
        );
    }
}

#[test]
fn dimension_mismatch_is_an_error() {
    let p = Mvn::new(&[0.0], &[1.0]).expect("valid");
    let q = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).expect("valid");
    assert_eq!(
        kl_divergence(&p, &q),
        Err(Error::DimensionMismatch {
            what: "second normal",
            expected: 1,
            got: 2
        })
    );
}

proptest! {
    #![proptest_config(kl_testkit::config(64, "proptest-regressions/kl.txt"))]

    /// Gibbs' inequality, and zero at equality, for random normals.
    #[test]
    fn nonnegative_and_zero_only_at_equality(
        (p, q) in (1usize..=5).prop_flat_map(|d| (mvn(d), mvn(d)))
    ) {
        let kl = kl_divergence(&p, &q).expect("same d");
        prop_assert!(kl > 0.0, "D(p ‖ q) = {kl}");
        prop_assert!(kl_divergence(&p, &p).expect("same d").abs() < 1e-12);
    }
}
