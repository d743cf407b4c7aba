//! Test support for the `forward-backward-kl` workspace (`publish = false`, a dev-dependency only):
//! the one finite-difference gradient check, proptest configuration with committed regressions,
//! proptest generators of well-conditioned targets and model parameters, the quadratic test
//! problem of the optimizer tests, scratch directories and closeness assertions; for the root
//! package's tests, small experiment files as text ([`experiment`]) and folder snapshots
//! ([`tree`]).
//!
//! # Invariants
//! - Nothing here is used by a library at run time; every crate's tests take their shared
//!   helpers from here instead of copies or `#[path]` includes.
//! - Generators produce well-conditioned inputs by construction (documented bounds), so a failed
//!   gradient check is a real error, not a badly conditioned case.

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};

#[cfg(feature = "dist")]
mod dist;
pub mod experiment;
pub mod tree;
#[cfg(feature = "dist")]
pub use dist::{mixture, mvn};

/// The notebook's own trace of its Gaussian experiment (TensorFlow, float32): the 21 states of
/// forward KL by SGD, the oracle of the parity tests (see `fixtures/README.md` for its source).
pub const NOTEBOOK_GAUSSIAN_TRACE: &str = include_str!("../fixtures/gaussian_forward_kl.json");

/// The diagonal quadratic `½ Σ aᵢ (θᵢ − cᵢ)²`: writes its gradient `aᵢ (θᵢ − cᵢ)` into `grad` and
/// returns its value. The optimizers' test problem (its minimizer is `c`, its curvature `a`).
pub fn quadratic(a: &[f64], c: &[f64], theta: &[f64], grad: &mut [f64]) -> f64 {
    let mut loss = 0.0;
    for i in 0..theta.len() {
        let d = theta[i] - c[i];
        loss += 0.5 * a[i] * d * d;
        grad[i] = a[i] * d;
    }
    loss
}

/// A fresh scratch directory, removed when the guard drops (`tempfile`, unpredictable name).
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("a scratch directory in the system's temporary folder")
}

/// Proptest configuration with `cases` cases, failing cases persisted in `file` — a path
/// relative to the crate root (cargo runs tests there), by convention
/// `proptest-regressions/<test file>.txt` — and replayed first on every run.
pub fn config(cases: u32, file: &'static str) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        ..ProptestConfig::default()
    }
}

/// Step for coordinate `i`: `h = 1e-3 · max(1, |xᵢ|)`.
const STEP: f64 = 1e-3;
/// Relative tolerance of the comparison.
pub const REL_TOL: f64 = 1e-6;
/// Absolute floor, as a fraction of `max(1, |f(x)|)`.
pub const ABS_FLOOR: f64 = 1e-8;

