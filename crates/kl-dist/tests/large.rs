//! The faer batch kernels of mixtures (d ≥ 24) and the faer Cholesky (d > 8): log densities
//! against an independent log-sum-exp of the components' scalar `Mvn::log_prob` (hand-written
//! solves), scores against central finite differences, batches against single points.

use kl_dist::Cholesky;
use kl_dist::{LogDensity, Mixture};
use kl_testkit::{check_gradient, mixture, vector};
use proptest::prelude::*;

/// `ln Σₖ wₖ exp(log Nₖ(x))` from each component's own scalar path, by a plain two-pass
/// log-sum-exp with libm's `exp` / `ln`.
fn reference_log_prob(p: &Mixture, x: &[f64]) -> f64 {
    let a: Vec<f64> = p
        .weights()
        .iter()
        .zip(p.components())
        .map(|(w, c)| w.ln() + c.log_prob(x))
        .collect();
    let max = a.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    max + a.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

proptest! {
    #![proptest_config(kl_testkit::config(8, "proptest-regressions/large.txt"))]

    #[test]
    fn mixture_faer_kernel_matches_components(
        (p, xs) in (1usize..=4).prop_flat_map(|k| (mixture(30, k), vector(30 * 37, 3.0)))
    ) {
        let d = 30;
        let n = xs.len() / d;
        let mut lp = vec![0.0; n];
        let mut lp2 = vec![0.0; n];
        let mut g = vec![0.0; n * d];
        p.log_prob_batch(&xs, &mut lp);
        p.grad_log_prob_batch(&xs, &mut lp2, &mut g);
        for (s, x) in xs.chunks_exact(d).enumerate() {
            let want = reference_log_prob(&p, x);
            prop_assert!((lp[s] - want).abs() <= 1e-10 * want.abs().max(1.0),
                "point {}: batch {} vs reference {}", s, lp[s], want);
            prop_assert!((lp2[s] - lp[s]).abs() <= 1e-12 * want.abs().max(1.0));
            let mut g1 = vec![0.0; d];
            let single = p.grad_log_prob(x, &mut g1);
            prop_assert!((single - lp[s]).abs() <= 1e-12 * want.abs().max(1.0));
            for (a, b) in g1.iter().zip(&g[s * d..(s + 1) * d]) {
                prop_assert!((a - b).abs() <= 1e-10 * a.abs().max(1.0), "single {} vs batch {}", a, b);
            }
        }
        // The score of a few points against finite differences of log p.
        for x in xs.chunks_exact(d).take(3) {
            let mut gx = vec![0.0; d];
            p.grad_log_prob(x, &mut gx);
            check_gradient("Mixture (faer kernel)", &mut |y| p.log_prob(y), x, &gx)?;
        }
    }
}

/// `refactor_gram(F)` is the factor of `F Fᵀ` (reconstructed), for the faer path (d > 8) and the
/// hand-written one, and a singular `F` reports a pivot.
#[test]
fn refactor_gram_factors_f_ft() {
    for d in [3usize, 12, 40] {
        let f: Vec<f64> = (0..d * d)
            .map(|k| {
                if k / d == k % d {
                    2.0
                } else {
                    ((k * 7 + 3) as f64).sin() * 0.3
                }
            })
            .collect();
        let mut c = Cholesky::identity(d);
        c.refactor_gram(&f).expect("nonsingular");
        let mut back = vec![0.0; d * d];
        c.reconstruct(&mut back);
        for i in 0..d {
            for j in 0..d {
                let want: f64 = (0..d).map(|k| f[i * d + k] * f[j * d + k]).sum();
                assert!(
                    (back[i * d + j] - want).abs() < 1e-12 * (1.0 + want.abs()),
                    "d = {d}"
                );
            }
        }
        // Points solves agree with the vector solves.
        let mut pts: Vec<f64> = (0..5 * d).map(|k| (k as f64 * 0.61).cos()).collect();
        let orig = pts.clone();
        c.solve_lower_points(&mut pts);
        c.solve_upper_points(&mut pts);
        for (p, o) in pts.chunks_exact(d).zip(orig.chunks_exact(d)) {
            let mut v = o.to_vec();
            c.solve(&mut v);
            for (a, b) in p.iter().zip(&v) {
                assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "d = {d}");
            }
        }
        let mut sing = f.clone();
        for j in 0..d {
            sing[(d - 1) * d + j] = sing[j];
        }
        assert!(
            c.refactor_gram(&sing).is_err(),
            "d = {d}: a repeated row is singular"
        );
    }
}
