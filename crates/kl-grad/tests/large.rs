//! The d > 8 paths (faer GEMM and triangular solves, fixed-chunk reductions; for mixture targets
//! d ≥ 24 the faer batch kernel): every gradient against central finite differences, and the
//! value and gradient of reverse KL the same bits for 1 and 2 threads.

use kl_dist::dense::set_threads;
use kl_dist::{AnyDensity, LogDensity};
use kl_grad::{Estimator, ForwardKlExact, Objective, ReverseKl};
use kl_testkit::{check_gradient, mixture, mvn, vector};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;

/// θ = (μ, L) with μ in [-2, 2]ᵈ and `L = s I + N`, s in [0.7, 1.5], N uniform in
/// [-0.5/d, 0.5/d]: ‖N‖_F ≤ 0.5, so σ_min(L) ≥ 0.2 at every d.
fn theta_large(d: usize) -> impl Strategy<Value = Vec<f64>> {
    let r = 0.5 / d as f64;
    (
        vector(d, 2.0),
        0.7..1.5f64,
        prop::collection::vec(-r..r, d * d),
    )
        .prop_map(move |(mu, s, noise)| {
            let mut t = mu;
            t.extend(
                noise
                    .iter()
                    .enumerate()
                    .map(|(k, v)| if k / d == k % d { s + v } else { *v }),
            );
            t
        })
}

