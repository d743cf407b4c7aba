//! Objective values against direct computations with `kl-dist`: `ForwardKlSamples` is
//! −mean(log q) over its samples, `ForwardKlExact` is D(p ‖ q) (0 at q = p), `ReverseKlExact` is
//! D(q ‖ p), and `ReverseKl` with fixed ε is (1/n) Σ [log q(xᵢ) − log p(xᵢ)], xᵢ = μ + L εᵢ.

use kl_dist::{AnyDensity, LogDensity, Mvn, kl_divergence};
use kl_grad::{
    Estimator, ForwardKlExact, ForwardKlSamples, Objective, ReverseKl, ReverseKlExact, pack_theta,
    split_theta,
};
use kl_testkit::{assert_close, mixture, mvn, theta, vector};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;

fn model(th: &[f64], d: usize) -> Mvn {
    let (mu, l) = split_theta(th, d);
    Mvn::from_factor(mu, l).expect("θ is non-singular")
}

proptest! {
    #![proptest_config(kl_testkit::config(64, "proptest-regressions/values.txt"))]

    #[test]
    fn forward_kl_samples_is_the_mean_negative_log_likelihood(
        (d, xs, th) in (1usize..=5, 1usize..=45)
            .prop_flat_map(|(d, n)| (Just(d), vector(n * d, 3.0), theta(d)))
    ) {
        let n = xs.len() / d;
        let mut obj = ForwardKlSamples::new(&xs, d).expect("valid");
        prop_assert_eq!(obj.n_samples(), n);
        let q = model(&th, d);
        let mut lp = vec![0.0; n];
        q.log_prob_batch(&xs, &mut lp);
        let want = -lp.iter().sum::<f64>() / n as f64;
        let got = obj.value(&th).expect("valid");
        prop_assert!((got - want).abs() <= 1e-10 * want.abs().max(1.0), "{} vs {}", got, want);
    }

    #[test]
    fn forward_kl_exact_is_the_closed_form_divergence(
        (p, th) in (1usize..=5).prop_flat_map(|d| (mvn(d), theta(d)))
    ) {
        let d = p.dim();
        let want = kl_divergence(&p, &model(&th, d)).expect("same d");
        let got = ForwardKlExact::new(p).value(&th).expect("valid");
        prop_assert!((got - want).abs() <= 1e-10 * want.abs().max(1.0), "{} vs {}", got, want);
    }

    #[test]
    fn reverse_kl_exact_is_the_closed_form_divergence(
        (p, th) in (1usize..=5).prop_flat_map(|d| (mvn(d), theta(d)))
    ) {
        let d = p.dim();
        let want = kl_divergence(&model(&th, d), &p).expect("same d");
        let mut obj = ReverseKlExact::new(p);
        let got = obj.value(&th).expect("valid");
        prop_assert!((got - want).abs() <= 1e-10 * want.abs().max(1.0), "{} vs {}", got, want);
        let mut g = vec![0.0; th.len()];
        let got = obj.value_and_grad(&th, &mut g).expect("valid");
        prop_assert!((got - want).abs() <= 1e-10 * want.abs().max(1.0), "{} vs {}", got, want);
    }

    #[test]
    fn reverse_kl_value_is_the_sample_mean_of_log_q_minus_log_p(
        (p, th, eps) in (1usize..=5, 1usize..=4, 1usize..=20).prop_flat_map(|(d, k, n)| (
            prop_oneof![mvn(d).prop_map(AnyDensity::Mvn), mixture(d, k).prop_map(AnyDensity::Mixture)],
            theta(d),
            vector(n * d, 3.0),
        ))
    ) {
        let d = p.dim();
        let n = eps.len() / d;
        let (mu, l) = split_theta(&th, d);
        let q = model(&th, d);
        let mut xs = vec![0.0; n * d];
        let mut want = 0.0;
        for (x, e) in xs.chunks_mut(d).zip(eps.chunks(d)) {
            for i in 0..d {
                x[i] = mu[i] + (0..d).map(|j| l[i * d + j] * e[j]).sum::<f64>();
            }
            want += (q.log_prob(x) - p.log_prob(x)) / n as f64;
        }
        for estimator in [Estimator::Total, Estimator::Stl] {
            let mut rng = Pcg64::seed_from_u64(0);
            let mut obj = ReverseKl::new(p.clone(), n, estimator, &mut rng).expect("n ≥ 1");
            obj.set_eps(&eps).expect("shape");
            prop_assert_eq!(obj.eps(), &eps[..]);
            let got = obj.value(&th).expect("valid");
            prop_assert!((got - want).abs() <= 1e-10 * want.abs().max(1.0), "{} vs {}", got, want);
            for (a, b) in obj.points().iter().zip(&xs) {
                prop_assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()));
            }
            let mut g = vec![0.0; th.len()];
            let got = obj.value_and_grad(&th, &mut g).expect("valid");
            prop_assert!((got - want).abs() <= 1e-10 * want.abs().max(1.0), "{} vs {}", got, want);
        }
    }
}

