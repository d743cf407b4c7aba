//! The logistic regression posterior: against a naive per-row formula, finite differences,
//! hand-computed standardization, and scipy/numpy reference values on an excerpt of the breast
//! cancer data (`fixtures/logistic_reference.py` wrote both fixtures).

use kl_dist::dense::set_threads;
use kl_dist::{AnyDensity, Error, LogDensity, LogisticOptions, LogisticRegression};
use kl_testkit::{assert_close, check_gradient, config, vector};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

const EXCERPT: &str = include_str!("fixtures/breast_cancer_excerpt.csv");
const REFERENCE: &str = include_str!("fixtures/logistic_reference.txt");

/// (features row-major, k, labels) of the committed excerpt.
fn excerpt() -> (Vec<f64>, usize, Vec<f64>) {
    let mut lines = EXCERPT.lines();
    let k = lines.next().expect("header").split(',').count() - 1;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let v: Vec<f64> = line
            .split(',')
            .map(|s| s.trim().parse().expect("a number"))
            .collect();
        x.extend_from_slice(&v[..k]);
        y.push(v[k]);
    }
    (x, k, y)
}

fn reference(key: &str) -> Vec<f64> {
    REFERENCE
        .lines()
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(key))
                .then(|| parts.map(|s| s.parse().expect("a number")).collect())
        })
        .unwrap_or_else(|| panic!("no {key} in the reference"))
}

/// Seeded synthetic data: n rows of k features ~ N(0, 1)·scale + shift, labels from a logistic
/// model with coefficients 0.8, −0.5, ….
fn synthetic(n: usize, k: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut x = vec![0.0; n * k];
    let mut y = vec![0.0; n];
    for (row, yi) in x.chunks_exact_mut(k).zip(y.iter_mut()) {
        let mut eta = 0.3;
        for (j, v) in row.iter_mut().enumerate() {
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            *v = 2.0 * z + j as f64;
            eta += if j % 2 == 0 { 0.8 } else { -0.5 } * z;
        }
        let u: f64 = rng.random();
        *yi = if u < 1.0 / (1.0 + (-eta).exp()) {
            1.0
        } else {
            0.0
        };
    }
    (x, y)
}

/// The naive formula, row by row, written independently of the crate: design row
/// [1, (x − m)/s], η = row·β, log p̃ = Σ [y η − ln(1 + e^η)] − ‖β‖²/2s², and its gradient.
fn naive(x: &[f64], k: usize, y: &[f64], s: f64, beta: &[f64]) -> (f64, Vec<f64>) {
    let n = y.len();
    let mean: Vec<f64> = (0..k)
        .map(|j| (0..n).map(|i| x[i * k + j]).sum::<f64>() / n as f64)
        .collect();
    let sd: Vec<f64> = (0..k)
        .map(|j| {
            ((0..n)
                .map(|i| (x[i * k + j] - mean[j]).powi(2))
                .sum::<f64>()
                / n as f64)
                .sqrt()
        })
        .collect();
    let mut lp = -beta.iter().map(|b| b * b).sum::<f64>() / (2.0 * s * s);
    let mut g: Vec<f64> = beta.iter().map(|b| -b / (s * s)).collect();
    for i in 0..n {
        let mut row = vec![1.0];
        row.extend((0..k).map(|j| (x[i * k + j] - mean[j]) / sd[j]));
        let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
        lp += y[i] * eta - (1.0 + eta.exp()).ln();
        let p = 1.0 / (1.0 + (-eta).exp());
        for (gj, r) in g.iter_mut().zip(&row) {
            *gj += (y[i] - p) * r;
        }
    }
    (lp, g)
}

fn options(s: f64) -> LogisticOptions {
    LogisticOptions {
        prior_scale: s,
        ..LogisticOptions::default()
    }
}

proptest! {
    #![proptest_config(config(48, "proptest-regressions/logistic.txt"))]

    #[test]
    fn log_density_and_score_match_the_naive_formula(
        beta in vector(4, 1.5),
        s in 0.3..5.0f64,
        seed in 0u64..1000,
    ) {
        let (x, y) = synthetic(60, 3, seed);
        let post = LogisticRegression::new(&x, 3, &y, options(s)).expect("valid");
        let (want_lp, want_g) = naive(&x, 3, &y, s, &beta);
        let mut g = vec![0.0; 4];
        let lp = post.grad_log_prob(&beta, &mut g);
        prop_assert!((lp - want_lp).abs() <= 1e-10 * want_lp.abs().max(1.0), "{lp} vs {want_lp}");
        prop_assert!((post.log_prob(&beta) - want_lp).abs() <= 1e-10 * want_lp.abs().max(1.0));
        for (a, b) in g.iter().zip(&want_g) {
            prop_assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{g:?} vs {want_g:?}");
        }
        check_gradient("logistic", &mut |b| post.log_prob(b), &beta, &g)?;
    }

    #[test]
    fn score_without_intercept_or_standardization(beta in vector(3, 1.0), seed in 0u64..1000) {
        let (x, y) = synthetic(40, 3, seed);
        let opts = LogisticOptions { prior_scale: 2.0, intercept: false, standardize: false };
        let post = LogisticRegression::new(&x, 3, &y, opts).expect("valid");
        prop_assert_eq!(post.dim(), 3);
        prop_assert_eq!(post.design(), &x[..]);
        let mut g = vec![0.0; 3];
        post.grad_log_prob(&beta, &mut g);
        check_gradient("logistic (raw)", &mut |b| post.log_prob(b), &beta, &g)?;
    }
}