fn check_objective<O: Objective>(what: &str, obj: &mut O, th: &[f64]) -> Result<(), TestCaseError> {
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

/// d = 12 (faer model and reductions, hand-written density kernels) or d = 30 (everything faer).
fn dims() -> impl Strategy<Value = usize> {
    prop_oneof![Just(12usize), Just(30usize)]
}

proptest! {
    #![proptest_config(kl_testkit::config(6, "proptest-regressions/large.txt"))]

    #[test]
    fn forward_kl_exact_large((p, th) in dims().prop_flat_map(|d| (mvn(d), theta_large(d)))) {
        check_objective("ForwardKlExact", &mut ForwardKlExact::new(p), &th)?;
    }

    #[test]
    fn reverse_kl_total_large(
        (p, th, seed) in dims().prop_flat_map(|d| (
            (1usize..=3).prop_flat_map(move |k| mixture(d, k).prop_map(AnyDensity::Mixture)),
            theta_large(d),
            any::<u64>(),
        ))
    ) {
        let mut rng = Pcg64::seed_from_u64(seed);
        // 300 draws: two chunks of the reductions, the second one short.
        let mut obj = ReverseKl::new(p, 300, Estimator::Total, &mut rng).expect("n ≥ 1");
        check_objective("ReverseKl (total)", &mut obj, &th)?;
    }

    /// STL plus the dropped score term (see `gradients.rs`) is the gradient of the fixed-ε value.
    #[test]
    fn reverse_kl_stl_large(
        (p, th, seed) in dims().prop_flat_map(|d| (
            mvn(d).prop_map(AnyDensity::Mvn),
            theta_large(d),
            any::<u64>(),
        ))
    ) {
        let d = p.dim();
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut stl = ReverseKl::new(p.clone(), 300, Estimator::Stl, &mut rng).expect("n ≥ 1");
        let mut total = ReverseKl::new(p, 300, Estimator::Total, &mut rng).expect("n ≥ 1");
        total.set_eps(stl.eps()).expect("same shape");
        let mut g_stl = vec![0.0; th.len()];
        let mut g_total = vec![0.0; th.len()];
        stl.value_and_grad(&th, &mut g_stl).expect("valid");
        total.value_and_grad(&th, &mut g_total).expect("valid");
        // Total − STL = the per-draw score term averaged: ∇μ: W ε̄ … checked through `total`'s
        // finite differences, and STL's own difference from it must be the score's mean:
        // ∇L: −W + W E, ∇μ: W ε̄ with W = Σ⁻¹ L solved independently here (Gauss–Jordan free:
        // W = L⁻ᵀ satisfies Lᵀ W = I, checked instead of formed).
        let l = &th[d..];
        let n = stl.n_samples() as f64;
        let eps = stl.eps();
        let mut mean = vec![0.0; d];
        let mut outer = vec![0.0; d * d];
        for e in eps.chunks_exact(d) {
            for i in 0..d {
                mean[i] += e[i] / n;
                for j in 0..d {
                    outer[i * d + j] += e[i] * e[j] / n;
                }
            }
        }
        // dμ = total − stl = W ε̄, so Lᵀ dμ = ε̄; dL = W (E − I), so Lᵀ dL = E − I.
        let dmu: Vec<f64> = (0..d).map(|i| g_total[i] - g_stl[i]).collect();
        for j in 0..d {
            let lt_dmu: f64 = (0..d).map(|i| l[i * d + j] * dmu[i]).sum();
            prop_assert!((lt_dmu - mean[j]).abs() < 1e-9, "Lᵀ Δμ[{}] = {} vs ε̄ {}", j, lt_dmu, mean[j]);
        }
        for j in 0..d {
            for c in 0..d {
                let lt_dl: f64 = (0..d)
                    .map(|i| l[i * d + j] * (g_total[d + i * d + c] - g_stl[d + i * d + c]))
                    .sum();
                let want = outer[j * d + c] - if j == c { 1.0 } else { 0.0 };
                prop_assert!((lt_dl - want).abs() < 1e-9, "Lᵀ ΔL[{},{}] = {} vs {}", j, c, lt_dl, want);
            }
        }
    }
}

/// A step evaluated with 1 thread and with 2 threads: the draws, the value and the gradient are
/// the same bits (fixed chunks, partial sums in chunk order), for both estimators, at a size
/// where every parallel phase does split (n K d² ≫ 2²¹).
#[test]
fn reverse_kl_is_bit_identical_across_thread_counts() {
    let d = 64;
    let mut rng = Pcg64::seed_from_u64(64);
    let target = kl_testkit_like_mixture(d, 3, &mut rng);
    let mut th = vec![0.0; d + d * d];
    for i in 0..d {
        th[i] = 0.1 * i as f64 / d as f64;
        th[d + i * d + i] = 1.2;
        if i + 1 < d {
            th[d + i * d + i + 1] = 0.05;
        }
    }
    for est in [Estimator::Total, Estimator::Stl] {
        let mut runs = Vec::new();
        for threads in [1, 2] {
            set_threads(threads);
            let mut rng = Pcg64::seed_from_u64(7);
            let mut obj = ReverseKl::new(target.clone(), 2000, est, &mut rng).expect("valid");
            obj.resample_with(&mut rng);
            let mut g = vec![0.0; th.len()];
            let v = obj.value_and_grad(&th, &mut g).expect("valid");
            let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            runs.push((v.to_bits(), bits(&g), bits(obj.eps()), bits(obj.points())));
        }
        set_threads(0);
        assert!(runs[0] == runs[1], "{est:?}: 1 and 2 threads differ");
        // And `set_eps` of the same draws (the other statistics path) gives the same bits.
        let mut rng = Pcg64::seed_from_u64(7);
        let mut obj = ReverseKl::new(target.clone(), 2000, est, &mut rng).expect("valid");
        obj.resample_with(&mut rng);
        let eps = obj.eps().to_vec();
        obj.set_eps(&eps).expect("same shape");
        let mut g = vec![0.0; th.len()];
        let v = obj.value_and_grad(&th, &mut g).expect("valid");
        assert_eq!(v.to_bits(), runs[0].0, "{est:?}: set_eps changes the value");
    }
}

/// A seeded, well-conditioned K-component mixture of dimension d (covariances `B Bᵀ / d + I/2`).
fn kl_testkit_like_mixture(d: usize, k: usize, rng: &mut Pcg64) -> AnyDensity {
    use rand_distr::{Distribution, StandardNormal};
    let comps = (0..k)
        .map(|c| {
            let mean: Vec<f64> = (0..d)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut *rng);
                    c as f64 - 1.0 + 0.3 * z
                })
                .collect();
            let b: Vec<f64> = (0..d * d)
                .map(|_| -> f64 { StandardNormal.sample(&mut *rng) })
                .collect();
            let mut cov = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..=i {
                    let s: f64 =
                        (0..d).map(|t| b[i * d + t] * b[j * d + t]).sum::<f64>() / d as f64;
                    cov[i * d + j] = s;
                    cov[j * d + i] = s;
                }
                cov[i * d + i] += 0.5;
            }
            kl_dist::Mvn::new(&mean, &cov).expect("positive definite")
        })
        .collect();
    let w = vec![1.0 / k as f64; k];
    AnyDensity::Mixture(kl_dist::Mixture::new(&w, comps).expect("valid"))
}

