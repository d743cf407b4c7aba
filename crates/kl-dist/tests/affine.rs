//! `grad_log_prob_affine` of mixtures and normals (matrix products on ε, the solves moved out of
//! the per-point loop) against the per-point path: xᵢ = μ + L εᵢ by plain loops, then
//! `grad_log_prob_batch` (triangular solves on each xᵢ) and the sums Σ gᵢ, Σ gᵢ εᵢᵀ by plain
//! loops. Sizes cover one short sub-block, several groups and the 16-group cap, and the
//! thread split (bits for 1 and 2 threads).

use kl_dist::dense::set_threads;
use kl_dist::{LogDensity, Mixture, Mvn};
use kl_testkit::{mixture, mvn, vector};
use proptest::prelude::*;

/// (log p (n), Σ g (d), Σ g εᵀ (d × d)) by the per-point path.
fn reference<P: LogDensity>(
    p: &P,
    mu: &[f64],
    l: &[f64],
    eps: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let d = mu.len();
    let n = eps.len() / d;
    let mut xs = vec![0.0; n * d];
    for (x, e) in xs.chunks_exact_mut(d).zip(eps.chunks_exact(d)) {
        for i in 0..d {
            x[i] = mu[i] + (0..d).map(|j| l[i * d + j] * e[j]).sum::<f64>();
        }
    }
    let mut lp = vec![0.0; n];
    let mut g = vec![0.0; n * d];
    p.grad_log_prob_batch(&xs, &mut lp, &mut g);
    let mut gmu = vec![0.0; d];
    let mut gl = vec![0.0; d * d];
    for (gs, e) in g.chunks_exact(d).zip(eps.chunks_exact(d)) {
        for i in 0..d {
            gmu[i] += gs[i];
            for j in 0..d {
                gl[i * d + j] += gs[i] * e[j];
            }
        }
    }
    (lp, gmu, gl)
}

/// `|a − b| ≤ tol · scale` entrywise, `scale` the largest |b| (at least 1): the sums are of n
/// terms of either sign, so the error is relative to their size, not to each entry.
fn close(what: &str, a: &[f64], b: &[f64], tol: f64) -> Result<(), TestCaseError> {
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        prop_assert!(
            (x - y).abs() <= tol * scale,
            "{}[{}]: affine {} vs per-point {} (scale {})",
            what,
            i,
            x,
            y,
            scale
        );
    }
    Ok(())
}

fn check<P: LogDensity>(p: &P, mu: &[f64], l: &[f64], eps: &[f64]) -> Result<(), TestCaseError> {
    let d = mu.len();
    let n = eps.len() / d;
    let (lp_ref, gmu_ref, gl_ref) = reference(p, mu, l, eps);
    let mut lp = vec![0.0; n];
    let mut gmu = vec![0.0; d];
    let mut gl = vec![0.0; d * d];
    let mut work = Vec::new();
    prop_assert!(p.grad_log_prob_affine(mu, l, eps, &mut lp, &mut gmu, &mut gl, &mut work));
    close("log p", &lp, &lp_ref, 1e-11)?;
    close("Σ g", &gmu, &gmu_ref, 1e-11)?;
    close("Σ g εᵀ", &gl, &gl_ref, 1e-11)?;
    // A second call with the grown workspace: the same bits.
    let mut lp2 = vec![0.0; n];
    let mut gmu2 = vec![0.0; d];
    let mut gl2 = vec![0.0; d * d];
    p.grad_log_prob_affine(mu, l, eps, &mut lp2, &mut gmu2, &mut gl2, &mut work);
    prop_assert!(
        lp2 == lp && gmu2 == gmu && gl2 == gl,
        "reusing the workspace changes results"
    );
    Ok(())
}

/// A full square L (the model's L need not be triangular) with a diagonal in [0.5, 1.5].
fn factor(d: usize) -> impl Strategy<Value = Vec<f64>> {
    (vector(d * d, 0.4), vector(d, 0.5)).prop_map(move |(mut l, diag)| {
        for i in 0..d {
            l[i * d + i] = 1.0 + diag[i];
        }
        l
    })
}