#[test]
fn standardization_by_hand() {
    // Column 0: 1, 2, 3, 4 → mean 2.5, population sd √1.25. Column 1: 10, 10, 10, 14 → mean 11,
    // sd √3.
    let x = [1.0, 10.0, 2.0, 10.0, 3.0, 10.0, 4.0, 14.0];
    let y = [0.0, 1.0, 0.0, 1.0];
    let post = LogisticRegression::new(&x, 2, &y, LogisticOptions::default()).expect("valid");
    assert_eq!(post.feature_means(), Some(&[2.5, 11.0][..]));
    let sds = post.feature_sds().expect("standardized");
    assert_close(sds[0], 1.25f64.sqrt(), 1e-15, "sd 0");
    assert_close(sds[1], 3f64.sqrt(), 1e-15, "sd 1");
    let d = post.design();
    assert_eq!(post.dim(), 3);
    for (i, row) in d.chunks_exact(3).enumerate() {
        assert_eq!(row[0], 1.0);
        assert_close(row[1], (x[2 * i] - 2.5) / 1.25f64.sqrt(), 1e-15, "z 0");
        assert_close(row[2], (x[2 * i + 1] - 11.0) / 3f64.sqrt(), 1e-15, "z 1");
    }
    let raw = LogisticOptions {
        standardize: false,
        ..LogisticOptions::default()
    };
    let post = LogisticRegression::new(&x, 2, &y, raw).expect("valid");
    assert_eq!((post.feature_means(), post.feature_sds()), (None, None));
}

#[test]
fn matches_scipy_on_the_breast_cancer_excerpt() {
    let (x, k, y) = excerpt();
    assert_eq!((y.len(), k), (reference("n_rows")[0] as usize, 4));
    let post =
        LogisticRegression::new(&x, k, &y, options(reference("prior_scale")[0])).expect("valid");
    for (a, b) in post
        .feature_means()
        .expect("standardized")
        .iter()
        .zip(reference("feature_means"))
    {
        assert_close(*a, b, 1e-14, "feature mean");
    }
    for (a, b) in post
        .feature_sds()
        .expect("standardized")
        .iter()
        .zip(reference("feature_sds"))
    {
        assert_close(*a, b, 1e-13, "feature sd");
    }
    assert_close(
        post.log_prob(&[0.0; 5]),
        reference("log_posterior_at_zero")[0],
        1e-13,
        "log p̃(0)",
    );
    let q = post.laplace().expect("converges");
    for (a, b) in q.mean().iter().zip(reference("map")) {
        assert_close(*a, b, 1e-9, "MAP");
    }
    assert_close(
        post.log_prob(q.mean()),
        reference("log_posterior_at_map")[0],
        1e-12,
        "log p̃(MAP)",
    );
    for (a, b) in q.covariance().iter().zip(reference("laplace_covariance")) {
        assert_close(*a, b, 1e-9, "Laplace covariance");
    }
}

/// −H = Xᵀ diag(p(1 − p)) X + I/s², by a naive triple loop.
fn naive_neg_hessian(post: &LogisticRegression, beta: &[f64]) -> Vec<f64> {
    let d = post.dim();
    let s = post.prior_scale();
    let mut h = vec![0.0; d * d];
    for row in post.design().chunks_exact(d) {
        let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
        let p = 1.0 / (1.0 + (-eta).exp());
        for i in 0..d {
            for j in 0..d {
                h[i * d + j] += p * (1.0 - p) * row[i] * row[j];
            }
        }
    }
    for i in 0..d {
        h[i * d + i] += 1.0 / (s * s);
    }
    h
}

