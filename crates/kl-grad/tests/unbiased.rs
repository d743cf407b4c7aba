//! Both reverse-KL gradient estimators are unbiased for ∇θ D(q ‖ p) (the `ReverseKlExact`
//! gradient, for a Gaussian target): the mean of many draws, fresh ε each, is within 4 standard
//! errors of it. And STL is exactly zero at q = p whatever ε, where the total derivative is not.

use kl_dist::{AnyDensity, Mvn};
use kl_grad::{Estimator, Objective, ReverseKl, ReverseKlExact, pack_theta};
use rand::SeedableRng;
use rand_pcg::Pcg64;

fn target() -> Mvn {
    Mvn::new(
        &[1.0, -0.5, 0.3],
        &[1.5, 0.4, -0.2, 0.4, 1.0, 0.3, -0.2, 0.3, 0.8],
    )
    .expect("valid")
}

#[test]
fn the_mean_of_many_estimates_is_the_exact_gradient() {
    let p = target();
    let theta = pack_theta(
        &[0.2, 0.4, -0.6],
        &[0.9, 0.2, -0.1, 0.3, 1.2, 0.1, -0.2, 0.25, 0.7],
    );
    let np = theta.len();
    let mut exact = vec![0.0; np];
    let kl = ReverseKlExact::new(p.clone())
        .value_and_grad(&theta, &mut exact)
        .expect("valid");
    let reps = 20_000;
    for (seed, estimator) in [(1, Estimator::Total), (2, Estimator::Stl)] {
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut obj =
            ReverseKl::new(AnyDensity::Mvn(p.clone()), 1, estimator, &mut rng).expect("n ≥ 1");
        let (mut sum, mut sq) = (vec![0.0; np], vec![0.0; np]);
        let (mut vsum, mut vsq) = (0.0, 0.0);
        let mut g = vec![0.0; np];
        for _ in 0..reps {
            obj.resample(&mut rng);
            let v = obj.value_and_grad(&theta, &mut g).expect("valid");
            vsum += v;
            vsq += v * v;
            for k in 0..np {
                sum[k] += g[k];
                sq[k] += g[k] * g[k];
            }
        }
        let r = reps as f64;
        let se = |s: f64, q: f64| ((q / r - (s / r).powi(2)) * r / (r - 1.0) / r).sqrt();
        for k in 0..np {
            let (mean, err) = (sum[k] / r, se(sum[k], sq[k]));
            assert!(
                (mean - exact[k]).abs() <= 4.0 * err,
                "{estimator:?}, θ[{k}]: mean {mean} vs exact {} ({:.2} standard errors of {err:e})",
                exact[k],
                (mean - exact[k]).abs() / err
            );
        }
        // The value is an unbiased estimate of D(q ‖ p) too.
        let (mean, err) = (vsum / r, se(vsum, vsq));
        assert!(
            (mean - kl).abs() <= 4.0 * err,
            "{estimator:?}: mean value {mean} vs D(q ‖ p) = {kl} ± {err}"
        );
    }
}

#[test]
fn stl_is_zero_at_q_equals_p_for_any_draws() {
    let p = target();
    // θ = (μp, C Q) with Q a rotation: q = p but L is not p's Cholesky factor.
    let c = p.cholesky().factor().to_vec();
    let (ct, st) = (0.5f64.cos(), 0.5f64.sin());
    let q = [ct, -st, 0.0, st, ct, 0.0, 0.0, 0.0, 1.0];
    let mut l = vec![0.0; 9];
    kl_dist::dense::matmul(&c, &q, 3, 3, 3, &mut l);
    let theta = pack_theta(p.mean(), &l);
    let mut rng = Pcg64::seed_from_u64(9);
    let mut stl =
        ReverseKl::new(AnyDensity::Mvn(p.clone()), 7, Estimator::Stl, &mut rng).expect("n ≥ 1");
    let mut total =
        ReverseKl::new(AnyDensity::Mvn(p), 7, Estimator::Total, &mut rng).expect("n ≥ 1");
    let mut g = vec![0.0; theta.len()];
    let mut total_norm = 0.0f64;
    for round in 0..200 {
        stl.resample(&mut rng);
        if round % 50 == 0 {
            // Far-out draws as well.
            let big: Vec<f64> = stl.eps().iter().map(|e| e * 100.0).collect();
            stl.set_eps(&big).expect("shape");
        }
        let scale = stl.eps().iter().fold(1.0f64, |m, e| m.max(e.abs()));
        stl.value_and_grad(&theta, &mut g).expect("valid");
        for (k, v) in g.iter().enumerate() {
            assert!(
                v.abs() <= 1e-13 * scale * scale,
                "round {round}: STL gradient θ[{k}] = {v} at q = p"
            );
        }
        total.set_eps(stl.eps()).expect("shape");
        total.value_and_grad(&theta, &mut g).expect("valid");
        total_norm = total_norm.max(g.iter().fold(0.0, |m, v| m.max(v.abs())));
    }
    // The total derivative is unbiased for 0 there, but not 0 draw by draw.
    assert!(
        total_norm > 0.1,
        "total-derivative gradient at q = p: {total_norm}"
    );
}
