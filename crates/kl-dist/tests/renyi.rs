//! `renyi_divergence` against numerical quadrature of `1/(α − 1) log ∫ q^α p^{1−α}` in 1-D and
//! 2-D (densities written out here, not taken from the crate), against the published 1-D closed
//! form of Gil, Alajaji & Linder (2013, Table 2, in covariance form), the skew symmetry
//! `(1 − α) D_α(q ‖ p) = α D_{1−α}(p ‖ q)`, the KL at α = 1 and its limit, and the infinite cases.

use kl_dist::{Error, Mvn, kl_divergence, renyi_divergence};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// log N(x; m, s²) in 1-D.
fn log_normal_1d(x: f64, m: f64, var: f64) -> f64 {
    -0.5 * (LN_2PI + var.ln() + (x - m) * (x - m) / var)
}

/// log N(x; m, C) in 2-D with the explicit 2 × 2 inverse (an oracle independent of the crate).
fn log_normal_2d(x: [f64; 2], m: [f64; 2], c: [f64; 4]) -> f64 {
    let det = c[0] * c[3] - c[1] * c[2];
    let (a, b) = (x[0] - m[0], x[1] - m[1]);
    let quad = (c[3] * a * a - (c[1] + c[2]) * a * b + c[0] * b * b) / det;
    -0.5 * (2.0 * LN_2PI + det.ln() + quad)
}

/// Trapezoid rule of exp(f) over [lo, hi] with n intervals (spectrally accurate for Gaussians
/// far inside the range).
fn trapezoid_1d(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> f64 {
    let h = (hi - lo) / n as f64;
    let mut s = 0.0;
    for k in 0..=n {
        let w = if k == 0 || k == n { 0.5 } else { 1.0 };
        s += w * f(lo + k as f64 * h).exp();
    }
    s * h
}

fn quadrature_1d(mq: f64, vq: f64, mp: f64, vp: f64, alpha: f64, half_width: f64) -> f64 {
    let i = trapezoid_1d(
        |x| alpha * log_normal_1d(x, mq, vq) + (1.0 - alpha) * log_normal_1d(x, mp, vp),
        -half_width,
        half_width,
        40_000,
    );
    i.ln() / (alpha - 1.0)
}

fn mvn1(m: f64, v: f64) -> Mvn {
    Mvn::new(&[m], &[v]).expect("valid")
}

#[test]
fn one_dimensional_quadrature() {
    for (mq, vq, mp, vp) in [
        (0.0, 1.0, 1.0, 2.0),
        (0.5, 0.3, -0.7, 1.2),
        (-1.0, 2.5, 0.0, 1.5),
    ] {
        let (q, p) = (mvn1(mq, vq), mvn1(mp, vp));
        for alpha in [-0.5, 0.0001, 0.1, 0.5, 0.9, 0.999, 1.001, 1.5, 1.9] {
            let got = renyi_divergence(&q, &p, alpha).expect("valid");
            if !got.is_finite() {
                continue;
            }
            let want = quadrature_1d(mq, vq, mp, vp, alpha, 40.0);
            assert!(
                (got - want).abs() <= 1e-8 * want.abs().max(1.0),
                "α = {alpha}, q = N({mq}, {vq}), p = N({mp}, {vp}): {got} vs quadrature {want}"
            );
        }
    }
}

/// Gil, Alajaji & Linder (2013): with σα² = α σp² + (1 − α) σq² > 0,
/// `D_α = ln(σp/σq) + 1/(2(α − 1)) ln(σp²/σα²) + α (μq − μp)² / (2 σα²)`.
#[test]
fn one_dimensional_published_form() {
    for (mq, vq, mp, vp) in [(0.0, 1.0, 1.0, 2.0), (2.0, 0.2, -1.0, 0.9)] {
        for alpha in [-0.3, 0.2, 0.7, 1.3, 2.0] {
            let va = alpha * vp + (1.0 - alpha) * vq;
            let got = renyi_divergence(&mvn1(mq, vq), &mvn1(mp, vp), alpha).expect("valid");
            if va <= 0.0 {
                assert!(
                    got.is_infinite(),
                    "α = {alpha}: σα² = {va} ≤ 0 but D = {got}"
                );
                continue;
            }
            let want = 0.5 * (vp / vq).ln()
                + (vp / va).ln() / (2.0 * (alpha - 1.0))
                + alpha * (mq - mp) * (mq - mp) / (2.0 * va);
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "α = {alpha}: {got} vs {want}"
            );
        }
    }
}