#[test]
fn laplace_is_at_the_map_with_the_inverse_negative_hessian() {
    for (seed, s) in [(1, 1.0), (2, 10.0), (3, 0.2)] {
        let (x, y) = synthetic(150, 4, seed);
        let post = LogisticRegression::new(&x, 4, &y, options(s)).expect("valid");
        let q = post.laplace().expect("converges");
        let d = post.dim();
        let mut g = vec![0.0; d];
        post.grad_log_prob(q.mean(), &mut g);
        assert!(
            g.iter().all(|v| v.abs() < 1e-9),
            "seed {seed}: gradient at the MAP {g:?}"
        );
        let h = naive_neg_hessian(&post, q.mean());
        let sigma = q.covariance();
        for i in 0..d {
            for j in 0..d {
                let hs: f64 = (0..d).map(|k| h[i * d + k] * sigma[k * d + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (hs - want).abs() < 1e-10,
                    "seed {seed}: (−H Σ)[{i}][{j}] = {hs}"
                );
            }
        }
    }
}

#[test]
fn separable_data_still_converge_thanks_to_the_prior() {
    let x = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0];
    let y = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    let post = LogisticRegression::new(&x, 1, &y, options(3.0)).expect("valid");
    let q = post.laplace().expect("converges");
    assert!(q.mean()[1] > 1.0 && q.mean().iter().all(|v| v.is_finite()));
}

#[test]
fn batch_methods_match_the_per_point_methods() {
    // Chunks of 32 points (m = 1, 31, 32, 33, 100, 1000) and blocks of ≤ 256 rows (n = 200: one
    // block; 300 and 600: two and three); m = 1000 at dim 6 also splits over threads.
    for (n, k, m) in [
        (200, 5, 1),
        (200, 5, 31),
        (200, 5, 32),
        (200, 5, 33),
        (200, 5, 100),
        (200, 5, 1000),
        (50, 20, 3),
        (50, 20, 40),
        (300, 5, 33),
        (600, 8, 70),
    ] {
        let (x, y) = synthetic(n, k, 7);
        let post = LogisticRegression::new(&x, k, &y, options(1.5)).expect("valid");
        let d = post.dim();
        let mut rng = Pcg64::seed_from_u64(m as u64);
        let pts: Vec<f64> = (0..m * d)
            .map(|_| rng.sample(rand_distr::StandardNormal))
            .collect();
        let (mut lp, mut lp2, mut g) = (vec![0.0; m], vec![0.0; m], vec![0.0; m * d]);
        post.log_prob_batch(&pts, &mut lp);
        post.grad_log_prob_batch(&pts, &mut lp2, &mut g);
        // The two batch methods run the same value loop on the same GEMM: the same bits.
        assert_eq!(&lp[..], &lp2[..], "log_prob_batch vs grad's value, m = {m}");
        let mut gk = vec![0.0; d];
        for (k, b) in pts.chunks_exact(d).enumerate() {
            let l = post.grad_log_prob(b, &mut gk);
            // The GEMM sums in its own order (and with FMAs): equal to rounding, not bit for bit.
            assert_close(lp[k], post.log_prob(b), 1e-12, "log_prob_batch");
            assert_close(lp2[k], l, 1e-12, "grad_log_prob_batch value");
            for (i, (gb, gp)) in g[k * d..k * d + d].iter().zip(&gk).enumerate() {
                assert_close(
                    *gb,
                    *gp,
                    1e-12,
                    &format!("grad_log_prob_batch[{i}], m = {m}"),
                );
            }
        }
    }
}

#[test]
fn batch_methods_give_the_same_bits_for_one_and_two_threads() {
    // 600 rows × dim 9 × 500 points is above the threading threshold: two runs of chunks.
    let (x, y) = synthetic(600, 8, 3);
    let post = LogisticRegression::new(&x, 8, &y, options(2.0)).expect("valid");
    let (d, m) = (post.dim(), 500);
    let mut rng = Pcg64::seed_from_u64(5);
    let pts: Vec<f64> = (0..m * d)
        .map(|_| rng.sample(rand_distr::StandardNormal))
        .collect();
    let run = |t: usize| {
        set_threads(t);
        let (mut lp, mut lpg, mut g) = (vec![0.0; m], vec![0.0; m], vec![0.0; m * d]);
        post.log_prob_batch(&pts, &mut lp);
        post.grad_log_prob_batch(&pts, &mut lpg, &mut g);
        set_threads(0);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        (bits(&lp), bits(&lpg), bits(&g))
    };
    assert!(run(1) == run(2), "1 and 2 threads give different bits");
}