/// The documented draw order: one `u64` key from the caller's RNG; chunk c (256 points) draws
/// from `Pcg64::seed_from_u64(splitmix64(key + (c + 1) φ))` with rand_distr's `StandardNormal`.
/// Rebuilt here from that description with rand_distr itself (not the crate's inlined sampler).
#[test]
fn draw_order_follows_the_contract() {
    use rand::Rng as _;
    use rand_distr::{Distribution, StandardNormal};
    fn splitmix64(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let (d, n) = (3, 600);
    let p = kl_dist::Mvn::new(&[0.0; 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
        .expect("identity");
    let mut rng = Pcg64::seed_from_u64(99);
    let obj = ReverseKl::new(p, n, Estimator::Total, &mut rng).expect("valid");
    let mut again = Pcg64::seed_from_u64(99);
    let key = again.next_u64();
    // The caller's RNG advanced by exactly one u64.
    assert_eq!(rng.next_u64(), again.next_u64());
    let mut want = Vec::with_capacity(n * d);
    for c in 0..n.div_ceil(256) {
        let seed = splitmix64(key.wrapping_add((c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let mut r = Pcg64::seed_from_u64(seed);
        let m = (n - 256 * c).min(256);
        for _ in 0..m * d {
            let z: f64 = StandardNormal.sample(&mut r);
            want.push(z);
        }
    }
    assert!(
        obj.eps()
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "ε differs from the documented draw order"
    );
}

/// The blocked forward kernel (from d ≈ 100: W = Σ⁻¹ L and Σ⁻¹ S W by fixed column blocks; at
/// d = 211 three blocks of widths 71, 71, 69, and Σ = L Lᵀ as two jobs): the value against
/// `kl_divergence` (the closed form on q's own Cholesky factor, Σ formed here by plain loops),
/// the gradient against central differences along fixed directions, and the same bits for 1 and
/// 2 threads.
#[test]
fn forward_kl_exact_blocked_kernel() {
    use kl_dist::{Mvn, kl_divergence};
    let d = 211;
    let mean: Vec<f64> = (0..d).map(|i| (0.7 * i as f64).sin()).collect();
    let cov: Vec<f64> = kl_testkit::fixed_spd(d, 0.3)
        .iter()
        .map(|v| v / d as f64)
        .collect();
    let p = Mvn::new(&mean, &cov).expect("SPD");
    let mut th = vec![0.0; d + d * d];
    for i in 0..d {
        th[i] = 0.2 * (1.3 * i as f64).cos();
        for j in 0..d {
            th[d + i * d + j] = 0.3 / d as f64 * ((i * 5 + j * 11) as f64).sin();
        }
        th[d + i * d + i] += 1.1;
    }
    let (mu, l) = th.split_at(d);
    let mut sigma = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            sigma[i * d + j] = (0..d).map(|k| l[i * d + k] * l[j * d + k]).sum();
        }
    }
    let q = Mvn::new(mu, &sigma).expect("L is well conditioned");
    let expected = kl_divergence(&p, &q).expect("same dimension");

    let mut runs = Vec::new();
    for threads in [1, 2] {
        set_threads(threads);
        let mut obj = ForwardKlExact::new(p.clone());
        let mut g = vec![0.0; th.len()];
        let v = obj.value_and_grad(&th, &mut g).expect("valid");
        runs.push((v, g));
    }
    set_threads(0);
    let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        runs[0].0.to_bits(),
        runs[1].0.to_bits(),
        "1 and 2 threads differ"
    );
    assert!(
        bits(&runs[0].1) == bits(&runs[1].1),
        "1 and 2 threads differ"
    );
    let (v, g) = &runs[0];
    kl_testkit::assert_close(*v, expected, 1e-10, "D(p‖q) at d = 211");

    // Directional derivatives: g · u against (f(θ + h u) − f(θ − h u)) / 2h.
    let mut obj = ForwardKlExact::new(p);
    for dir in 0..3 {
        let u: Vec<f64> = (0..th.len())
            .map(|k| ((k * (2 * dir + 3)) as f64 * 0.618).sin())
            .collect();
        let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        let u: Vec<f64> = u.iter().map(|x| x / norm).collect();
        let h = 1e-5;
        let at = |s: f64| -> Vec<f64> { th.iter().zip(&u).map(|(t, e)| t + s * e).collect() };
        let fd =
            (obj.value(&at(h)).expect("valid") - obj.value(&at(-h)).expect("valid")) / (2.0 * h);
        let an: f64 = g.iter().zip(&u).map(|(a, b)| a * b).sum();
        assert!(
            (an - fd).abs() <= 1e-6 * an.abs().max(1.0),
            "direction {dir}: analytic {an} vs central difference {fd}"
        );
    }
}
