//! Bad parameters of the zoo targets: a typed error naming the argument, never a panic.

use kl_dist::{Banana, Error, Funnel, LogDensity, Ring, StudentT};

fn bad(what: &'static str, value: f64, requirement: &'static str) -> Error {
    Error::BadParameter {
        what,
        value,
        requirement,
    }
}

const POS: &str = "> 0 and finite";

#[test]
fn bad_parameters_are_typed_errors() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let cases: Vec<(&str, Result<usize, Error>, Error)> = vec![
        (
            "banana scale 0",
            Banana::new(0.0, 1.0).map(|p| p.dim()),
            bad("scale", 0.0, POS),
        ),
        (
            "banana scale < 0",
            Banana::new(-1.0, 1.0).map(|p| p.dim()),
            bad("scale", -1.0, POS),
        ),
        (
            "banana scale NaN",
            Banana::new(nan, 1.0).map(|p| p.dim()),
            bad("scale", nan, POS),
        ),
        (
            "banana scale inf",
            Banana::new(inf, 1.0).map(|p| p.dim()),
            bad("scale", inf, POS),
        ),
        (
            "banana curvature NaN",
            Banana::new(1.0, nan).map(|p| p.dim()),
            bad("curvature", nan, "finite"),
        ),
        (
            "funnel d = 1",
            Funnel::new(1, 1.0).map(|p| p.dim()),
            Error::DimensionTooSmall {
                what: "funnel",
                min: 2,
                got: 1,
            },
        ),
        (
            "funnel scale < 0",
            Funnel::new(3, -2.0).map(|p| p.dim()),
            bad("scale", -2.0, POS),
        ),
        (
            "t ν = 0",
            StudentT::new(0.0, &[0.0], &[1.0]).map(|p| p.dim()),
            bad("df", 0.0, POS),
        ),
        (
            "t ν < 0",
            StudentT::new(-3.0, &[0.0], &[1.0]).map(|p| p.dim()),
            bad("df", -3.0, POS),
        ),
        (
            "t ν NaN",
            StudentT::new(nan, &[0.0], &[1.0]).map(|p| p.dim()),
            bad("df", nan, POS),
        ),
        (
            "t ν inf",
            StudentT::new(inf, &[0.0], &[1.0]).map(|p| p.dim()),
            bad("df", inf, POS),
        ),
        (
            "t empty mean",
            StudentT::new(3.0, &[], &[]).map(|p| p.dim()),
            Error::ZeroDimension { what: "mean" },
        ),
        (
            "t mean NaN",
            StudentT::new(3.0, &[0.0, nan], &[1.0, 0.0, 0.0, 1.0]).map(|p| p.dim()),
            Error::NonFinite {
                what: "mean",
                index: 1,
                value: nan,
            },
        ),
        (
            "t scale size",
            StudentT::new(3.0, &[0.0, 0.0], &[1.0]).map(|p| p.dim()),
            Error::DimensionMismatch {
                what: "scale",
                expected: 4,
                got: 1,
            },
        ),
        (
            "t scale inf",
            StudentT::new(3.0, &[0.0], &[inf]).map(|p| p.dim()),
            Error::NonFinite {
                what: "scale",
                index: 0,
                value: inf,
            },
        ),
        (
            "t scale asymmetric",
            StudentT::new(3.0, &[0.0, 0.0], &[1.0, 0.5, 0.2, 1.0]).map(|p| p.dim()),
            Error::Asymmetric {
                row: 0,
                col: 1,
                upper: 0.5,
                lower: 0.2,
            },
        ),
        (
            "t scale indefinite",
            StudentT::new(3.0, &[0.0, 0.0], &[1.0, 2.0, 2.0, 1.0]).map(|p| p.dim()),
            Error::NotPositiveDefinite { pivot: 1 },
        ),
        (
            "ring d = 0",
            Ring::with_dim(0, 1.0, 1.0).map(|p| p.dim()),
            Error::DimensionTooSmall {
                what: "ring",
                min: 1,
                got: 0,
            },
        ),
        (
            "ring radius < 0",
            Ring::new(-0.5, 1.0).map(|p| p.dim()),
            bad("radius", -0.5, "≥ 0 and finite"),
        ),
        (
            "ring radius NaN",
            Ring::new(nan, 1.0).map(|p| p.dim()),
            bad("radius", nan, "≥ 0 and finite"),
        ),
        (
            "ring width 0",
            Ring::new(1.0, 0.0).map(|p| p.dim()),
            bad("width", 0.0, POS),
        ),
        (
            "ring width < 0",
            Ring::new(1.0, -1.0).map(|p| p.dim()),
            bad("width", -1.0, POS),
        ),
        (
            "from_fn d = 0",
            kl_dist::from_fn(0, |_: &[f64], _: &mut [f64]| 0.0).map(|p| p.dim()),
            Error::ZeroDimension { what: "from_fn" },
        ),
    ];
    for (name, got, want) in cases {
        let err = got.expect_err(name);
        // NaN ≠ NaN: compare the Debug text, which also checks every field.
        assert_eq!(format!("{err:?}"), format!("{want:?}"), "{name}");
        let msg = err.to_string();
        assert!(!msg.is_empty(), "{name}: a message");
        if let Error::BadParameter { what, .. } = err {
            assert!(
                msg.contains(what),
                "{name}: the message names {what}: {msg}"
            );
        }
    }
}

#[test]
fn extreme_but_valid_parameters_build_and_evaluate() {
    // Tiny and huge widths, radii and dimensions: construction succeeds and log densities are
    // finite at the ridge.
    for (d, r, w) in [
        (1, 0.0, 1e-6),
        (2, 1e6, 1e-3),
        (500, 0.0, 1.0),
        (3, 1e-300, 1e3),
    ] {
        let p = Ring::with_dim(d, r, w).expect("valid");
        let mut x = vec![0.0; d];
        x[0] = r;
        assert!(p.log_prob(&x).is_finite(), "ring d = {d}, r = {r}, w = {w}");
        assert!(p.mean_sq_radius().is_finite() && p.mean_sq_radius() > 0.0);
    }
    let t = StudentT::new(1e-3, &[0.0], &[1.0]).expect("valid");
    assert!(t.log_prob(&[1.0]).is_finite());
    let t = StudentT::new(1e8, &[0.0], &[1.0]).expect("valid");
    // ν → ∞: the standard normal, log φ(1) = −½ ln 2π − ½.
    assert!((t.log_prob(&[1.0]) + 0.918_938_533_204_672_8 + 0.5).abs() < 1e-6);
    let f = Funnel::new(100, 10.0).expect("valid");
    assert!(f.log_prob(&vec![0.0; 100]).is_finite());
}

#[test]
fn targets_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Banana>();
    check::<Funnel>();
    check::<StudentT>();
    check::<Ring>();
    check::<kl_dist::LogisticRegression>();
    check::<kl_dist::AnyDensity>();
}

#[test]
fn funnel_score_is_finite_deep_in_the_neck() {
    // x₀ = −800: e^{−x₀} overflows; the coordinates at 0 keep a zero score.
    let f = Funnel::new(3, 1.0).expect("valid");
    let mut g = [0.0; 3];
    f.grad_log_prob(&[-800.0, 0.0, 0.0], &mut g);
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    assert_eq!(g[1..], [0.0, 0.0]);
}