fn case(d: usize, n: usize) -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
    (vector(d, 1.5), factor(d), vector(n * d, 2.5))
}

proptest! {
    #![proptest_config(kl_testkit::config(24, "proptest-regressions/affine.txt"))]

    #[test]
    fn mixture_affine_matches_the_per_point_path(
        (p, (mu, l, eps)) in (prop_oneof![Just(9usize), Just(16), Just(33)], 1usize..=4, prop_oneof![Just(1usize), Just(7), Just(300), Just(4100)])
            .prop_flat_map(|(d, k, n)| (mixture(d, k), case(d, n)))
    ) {
        check(&p, &mu, &l, &eps)?;
    }

    #[test]
    fn normal_affine_matches_the_per_point_path(
        (p, (mu, l, eps)) in (prop_oneof![Just(9usize), Just(20)], prop_oneof![Just(3usize), Just(700)])
            .prop_flat_map(|(d, n)| (mvn(d), case(d, n)))
    ) {
        check(&p, &mu, &l, &eps)?;
    }
}

/// A seeded mixture of `k` components with random factors (diagonal ≥ 1), means shifted by k.
fn seeded_mixture(d: usize, k: usize, rng: &mut rand_pcg::Pcg64) -> Mixture {
    use rand_distr::{Distribution, StandardNormal};
    let comps: Vec<Mvn> = (0..k)
        .map(|c| {
            let mean: Vec<f64> = (0..d)
                .map(|_| c as f64 + Distribution::<f64>::sample(&StandardNormal, &mut *rng))
                .collect();
            let mut l: Vec<f64> = (0..d * d)
                .map(|_| 0.3 * Distribution::<f64>::sample(&StandardNormal, &mut *rng))
                .collect();
            for i in 0..d {
                for j in i + 1..d {
                    l[i * d + j] = 0.0;
                }
                l[i * d + i] = 1.0 + l[i * d + i].abs();
            }
            Mvn::from_factor(&mean, &l).expect("positive diagonal")
        })
        .collect();
    let raw: Vec<f64> = (1..=k).map(|i| i as f64).collect();
    let total: f64 = raw.iter().sum();
    let w: Vec<f64> = raw.iter().map(|v| v / total).collect();
    Mixture::new(&w, comps).expect("valid")
}

/// Two sizes where the work is split over threads: d = 16, K = 3, n = 20 000 (all 16 groups) and
/// d = 256, K = 4, n = 1300 (sums of 263 000 values per group: the memory cap leaves 4 groups for
/// 6 sub-blocks). Both match the per-point path, and give the same bits for 1 and 2 threads.
#[test]
fn affine_is_bit_identical_across_thread_counts() {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = rand_pcg::Pcg64::seed_from_u64(5);
    for (d, k, n) in [(16, 3, 20_000), (256, 4, 1300)] {
        let p = seeded_mixture(d, k, &mut rng);
        let eps: Vec<f64> = (0..n * d)
            .map(|_| -> f64 { StandardNormal.sample(&mut rng) })
            .collect();
        let mu: Vec<f64> = (0..d)
            .map(|_| -> f64 { StandardNormal.sample(&mut rng) })
            .collect();
        let mut l = vec![0.0; d * d];
        for i in 0..d {
            l[i * d + i] = 1.3;
            if i > 0 {
                l[i * d + i - 1] = 0.2;
            }
        }
        check(&p, &mu, &l, &eps).unwrap_or_else(|e| panic!("d = {d}, K = {k}: {e}"));
        let mut runs = Vec::new();
        for t in [1, 2] {
            set_threads(t);
            let mut lp = vec![0.0; n];
            let mut gmu = vec![0.0; d];
            let mut gl = vec![0.0; d * d];
            let mut work = Vec::new();
            assert!(p.grad_log_prob_affine(&mu, &l, &eps, &mut lp, &mut gmu, &mut gl, &mut work));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            runs.push((bits(&lp), bits(&gmu), bits(&gl)));
        }
        set_threads(0);
        assert!(
            runs[0] == runs[1],
            "d = {d}, K = {k}: 1 and 2 threads give different bits"
        );
    }
}