#[test]
fn forward_kl_exact_is_zero_at_q_equals_p() {
    let p = Mvn::new(&[1.0, -1.0, 0.5], &kl_testkit::fixed_spd(3, 0.5)).expect("valid");
    let c = p.cholesky().factor().to_vec();
    // The Cholesky factor itself, its negation, and a non-triangular C Q (Q a rotation in the
    // (0, 2) plane): all give q = p.
    let (ct, st) = (0.8f64.cos(), 0.8f64.sin());
    let q_rot = [ct, 0.0, -st, 0.0, 1.0, 0.0, st, 0.0, ct];
    let mut cq = vec![0.0; 9];
    kl_dist::dense::matmul(&c, &q_rot, 3, 3, 3, &mut cq);
    let neg: Vec<f64> = c.iter().map(|v| -v).collect();
    for l in [c.clone(), neg, cq] {
        let th = pack_theta(p.mean(), &l);
        for mut obj in [
            Box::new(ForwardKlExact::new(p.clone())) as Box<dyn Objective>,
            Box::new(ReverseKlExact::new(p.clone())),
        ] {
            let mut g = vec![0.0; th.len()];
            let v = obj.value_and_grad(&th, &mut g).expect("valid");
            assert!(v.abs() < 1e-13, "value at q = p: {v}");
            assert!(
                g.iter().all(|x| x.abs() < 1e-12),
                "gradient at q = p: {g:?}"
            );
        }
    }
    // And positive elsewhere.
    let mut th = pack_theta(p.mean(), &c);
    th[0] += 0.1;
    assert!(ForwardKlExact::new(p).value(&th).expect("valid") > 1e-4);
}

#[test]
fn forward_kl_samples_exposes_its_sufficient_statistics() {
    let xs = [1.0, 2.0, 3.0, 0.0, -1.0, 4.0];
    let obj = ForwardKlSamples::new(&xs, 2).expect("valid");
    assert_eq!(obj.sample_mean(), &[1.0, 2.0]);
    // Centred: (0, 0), (2, −2), (−2, 2); (1/n) Σ c cᵀ = [[8, −8], [−8, 8]] / 3.
    let c = obj.sample_covariance();
    for (a, b) in c.iter().zip([8.0 / 3.0, -8.0 / 3.0, -8.0 / 3.0, 8.0 / 3.0]) {
        assert_close(*a, b, 1e-15, "sample covariance");
    }
}

#[test]
fn reverse_kl_resampling_is_seeded_and_stochastic() {
    let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).expect("valid");
    let mut a = ReverseKl::new(p.clone(), 5, Estimator::Total, &mut Pcg64::seed_from_u64(3))
        .expect("n ≥ 1");
    let b = ReverseKl::new(p, 5, Estimator::Stl, &mut Pcg64::seed_from_u64(3)).expect("n ≥ 1");
    assert_eq!(a.eps(), b.eps(), "same seed, same ε");
    assert_eq!((a.n_samples(), a.estimator()), (5, Estimator::Total));
    assert!(a.is_stochastic());
    assert!(!ForwardKlExact::new(a.target().clone()).is_stochastic());
    let before = a.eps().to_vec();
    a.resample(&mut Pcg64::seed_from_u64(4));
    assert_eq!(a.eps().len(), before.len());
    assert!(
        a.eps().iter().zip(&before).all(|(x, y)| x != y),
        "resample draws new ε"
    );
}
