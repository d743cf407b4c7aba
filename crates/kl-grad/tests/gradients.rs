//! Every objective's analytic gradient against central finite differences of its value (the
//! shared helper of `kl-dist/tests/common`), d in 1..=5, K in 1..=4, random well-conditioned
//! targets and θ, ε fixed.

use kl_dist::{AnyDensity, LogDensity};
use kl_grad::{Estimator, ForwardKlExact, ForwardKlSamples, Objective, ReverseKl, ReverseKlExact};
use kl_testkit::{check_gradient, mixture, mvn, theta, vector};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;

/// Checks `value_and_grad` against finite differences of `value`, and that both report the same
/// value.
fn check_objective<O: Objective>(what: &str, obj: &mut O, th: &[f64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(obj.n_params(), th.len());
    let mut g = vec![0.0; th.len()];
    let v = obj.value_and_grad(th, &mut g).expect("θ is valid");
    let v2 = obj.value(th).expect("θ is valid");
    prop_assert!(
        (v - v2).abs() <= 1e-12 * v.abs().max(1.0),
        "{}: value_and_grad gives {}, value gives {}",
        what,
        v,
        v2
    );
    check_gradient(what, &mut |t| obj.value(t).expect("θ stays valid"), th, &g)
}

/// A Gaussian target, or a mixture target of dimension d with 1..=4 components.
fn target(d: usize) -> impl Strategy<Value = AnyDensity> {
    prop_oneof![
        mvn(d).prop_map(AnyDensity::Mvn),
        (1usize..=4).prop_flat_map(move |k| mixture(d, k).prop_map(AnyDensity::Mixture)),
    ]
}

proptest! {
    #![proptest_config(kl_testkit::config(64, "proptest-regressions/gradients.txt"))]

    #[test]
    fn forward_kl_exact((p, th) in (1usize..=5).prop_flat_map(|d| (mvn(d), theta(d)))) {
        check_objective("ForwardKlExact", &mut ForwardKlExact::new(p), &th)?;
    }

    #[test]
    fn forward_kl_samples(
        (d, xs, th) in (1usize..=5, 1usize..=30)
            .prop_flat_map(|(d, n)| (Just(d), vector(n * d, 3.0), theta(d)))
    ) {
        let mut obj = ForwardKlSamples::new(&xs, d).expect("valid samples");
        check_objective("ForwardKlSamples", &mut obj, &th)?;
    }

    #[test]
    fn reverse_kl_total(
        (p, th, n, seed) in (1usize..=5)
            .prop_flat_map(|d| (target(d), theta(d), 1usize..=20, any::<u64>()))
    ) {
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut obj = ReverseKl::new(p, n, Estimator::Total, &mut rng).expect("n ≥ 1");
        check_objective("ReverseKl (total)", &mut obj, &th)?;
    }

    /// The STL estimator is not the gradient of the fixed-ε value: it drops the score term
    /// −∇θ E[log q] at fixed x, whose per-draw value is `∇L: −W + W εᵢεᵢᵀ` and `∇μ: W εᵢ` (with
    /// W = L⁻ᵀ). So check `stl + dropped term` against finite differences — and, separately, that
    /// the dropped term is what `total − stl` is.
    #[test]
    fn reverse_kl_stl(
        (p, th, n, seed) in (1usize..=5)
            .prop_flat_map(|d| (target(d), theta(d), 1usize..=20, any::<u64>()))
    ) {
        let d = p.dim();
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut stl = ReverseKl::new(p.clone(), n, Estimator::Stl, &mut rng).expect("n ≥ 1");
        let mut total = ReverseKl::new(p, n, Estimator::Total, &mut rng).expect("n ≥ 1");
        total.set_eps(stl.eps()).expect("same shape");
        let mut g_stl = vec![0.0; th.len()];
        let mut g_total = vec![0.0; th.len()];
        let v = stl.value_and_grad(&th, &mut g_stl).expect("valid");
        let v2 = total.value_and_grad(&th, &mut g_total).expect("valid");
        prop_assert_eq!(v, v2);
        // The dropped score term, from W = L⁻ᵀ computed here by Gauss–Jordan on Lᵀ.
        let w = inverse_transpose(&th[d..], d);
        let eps = stl.eps().to_vec();
        let mut score = vec![0.0; d + d * d];
        for e in eps.chunks(d) {
            for i in 0..d {
                let we: f64 = (0..d).map(|j| w[i * d + j] * e[j]).sum();
                score[i] += we / n as f64;
                for j in 0..d {
                    score[d + i * d + j] += (we * e[j] - w[i * d + j]) / n as f64;
                }
            }
        }
        let mut g = g_stl.clone();
        g.iter_mut().zip(&score).for_each(|(a, b)| *a += b);
        for (k, (a, b)) in g.iter().zip(&g_total).enumerate() {
            prop_assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "θ[{}]: stl + score {} vs total {}", k, a, b);
        }
        check_gradient("ReverseKl (stl + score term)", &mut |t| stl.value(t).expect("valid"), &th, &g)?;
    }

    #[test]
    fn reverse_kl_exact((p, th) in (1usize..=5).prop_flat_map(|d| (mvn(d), theta(d)))) {
        check_objective("ReverseKlExact", &mut ReverseKlExact::new(p), &th)?;
    }
}

/// (Lᵀ)⁻¹ = (L⁻¹)ᵀ by Gauss–Jordan elimination with partial pivoting on L, then transposed.
fn inverse_transpose(l: &[f64], d: usize) -> Vec<f64> {
    let mut a = l.to_vec();
    let mut inv: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { 0.0 })
        .collect();
    for c in 0..d {
        let p = (c..d)
            .max_by(|&i, &j| a[i * d + c].abs().total_cmp(&a[j * d + c].abs()))
            .expect("non-empty");
        for k in 0..d {
            a.swap(c * d + k, p * d + k);
            inv.swap(c * d + k, p * d + k);
        }
        let piv = a[c * d + c];
        for k in 0..d {
            a[c * d + k] /= piv;
            inv[c * d + k] /= piv;
        }
        for r in 0..d {
            if r != c {
                let f = a[r * d + c];
                for k in 0..d {
                    a[r * d + k] -= f * a[c * d + k];
                    inv[r * d + k] -= f * inv[c * d + k];
                }
            }
        }
    }
    (0..d * d).map(|k| inv[(k % d) * d + k / d]).collect()
}
