//! Forward KL by importance sampling: consistent for the exact forward-KL gradient on a mixture
//! target (where the exact one is the cross-entropy of the moment-matched Gaussian), ESS = n at
//! q = p, the freezing rules, unnormalized targets (here and for `Renyi`), and the errors.

use kl_dist::{LogDensity, Mixture, Mvn};
use kl_grad::{Error, ForwardKlExact, ForwardKlIs, Objective, Renyi, pack_theta};
use rand::SeedableRng;
use rand_pcg::Pcg64;

fn mixture() -> Mixture {
    let a = Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]).expect("valid");
    let b = Mvn::new(&[-2.5, 2.5], &[0.5, 0.1, 0.1, 0.5]).expect("valid");
    Mixture::new(&[0.8, 0.2], vec![a, b]).expect("valid")
}

/// The target shifted by a constant: log p̃ = log p + c.
#[derive(Debug, Clone)]
struct Shifted<P>(P, f64);

impl<P: LogDensity> LogDensity for Shifted<P> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn log_prob(&self, x: &[f64]) -> f64 {
        self.0.log_prob(x) + self.1
    }
    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.0.grad_log_prob(x, grad) + self.1
    }
}

/// A "density" that is zero everywhere.
#[derive(Debug)]
struct Nowhere;

impl LogDensity for Nowhere {
    fn dim(&self) -> usize {
        2
    }
    fn log_prob(&self, _: &[f64]) -> f64 {
        f64::NEG_INFINITY
    }
    fn grad_log_prob(&self, _: &[f64], grad: &mut [f64]) -> f64 {
        grad.fill(0.0);
        f64::NEG_INFINITY
    }
}

/// At the proposal θ_d = θ (a broad q that covers both modes), the mean of R independent
/// importance-sampling gradients (n = 20 000 each) is within 4 standard errors + 1e-3 of the
/// exact forward-KL gradient, i.e. of the cross-entropy of p's moments (for Gaussian q,
/// −E_p[log q] depends on p only through its mean and covariance). The value likewise, against
/// `ForwardKlExact(moment-matched p) + its entropy`. And the error shrinks with n.
#[test]
fn large_n_meets_the_exact_forward_kl_gradient() {
    let p = mixture();
    let mm = p.moment_matched();
    let th = pack_theta(&[-0.5, 0.5], &[2.5, 0.0, -0.8, 2.2]);
    let mut exact_g = vec![0.0; 6];
    let exact = ForwardKlExact::new(mm.clone())
        .value_and_grad(&th, &mut exact_g)
        .expect("valid")
        + mm.entropy();
    let mut rng = Pcg64::seed_from_u64(7);
    let mut errors = Vec::new();
    for n in [200, 20_000] {
        let reps = 16;
        let mut obj = ForwardKlIs::new(p.clone(), n, &mut rng).expect("n ≥ 1");
        let (mut s, mut sq) = (vec![0.0; 7], vec![0.0; 7]);
        let mut g = vec![0.0; 6];
        for _ in 0..reps {
            obj.resample_with(&mut rng);
            let v = obj.value_and_grad(&th, &mut g).expect("valid");
            assert_eq!(obj.frozen_at(), Some(&th[..]), "frozen at the first θ");
            for (k, x) in g.iter().chain([v].iter()).enumerate() {
                s[k] += x;
                sq[k] += x * x;
            }
        }
        let r = reps as f64;
        let mut worst = 0.0f64;
        for k in 0..7 {
            let mean = s[k] / r;
            let se = ((sq[k] / r - mean * mean) / (r - 1.0)).sqrt();
            let want = if k < 6 { exact_g[k] } else { exact };
            worst = worst.max((mean - want).abs());
            if n == 20_000 {
                assert!(
                    (mean - want).abs() <= 4.0 * se + 1e-3,
                    "n = {n}, entry {k}: mean {mean} vs exact {want} (se {se})"
                );
            }
        }
        eprintln!("n = {n}: largest |mean − exact| over the gradient and value: {worst:e}");
        errors.push(worst);
    }
    assert!(errors[1] < errors[0] / 3.0, "errors {errors:?}");
}

/// q = p exactly (with a non-triangular factor of Σp: L = C R for a rotation R): every weight
/// is 1/n and the ESS is n; the gradient is then that of ForwardKlSamples on the same points.
#[test]
fn ess_is_n_when_q_is_p() {
    let p = Mvn::new(&[1.0, -0.5], &[1.5, 0.4, 0.4, 0.8]).expect("valid");
    let c = p.cholesky().factor().to_vec();
    let (cs, sn) = (0.6f64, 0.8f64);
    let rot = [cs, -sn, sn, cs];
    let l: Vec<f64> = (0..4)
        .map(|k| {
            (0..2)
                .map(|m| c[(k / 2) * 2 + m] * rot[m * 2 + k % 2])
                .sum()
        })
        .collect();
    let th = pack_theta(p.mean(), &l);
    let mut rng = Pcg64::seed_from_u64(3);
    for n in [1, 10, 5000] {
        let mut obj = ForwardKlIs::new(p.clone(), n, &mut rng).expect("n ≥ 1");
        assert_eq!(obj.ess(), None);
        obj.freeze(&th).expect("valid");
        let ess = obj.ess().expect("frozen");
        assert!(
            (ess - n as f64).abs() <= 1e-10 * n as f64,
            "n = {n}: ESS {ess}"
        );
        assert!(
            obj.weights()
                .iter()
                .all(|w| (w * n as f64 - 1.0).abs() < 1e-12)
        );
    }
    // And q ≠ p has ESS < n.
    let mut obj = ForwardKlIs::new(p, 5000, &mut rng).expect("n ≥ 1");
    obj.freeze(&pack_theta(&[0.0, 0.0], &[2.0, 0.0, 0.0, 2.0]))
        .expect("valid");
    let ess = obj.ess().expect("frozen");
    assert!(ess < 4500.0 && ess > 100.0, "ESS {ess}");
}

