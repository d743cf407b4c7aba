//! Fixed points on Gaussian targets: GSM and BaM reach q = p, Pathfinder's best iterate is p.
//!
//! Targets: N(m, Σ) with Σ's eigenvalues geometric from 1 to 100 (condition number 100) in a
//! random rotation, d = 2, 8, 16; q₀ = N(0, I). The oracle is the closed-form KL between
//! normals (`kl_dist::kl_divergence`) and the target's own parameters.
//!
//! Iteration budgets. Modi et al. (2023, §5.1, Gaussian targets) and Cai et al. (2024, §5.1)
//! report convergence on Gaussian targets in tens (BaM, B ≥ d) to a few hundred (GSM, B = 2)
//! iterations, growing with d; the per-d counts in their figures could not be read here, so
//! the budgets below are our measured first-iteration-below-1e-8 (seed 1) times about two:
//!
//! | d | GSM, B = 2 measured → budget | BaM, B = 10, λₜ = B d / (t + 1) measured → budget |
//! |---|---|---|
//! | 2 | 35 → 80 | 7 → 20 |
//! | 8 | 95 → 200 | 5 → 20 |
//! | 16 | 190 → 400 | 18 → 40 |

mod common;

use std::ops::ControlFlow;

use kl_dist::{LogDensity, kl_divergence};
use kl_vi::{BamSettings, GsmSettings, PathfinderSettings, Schedule, bam, gsm, pathfinder};
use rand::SeedableRng;
use rand_pcg::Pcg64;

fn check_reaches(
    d: usize,
    budget: usize,
    run: &dyn Fn(&kl_dist::Mvn, &kl_dist::Mvn, usize) -> kl_vi::Outcome,
) {
    let p = common::gaussian(d, 100.0, 11 + d as u64);
    let q0 = common::standard(d);
    let out = run(&p, &q0, budget);
    let kl = kl_divergence(&out.q, &p).expect("same dimension");
    assert!(
        kl < 1e-8,
        "d = {d}: KL(q ‖ p) = {kl:e} after {budget} iterations"
    );
    assert_eq!(out.iterations, budget);
    assert!(!out.interrupted);
}

#[test]
fn gsm_reaches_gaussian_targets() {
    for (d, budget) in [(2, 80), (8, 200), (16, 400)] {
        check_reaches(d, budget, &|p, q0, n| {
            let s = GsmSettings {
                batch_size: 2,
                max_iters: n,
            };
            let mut rng = Pcg64::seed_from_u64(1);
            gsm(p, q0, &s, &mut rng, &mut |_| ControlFlow::Continue(())).expect("gsm runs")
        });
    }
}

#[test]
fn bam_reaches_gaussian_targets() {
    for (d, budget) in [(2, 20), (8, 20), (16, 40)] {
        check_reaches(d, budget, &|p, q0, n| {
            let s = BamSettings {
                batch_size: 10,
                max_iters: n,
                schedule: Schedule::Decaying { scale: 1.0 },
            };
            let mut rng = Pcg64::seed_from_u64(1);
            bam(p, q0, &s, &mut rng, &mut |_| ControlFlow::Continue(())).expect("bam runs")
        });
    }
}

#[test]
fn bam_with_large_constant_rate_and_b_above_d_is_nearly_one_step() {
    // With B ≥ d + 1 draws the scores determine a Gaussian target exactly, and λ → ∞ drops the
    // proximal term (Cai et al. 2024, §3): a few iterations suffice.
    for d in [2, 8, 16] {
        check_reaches(d, 6, &|p, q0, n| {
            let s = BamSettings {
                batch_size: d + 1,
                max_iters: n,
                schedule: Schedule::Constant(1e6),
            };
            let mut rng = Pcg64::seed_from_u64(3);
            bam(p, q0, &s, &mut rng, &mut |_| ControlFlow::Continue(())).expect("bam runs")
        });
    }
}

#[test]
fn q_equal_to_p_is_a_fixed_point() {
    let p = common::gaussian(8, 100.0, 5);
    let mut rng = Pcg64::seed_from_u64(2);
    let s = GsmSettings {
        batch_size: 3,
        max_iters: 5,
    };
    let out = gsm(&p, &p, &s, &mut rng, &mut |_| ControlFlow::Continue(())).expect("gsm runs");
    assert!(kl_divergence(&out.q, &p).expect("dim") < 1e-12);
    let s = BamSettings {
        batch_size: 3,
        max_iters: 5,
        schedule: Schedule::Constant(2.0),
    };
    let out = bam(&p, &p, &s, &mut rng, &mut |_| ControlFlow::Continue(())).expect("bam runs");
    assert!(kl_divergence(&out.q, &p).expect("dim") < 1e-12);
}

#[test]
fn pathfinder_on_a_gaussian_recovers_mean_and_covariance_with_j_at_least_d() {
    // On a quadratic −log p with near-exact line searches, L-BFGS takes conjugate steps, so
    // with J ≥ d pairs the compact inverse Hessian is the exact Σ (quadratic termination,
    // Nocedal & Wright 2006, Thm 6.4), and the Newton step from any iterate is the exact mean.
    for d in [2usize, 8] {
        let p = common::gaussian(d, 100.0, 21 + d as u64);
        let s = PathfinderSettings {
            history: d,
            n_paths: 1,
            line_search_c2: 1e-6,
            ..PathfinderSettings::default()
        };
        let mut rng = Pcg64::seed_from_u64(4);
        let init = vec![3.0; d];
        let out = pathfinder(&p, &init, &s, &mut rng, &mut |_| ControlFlow::Continue(()))
            .expect("pathfinder runs");
        for (a, b) in out.q.mean().iter().zip(p.mean()) {
            assert!((a - b).abs() < 1e-6, "d = {d}: mean {a} vs {b}");
        }
        for (a, b) in out.q.covariance().iter().zip(p.covariance()) {
            assert!(
                (a - b).abs() < 1e-6 * 100.0,
                "d = {d}: covariance {a} vs {b}"
            );
        }
        // q = p: log p − log q is constant, so the ELBO is log Z = 0 and k̂ is that of flat weights.
        assert!(out.elbo.abs() < 1e-8, "elbo {}", out.elbo);
        assert!(out.pareto_k < 0.5);
        let x = &out.draws[..d];
        assert!(p.log_prob(x).is_finite());
    }
}