/// `1/(α − 1) log` of the trapezoid rule of q^α p^{1−α} over [−half, half]² (n × n intervals).
fn quadrature_2d(q: ([f64; 2], [f64; 4]), p: ([f64; 2], [f64; 4]), alpha: f64, half: f64) -> f64 {
    let n = (80.0 * half) as usize;
    let h = 2.0 * half / n as f64;
    let mut s = 0.0;
    for i in 0..=n {
        let wi = if i == 0 || i == n { 0.5 } else { 1.0 };
        let x = -half + i as f64 * h;
        for j in 0..=n {
            let wj = if j == 0 || j == n { 0.5 } else { 1.0 };
            let y = -half + j as f64 * h;
            let l = alpha * log_normal_2d([x, y], q.0, q.1)
                + (1.0 - alpha) * log_normal_2d([x, y], p.0, p.1);
            s += wi * wj * l.exp();
        }
    }
    (s * h * h).ln() / (alpha - 1.0)
}

#[test]
fn two_dimensional_quadrature() {
    let qp = ([0.3, -0.4], [1.0, 0.6, 0.6, 1.5]);
    let pp = ([-0.5, 0.2], [1.4, -0.3, -0.3, 0.8]);
    let q = Mvn::new(&qp.0, &qp.1).expect("valid");
    let p = Mvn::new(&pp.0, &pp.1).expect("valid");
    for alpha in [-0.2, 0.25, 0.5, 0.8, 1.2, 1.3] {
        let want = quadrature_2d(qp, pp, alpha, 15.0);
        let got = renyi_divergence(&q, &p, alpha).expect("valid");
        assert!(
            (got - want).abs() <= 1e-8 * want.abs().max(1.0),
            "α = {alpha}: {got} vs quadrature {want}"
        );
    }
    // α = 1.6: 1.6 Σp − 0.6 Σq has determinant 1.64 · 0.38 − 0.84² < 0, so the integral
    // diverges: the quadrature grows with the box (D over a box is finite, but it keeps rising),
    // and the closed form says +∞.
    assert_eq!(renyi_divergence(&q, &p, 1.6), Ok(f64::INFINITY));
    // (It grows like R² along the direction of the negative eigenvalue of Λα.)
    let (a, b) = (
        quadrature_2d(qp, pp, 1.6, 8.0),
        quadrature_2d(qp, pp, 1.6, 16.0),
    );
    assert!(b > a + 5.0, "{a} then {b}");
}

/// q = N(0, 3), p = N(0, 1), α = 2: q²/p ∝ exp(−x²/3 + x²/2) grows, the integral diverges.
/// The quadrature over [−R, R] keeps growing with R (by orders of magnitude), and the closed
/// form says +∞. Likewise α = −1 with q narrow: q⁻¹ p² grows, and D = −∞.
#[test]
fn infinite_cases() {
    let (q, p) = (mvn1(0.0, 3.0), mvn1(0.0, 1.0));
    assert_eq!(renyi_divergence(&q, &p, 2.0), Ok(f64::INFINITY));
    let partial = |r: f64| {
        trapezoid_1d(
            |x| 2.0 * log_normal_1d(x, 0.0, 3.0) - log_normal_1d(x, 0.0, 1.0),
            -r,
            r,
            20_000,
        )
    };
    let (a, b, c) = (partial(10.0), partial(20.0), partial(40.0));
    assert!(b > 1e6 * a && c > 1e6 * b, "{a} {b} {c}");
    // The same pair is finite for α < 3/2: α Σp + (1 − α) Σq = 3 − 2α > 0.
    assert!(renyi_divergence(&q, &p, 1.4).expect("valid").is_finite());
    // α < 0 with Σq < Σp / 2: −Λq + 2Λp is not positive definite.
    let (q, p) = (mvn1(0.0, 0.3), mvn1(1.0, 1.0));
    assert_eq!(renyi_divergence(&q, &p, -1.0), Ok(f64::NEG_INFINITY));
    // 2-D: infinite along one direction only.
    let q = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 3.0]).expect("valid");
    let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).expect("valid");
    assert_eq!(renyi_divergence(&q, &p, 2.0), Ok(f64::INFINITY));
    assert!(renyi_divergence(&q, &p, 1.2).expect("valid").is_finite());
}