/// The gradient of `f` at `x` by the five-point central stencil
/// `[f(x − 2h) − 8 f(x − h) + 8 f(x + h) − f(x + 2h)] / 12h`, coordinate by coordinate.
///
/// Why this stencil and step: its truncation error is `h⁴ f⁽⁵⁾ / 30` and its rounding error about
/// `ε_mach · (cond. of evaluating f) · |f| / h`. With `h = 1e-3` the first is ~1e-12 · f⁽⁵⁾ (the
/// generators keep every covariance's eigenvalues ≳ 0.04, so f⁽⁵⁾ stays moderate) and the second
/// ~1e-12 · |f| (allowing ~10 ulps of evaluation error): both far below the 1e-6 relative
/// tolerance. The plain two-point difference would need h ~ 1e-5, where the two errors meet near
/// 1e-10 · |f| and the relative check of small entries becomes fragile.
pub fn finite_difference(f: &mut dyn FnMut(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let mut y = x.to_vec();
    (0..x.len())
        .map(|i| {
            let h = STEP * x[i].abs().max(1.0);
            let mut at = |k: f64| {
                y[i] = x[i] + k * h;
                let v = f(&y);
                y[i] = x[i];
                v
            };
            let (m2, m1, p1, p2) = (at(-2.0), at(-1.0), at(1.0), at(2.0));
            (m2 - 8.0 * m1 + 8.0 * p1 - p2) / (12.0 * h)
        })
        .collect()
}

/// Checks an analytic gradient against [`finite_difference`], entry by entry:
/// `|fd − g| ≤ 1e-6 · max(|fd|, |g|) + 1e-8 · max(1, |f(x)|)`.
///
/// The floor is for entries that are (near) zero, where no relative test is possible: the
/// stencil's error is at most ~1e-11 · max(1, |f|) by the estimate above, and a real error in a
/// gradient formula (a missing term, a transposed factor, a sign) is of the order of the other
/// entries, i.e. ≥ 1e-3 for these generators — so 1e-8 leaves three decades of margin each way.
pub fn check_gradient(
    what: &str,
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &[f64],
    analytic: &[f64],
) -> Result<(), TestCaseError> {
    if analytic.len() != x.len() {
        return Err(TestCaseError::fail(format!(
            "{what}: gradient has {} entries, x has {}",
            analytic.len(),
            x.len()
        )));
    }
    let fx = f(x);
    let fd = finite_difference(f, x);
    let floor = ABS_FLOOR * fx.abs().max(1.0);
    for (i, (a, n)) in analytic.iter().zip(&fd).enumerate() {
        let err = (a - n).abs();
        let tol = REL_TOL * a.abs().max(n.abs()) + floor;
        if err.is_nan() || err > tol {
            return Err(TestCaseError::fail(format!(
                "{what}: entry {i}: analytic {a:e} vs finite difference {n:e} \
                 (error {err:e} > tolerance {tol:e}) at x = {x:?}"
            )));
        }
    }
    Ok(())
}

/// A symmetric positive definite `d × d` matrix `B Bᵀ + 0.5 I`, `B` uniform in [-1, 1]:
/// eigenvalues in [0.5, 0.5 + d²]. Exactly symmetric (computed once per pair).
pub fn spd(d: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1.0..1.0f64, d * d).prop_map(move |b| {
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let s: f64 = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum();
                a[i * d + j] = s;
                a[j * d + i] = s;
            }
            a[i * d + i] += 0.5;
        }
        a
    })
}

/// A vector uniform in `[-r, r]ᵈ`.
pub fn vector(d: usize, r: f64) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-r..r, d)
}

/// Model parameters θ = (μ, L): μ in [-2, 2]ᵈ, `L = s I + N` with s in [0.7, 1.5] and N uniform in
/// [-0.1, 0.1] (full, not triangular). σ_min(L) ≥ s − ‖N‖_F ≥ 0.7 − 0.1·d ≥ 0.2 for d ≤ 5.
pub fn theta(d: usize) -> impl Strategy<Value = Vec<f64>> {
    (
        vector(d, 2.0),
        0.7..1.5f64,
        prop::collection::vec(-0.1..0.1f64, d * d),
    )
        .prop_map(move |(mu, s, noise)| {
            let mut t = mu;
            t.extend(noise.iter().enumerate().map(
                |(k, v)| {
                    if k / d == k % d { s + v } else { *v }
                },
            ));
            t
        })
}

/// Mean-field parameters θ = (μ, ω), σᵢ = exp(ωᵢ): μ in [-2, 2]ᵈ, ω in [-0.5, 0.5]ᵈ (σ in
/// [0.6, 1.65], the range of [`theta`]'s singular values).
pub fn theta_mean_field(d: usize) -> impl Strategy<Value = Vec<f64>> {
    (vector(d, 2.0), vector(d, 0.5)).prop_map(|(mut mu, omega)| {
        mu.extend(omega);
        mu
    })
}

/// Builds an exactly symmetric SPD matrix from a seed-free formula (for fixed, non-proptest cases):
/// `B Bᵀ + 0.5 I` with `B[i][j] = sin(1 + 3i + 7j + salt)`.
pub fn fixed_spd(d: usize, salt: f64) -> Vec<f64> {
    let b: Vec<f64> = (0..d * d)
        .map(|k| (1.0 + 3.0 * (k / d) as f64 + 7.0 * (k % d) as f64 + salt).sin())
        .collect();
    let mut a = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum();
            a[i * d + j] = s;
            a[j * d + i] = s;
        }
        a[i * d + i] += 0.5;
    }
    a
}

/// Asserts `|a − b| ≤ tol · max(1, |b|)` with a message.
#[track_caller]
pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: {a} vs {b} (difference {:e}, tolerance {tol:e} relative)",
        (a - b).abs()
    );
}