#[test]
fn log_density_is_stable_for_huge_linear_predictors() {
    // |η| ~ 1e4: a naive ln(1 + e^η) overflows; softplus gives y η − softplus(η) exactly.
    let x = [1.0, -1.0];
    let y = [1.0, 1.0];
    let raw = LogisticOptions {
        prior_scale: 1.0,
        intercept: false,
        standardize: false,
    };
    let post = LogisticRegression::new(&x, 1, &y, raw).expect("valid");
    let mut g = [0.0];
    let lp = post.grad_log_prob(&[1e4], &mut g);
    // Row 1: η = 1e4, y η − softplus ≈ 0. Row 2: η = −1e4, ≈ −1e4. Prior −5e7.
    assert_close(lp, -1e4 - 5e7, 1e-15, "log p̃");
    // Gradient: (1 − 1)·1 + (1 − 0)·(−1) − 1e4.
    assert_close(g[0], -1.0 - 1e4, 1e-15, "score");
    // The batch path (GEMM, one `ln` of a product per block) is as stable.
    let (mut lb, mut gb) = ([0.0], [0.0]);
    post.grad_log_prob_batch(&[1e4], &mut lb, &mut gb);
    assert_close(lb[0], -1e4 - 5e7, 1e-15, "batch log p̃");
    assert_close(gb[0], -1.0 - 1e4, 1e-15, "batch score");
}

#[test]
fn labels_and_features_are_validated() {
    let x = [1.0, 2.0, 3.0];
    let cases: Vec<(Result<LogisticRegression, Error>, Error)> = vec![
        (
            LogisticRegression::new(&x, 1, &[0.0, 1.0, 0.5], LogisticOptions::default()),
            Error::BadLabel { row: 2, value: 0.5 },
        ),
        (
            LogisticRegression::new(&x, 1, &[0.0, -1.0, 1.0], LogisticOptions::default()),
            Error::BadLabel {
                row: 1,
                value: -1.0,
            },
        ),
        (
            LogisticRegression::new(&[], 1, &[], LogisticOptions::default()),
            Error::ZeroDimension { what: "labels" },
        ),
        (
            LogisticRegression::new(&x, 2, &[0.0, 1.0], LogisticOptions::default()),
            Error::DimensionMismatch {
                what: "features",
                expected: 4,
                got: 3,
            },
        ),
        (
            LogisticRegression::new(
                &[1.0, 5.0, 1.0, 6.0],
                2,
                &[0.0, 1.0],
                LogisticOptions::default(),
            ),
            Error::ConstantFeature { index: 0 },
        ),
        (
            LogisticRegression::new(
                &[1.0, f64::NAN, 3.0],
                1,
                &[0.0, 1.0, 0.0],
                LogisticOptions::default(),
            ),
            Error::NonFinite {
                what: "features",
                index: 1,
                value: f64::NAN,
            },
        ),
        (
            LogisticRegression::new(&x, 1, &[0.0, 1.0, 0.0], options(0.0)),
            Error::BadParameter {
                what: "prior_scale",
                value: 0.0,
                requirement: "> 0 and finite",
            },
        ),
        (
            LogisticRegression::new(
                &[],
                0,
                &[0.0, 1.0],
                LogisticOptions {
                    intercept: false,
                    ..LogisticOptions::default()
                },
            ),
            Error::ZeroDimension { what: "features" },
        ),
    ];
    for (got, want) in cases {
        let err = got.expect_err("invalid input");
        // NaN ≠ NaN: compare the Debug text, which also checks every field.
        assert_eq!(format!("{err:?}"), format!("{want:?}"));
        assert!(!err.to_string().is_empty());
    }
    // A constant column without standardization is fine (the prior keeps the posterior proper).
    let raw = LogisticOptions {
        standardize: false,
        ..LogisticOptions::default()
    };
    assert!(LogisticRegression::new(&[1.0, 1.0], 1, &[0.0, 1.0], raw).is_ok());
    // Intercept only.
    let post = LogisticRegression::new(&[], 0, &[0.0, 1.0, 1.0], LogisticOptions::default())
        .expect("intercept-only model");
    assert_eq!((post.dim(), post.design()), (1, &[1.0, 1.0, 1.0][..]));
}

#[test]
fn any_density_has_no_sampler_for_it() {
    let (x, y) = synthetic(20, 2, 3);
    let post = LogisticRegression::new(&x, 2, &y, LogisticOptions::default()).expect("valid");
    let any = AnyDensity::LogisticRegression(post);
    assert_eq!(any.name(), "logistic-regression");
    assert!(!any.can_sample());
    assert_eq!((any.mean(), any.covariance()), (None, None));
    let mut out = vec![7.0; 6];
    let err = any
        .try_sample(&mut Pcg64::seed_from_u64(0), &mut out)
        .expect_err("no sampler");
    assert_eq!(
        err,
        Error::NoSampler {
            what: "logistic-regression"
        }
    );
    assert_eq!(out, vec![7.0; 6], "out untouched");
}