#[test]
fn draws_are_frozen_until_resampled() {
    let p = mixture();
    let mut rng = Pcg64::seed_from_u64(11);
    let mut obj = ForwardKlIs::new(p, 50, &mut rng).expect("n ≥ 1");
    assert!(obj.is_stochastic() && obj.frozen_at().is_none());
    let a = pack_theta(&[0.0, 0.0], &[2.0, 0.0, 0.0, 2.0]);
    let b = pack_theta(&[0.5, 0.5], &[1.0, 0.2, 0.0, 1.5]);
    let va = obj.value(&a).expect("valid");
    let points = obj.points().to_vec();
    let vb = obj.value(&b).expect("valid");
    assert_eq!(obj.frozen_at(), Some(&a[..]));
    assert_eq!(obj.points(), &points[..], "evaluating at b does not redraw");
    // Freezing at b explicitly gives other points; resampling unfreezes.
    obj.freeze(&b).expect("valid");
    assert_ne!(obj.points(), &points[..]);
    assert_ne!(obj.value(&b).expect("valid"), vb);
    let eps = obj.eps().to_vec();
    obj.set_eps(&eps).expect("same shape");
    assert!(obj.frozen_at().is_none() && obj.ess().is_none());
    assert_eq!(
        obj.value(&a).expect("valid"),
        va,
        "same ε, same θ_d: same value"
    );
    obj.resample(&mut rng);
    assert!(obj.frozen_at().is_none());
}

/// log p̃ = log p + c: importance sampling's weights and so its value and gradient do not move;
/// the Rényi loss moves by exactly −c and its gradient does not.
#[test]
fn unnormalized_targets() {
    let p = mixture();
    let th = pack_theta(&[-0.5, 0.5], &[1.5, 0.0, -0.3, 1.4]);
    let c = 12.5;
    let (mut g1, mut g2) = (vec![0.0; 6], vec![0.0; 6]);

    let mut a = ForwardKlIs::new(p.clone(), 300, &mut Pcg64::seed_from_u64(1)).expect("n ≥ 1");
    let mut b =
        ForwardKlIs::new(Shifted(p.clone(), c), 300, &mut Pcg64::seed_from_u64(1)).expect("n ≥ 1");
    let va = a.value_and_grad(&th, &mut g1).expect("valid");
    let vb = b.value_and_grad(&th, &mut g2).expect("valid");
    assert!((va - vb).abs() < 1e-12);
    assert!(g1.iter().zip(&g2).all(|(x, y)| (x - y).abs() < 1e-12));
    assert!((a.ess().expect("weights") - b.ess().expect("weights")).abs() < 1e-9);

    for alpha in [-1.0, 0.0, 0.5, 1.0, 3.0] {
        let mut a = Renyi::new(p.clone(), alpha, 300, &mut Pcg64::seed_from_u64(2)).expect("ok");
        let mut b = Renyi::new(
            Shifted(p.clone(), c),
            alpha,
            300,
            &mut Pcg64::seed_from_u64(2),
        )
        .expect("ok");
        let va = a.value_and_grad(&th, &mut g1).expect("valid");
        let vb = b.value_and_grad(&th, &mut g2).expect("valid");
        assert!(
            (va - c - vb).abs() < 1e-10,
            "α = {alpha}: {va} − {c} vs {vb}"
        );
        assert!(
            g1.iter().zip(&g2).all(|(x, y)| (x - y).abs() < 1e-10),
            "α = {alpha}: {g1:?} vs {g2:?}"
        );
    }
}

#[test]
fn errors() {
    let mut rng = Pcg64::seed_from_u64(1);
    assert!(matches!(
        ForwardKlIs::new(mixture(), 0, &mut rng),
        Err(Error::NoSamples)
    ));
    let mut obj = ForwardKlIs::new(mixture(), 5, &mut rng).expect("n ≥ 1");
    let singular = pack_theta(&[0.0, 0.0], &[1.0, 2.0, 2.0, 4.0]);
    assert_eq!(
        obj.freeze(&singular),
        Err(Error::SingularModel { pivot: 1 })
    );
    assert!(obj.frozen_at().is_none());
    assert_eq!(
        obj.freeze(&[0.0; 5]),
        Err(Error::DimensionMismatch {
            what: "theta",
            expected: 6,
            got: 5
        })
    );
    assert_eq!(
        obj.set_eps(&[0.0; 4]),
        Err(Error::DimensionMismatch {
            what: "eps",
            expected: 10,
            got: 4
        })
    );
    let good = pack_theta(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]);
    assert!(obj.value(&good).expect("recovers").is_finite());

    let mut nowhere = ForwardKlIs::new(Nowhere, 5, &mut rng).expect("n ≥ 1");
    assert_eq!(
        nowhere.value(&good),
        Err(Error::DegenerateWeights {
            max_log_weight: f64::NEG_INFINITY
        })
    );
    let mut renyi = Renyi::new(Nowhere, 0.5, 5, &mut rng).expect("valid");
    assert_eq!(
        renyi.value(&good),
        Err(Error::DegenerateWeights {
            max_log_weight: f64::NEG_INFINITY
        })
    );
    assert!(
        Error::DegenerateWeights {
            max_log_weight: f64::NEG_INFINITY
        }
        .to_string()
        .contains("-inf")
    );
}