#[test]
fn alpha_one_is_the_kl_and_its_limit() {
    let q = Mvn::new(&[0.3, -0.4], &[1.0, 0.6, 0.6, 1.5]).expect("valid");
    let p = Mvn::new(&[-0.5, 0.2], &[1.4, -0.3, -0.3, 0.8]).expect("valid");
    let kl = kl_divergence(&q, &p).expect("valid");
    assert_eq!(renyi_divergence(&q, &p, 1.0), Ok(kl));
    assert_eq!(renyi_divergence(&q, &p, 1.0 + 1e-9), Ok(kl));
    // Away from the threshold the formula meets the KL linearly in |α − 1|.
    let mut prev = f64::INFINITY;
    for h in [1e-1, 1e-2, 1e-3, 1e-4, 1e-5] {
        for a in [1.0 - h, 1.0 + h] {
            let err = (renyi_divergence(&q, &p, a).expect("valid") - kl).abs();
            assert!(err < prev.max(1e-7), "α = {a}: error {err} after {prev}");
            assert!(err <= 2.0 * h, "α = {a}: error {err}");
        }
        prev = (renyi_divergence(&q, &p, 1.0 + h).expect("valid") - kl).abs();
    }
    // D_α is non-decreasing in α (van Erven & Harremoës 2014, Theorem 3).
    let ds: Vec<f64> = [0.0, 0.2, 0.5, 0.9, 1.0, 1.1, 1.5]
        .iter()
        .map(|&a| renyi_divergence(&q, &p, a).expect("valid"))
        .collect();
    assert!(ds.windows(2).all(|w| w[0] <= w[1]), "{ds:?}");
    assert!(ds[0].abs() < 1e-12, "D_0 = {} for normals", ds[0]);
}

/// `(1 − α) D_α(q ‖ p) = α D_{1−α}(p ‖ q)` for α ∈ (0, 1) (van Erven & Harremoës 2014, Prop. 2).
#[test]
fn skew_symmetry() {
    let q = Mvn::new(
        &[1.0, 0.0, -1.0],
        &[1.0, 0.2, 0.1, 0.2, 0.8, -0.3, 0.1, -0.3, 1.3],
    )
    .expect("valid");
    let p = Mvn::new(
        &[0.0, 0.5, 0.5],
        &[2.0, -0.4, 0.0, -0.4, 1.0, 0.2, 0.0, 0.2, 0.6],
    )
    .expect("valid");
    for alpha in [0.1, 0.3, 0.5, 0.77] {
        let a = (1.0 - alpha) * renyi_divergence(&q, &p, alpha).expect("valid");
        let b = alpha * renyi_divergence(&p, &q, 1.0 - alpha).expect("valid");
        assert!(
            (a - b).abs() <= 1e-12 * a.abs().max(1.0),
            "α = {alpha}: {a} vs {b}"
        );
    }
}

#[test]
fn bad_arguments_are_typed_errors() {
    let q = mvn1(0.0, 1.0);
    let p2 = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).expect("valid");
    assert_eq!(
        renyi_divergence(&q, &p2, 0.5),
        Err(Error::DimensionMismatch {
            what: "second normal",
            expected: 1,
            got: 2
        })
    );
    for a in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        match renyi_divergence(&q, &q, a) {
            Err(Error::NonFinite { what: "alpha", .. }) => {}
            other => panic!("α = {a}: {other:?}"),
        }
    }
}
