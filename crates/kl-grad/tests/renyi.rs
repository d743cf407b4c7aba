//! The Rényi objectives: `RenyiExact` against the precision-form `kl_dist::renyi_divergence` (two
//! independent derivations), its α → 1 limit, the Monte Carlo objective's mean against the closed
//! form with a bias that shrinks with n, its smooth passage through α = 1, the optima (q = p for
//! the full-rank family; a derivative-free minimization of the closed form for the mean-field
//! family), and the typed errors.

use kl_dist::{LogDensity, Mvn, kl_divergence, renyi_divergence};
use kl_grad::{Error, Family, MeanField, Objective, Renyi, RenyiExact, ReverseKlExact, pack_theta};
use kl_opt::{Sgd, minimize};
use rand::SeedableRng;
use rand_pcg::Pcg64;

fn target() -> Mvn {
    Mvn::new(&[1.0, -1.0], &[1.0, 0.6, 0.6, 1.5]).expect("valid")
}

fn q_of(theta: &[f64]) -> Mvn {
    Mvn::from_factor(&theta[..2], &theta[2..]).expect("valid θ")
}

#[test]
fn exact_value_is_the_precision_form_divergence() {
    let p = target();
    let thetas = [
        pack_theta(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]),
        pack_theta(&[0.5, -0.3], &[0.8, 0.3, -0.2, 0.7]),
        pack_theta(&[1.0, -1.0], &[0.6, 0.0, 0.4, 0.9]),
    ];
    for alpha in [-0.5, 0.0, 0.1, 0.5, 0.9, 0.99, 1.0, 1.01, 1.5, 2.0] {
        let mut obj = RenyiExact::new(p.clone(), alpha).expect("finite α");
        for th in &thetas {
            let want = renyi_divergence(&q_of(th), &p, alpha).expect("valid");
            match obj.value(th) {
                Ok(got) => assert!(
                    (got - want).abs() <= 1e-10 * want.abs().max(1.0),
                    "α = {alpha}, θ = {th:?}: {got} vs {want}"
                ),
                Err(Error::InfiniteDivergence { .. }) => {
                    assert!(want.is_infinite(), "α = {alpha}: error but D = {want}")
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn exact_at_alpha_one_is_reverse_kl_and_continuous_near_it() {
    let p = target();
    let th = pack_theta(&[0.5, -0.3], &[0.8, 0.3, -0.2, 0.7]);
    let mut g_kl = vec![0.0; 6];
    let kl = ReverseKlExact::new(p.clone())
        .value_and_grad(&th, &mut g_kl)
        .expect("valid");
    let mut g = vec![0.0; 6];
    let v = RenyiExact::new(p.clone(), 1.0)
        .expect("finite")
        .value_and_grad(&th, &mut g)
        .expect("valid");
    assert_eq!((v, g.clone()), (kl, g_kl.clone()));
    for h in [1e-2, 1e-3, 1e-4, 1e-5, 1e-6] {
        for a in [1.0 - h, 1.0 + h] {
            let v = RenyiExact::new(p.clone(), a)
                .expect("finite")
                .value_and_grad(&th, &mut g)
                .expect("valid");
            assert!((v - kl).abs() <= 5.0 * h, "α = {a}: {v} vs KL {kl}");
            for (x, y) in g.iter().zip(&g_kl) {
                assert!(
                    (x - y).abs() <= 5.0 * h,
                    "α = {a}: gradient {g:?} vs {g_kl:?}"
                );
            }
        }
    }
}

/// Mean and standard error of the bias of `reps` independent Monte Carlo losses with n draws
/// each, with −r̄ as a control variate: −r̄ (the α = 1 loss on the same ε, known mean
/// KL(q ‖ p)) is strongly correlated with the loss, so
/// `bias = E[loss + r̄] − (D_α − KL)` is estimated with a far smaller standard error.
fn mc_bias(p: &Mvn, alpha: f64, n: usize, reps: usize, th: &[f64], seed: u64) -> (f64, f64) {
    let q = q_of(th);
    let offset =
        renyi_divergence(&q, p, alpha).expect("valid") - kl_divergence(&q, p).expect("valid");
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut obj = Renyi::new(p.clone(), alpha, n, &mut rng).expect("valid");
    let mut control = Renyi::new(p.clone(), 1.0, n, &mut rng).expect("valid");
    let (mut s, mut sq) = (0.0, 0.0);
    for _ in 0..reps {
        obj.resample_with(&mut rng);
        control.set_eps(obj.eps()).expect("same shape");
        let v = obj.value(th).expect("valid") - control.value(th).expect("valid");
        s += v;
        sq += v * v;
    }
    let r = reps as f64;
    let mean = s / r;
    (mean - offset, ((sq / r - mean * mean) / (r - 1.0)).sqrt())
}

/// E[loss] → D_α as n grows, and the bias (upwards for α < 1, downwards for α > 1, by Jensen)
/// shrinks: n = 10, 100, 1000, each strictly smaller than the last beyond 3 standard errors of
/// the difference, and O(1/n): the bias at n = 1000 is a tenth of that at n = 100 (within 4
/// standard errors and 30 %).
#[test]
fn monte_carlo_mean_meets_the_closed_form_and_its_bias_shrinks_with_n() {
    let p = target();
    // For α = 2, a q narrower than p: D_2 needs 2 Σp − Σ positive definite, and the estimator's
    // variance needs 3 Σp − 2 Σ to be (both are, here).
    let wide = pack_theta(&[0.3, -0.2], &[1.3, 0.0, 0.2, 1.1]);
    let narrow = pack_theta(&[0.3, -0.2], &[0.8, 0.0, 0.3, 0.9]);
    for (alpha, sign, th) in [(0.5, 1.0, wide), (2.0, -1.0, narrow)] {
        let runs: Vec<(usize, f64, f64)> = [(10, 20_000), (100, 16_000), (1000, 4_000)]
            .iter()
            .enumerate()
            .map(|(k, &(n, reps))| {
                let (b, se) = mc_bias(&p, alpha, n, reps, &th, 10 + k as u64);
                (n, b, se)
            })
            .collect();
        eprintln!("α = {alpha}: (n, bias, se) = {runs:?}");
        for w in runs.windows(2) {
            let ((n0, b0, s0), (n1, b1, s1)) = (w[0], w[1]);
            let se = (s0 * s0 + s1 * s1).sqrt();
            assert!(
                sign * b0 - sign * b1 > 3.0 * se && sign * b1 > -3.0 * s1,
                "α = {alpha}: bias {b0} at n = {n0} vs {b1} at n = {n1} (se {se})"
            );
        }
        let (_, b100, s100) = runs[1];
        let (_, b1000, s1000) = runs[2];
        assert!(
            (b1000 - b100 / 10.0).abs() <= 4.0 * (s1000 + s100 / 10.0) + 0.3 * b100.abs() / 10.0,
            "α = {alpha}: bias {b1000} at n = 1000 is not ≈ {} (O(1/n) from n = 100)",
            b100 / 10.0
        );
    }
}

/// Through α = 1 the loss is smooth: (loss(1 + h) − loss(1)) / h → ½ Var(rᵢ), the population
/// variance of rᵢ = log p(xᵢ) − log q(xᵢ), computed here from the points with `Mvn::log_prob`.
#[test]
fn monte_carlo_loss_is_smooth_through_alpha_one() {
    let p = target();
    let th = pack_theta(&[0.3, -0.2], &[1.3, 0.0, 0.2, 1.1]);
    let mut rng = Pcg64::seed_from_u64(5);
    let mut at_one = Renyi::new(p.clone(), 1.0, 200, &mut rng).expect("valid");
    let v1 = at_one.value(&th).expect("valid");
    let q = q_of(&th);
    let r: Vec<f64> = at_one
        .points()
        .chunks(2)
        .map(|x| p.log_prob(x) - q.log_prob(x))
        .collect();
    let mean = r.iter().sum::<f64>() / 200.0;
    let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 200.0;
    assert!((v1 + mean).abs() < 1e-12, "loss at α = 1 is −mean(r)");
    for h in [1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-11] {
        for a in [1.0 - h, 1.0 + h] {
            let mut obj = Renyi::new(p.clone(), a, 200, &mut rng).expect("valid");
            obj.set_eps(at_one.eps()).expect("same shape");
            let slope = (obj.value(&th).expect("valid") - v1) / (a - 1.0);
            assert!(
                // Truncation O(h), plus rounding of the two losses (~1e-16 each) over h.
                (slope - 0.5 * var).abs() <= 0.5 * var * 3.0 * h + 1e-15 / h,
                "α = {a}: slope {slope} vs ½ Var(r) = {}",
                0.5 * var
            );
        }
    }
}

/// Plain gradient descent with momentum on the closed form, to convergence.
fn descend<O: Objective>(obj: &mut O, theta0: &[f64], lr: f64, n_iters: usize) -> Vec<f64> {
    let mut opt = Sgd::new(lr).with_momentum(0.9);
    let records = minimize(theta0, &mut opt, n_iters, |_, t, g| {
        obj.value_and_grad(t, g)
    })
    .expect("converges");
    let last = records.last().expect("n_iters + 1 records");
    assert!(
        last.grad_norm < 1e-10,
        "not converged: |∇| = {}",
        last.grad_norm
    );
    last.theta.clone()
}

/// Step sizes: the curvature of D_α at its minimum scales with α; for α > 1 small enough that
/// the iterates stay where α Σp + (1 − α) Σ is positive definite.
fn lr(alpha: f64) -> f64 {
    if alpha > 1.0 { 0.02 } else { 0.05 / alpha }
}

#[test]
fn full_rank_optimum_is_the_target() {
    let p = target();
    let theta0 = pack_theta(&[0.0, 0.0], &[0.5, 0.0, 0.0, 0.5]);
    for alpha in [0.1, 0.5, 2.0] {
        let mut obj = RenyiExact::new(p.clone(), alpha).expect("finite");
        let th = descend(&mut obj, &theta0, lr(alpha), 6000);
        let cov = Family::FullRank.covariance(&th, 2).expect("shape");
        for (k, (c, cp)) in cov.iter().zip(p.covariance()).enumerate() {
            assert!((c - cp).abs() < 1e-8, "α = {alpha}: Σ[{k}] = {c} vs {cp}");
        }
        for (m, mp) in th[..2].iter().zip(p.mean()) {
            assert!((m - mp).abs() < 1e-8, "α = {alpha}: μ = {m} vs {mp}");
        }
        assert!(obj.value(&th).expect("valid").abs() < 1e-14);
    }
}

/// Nelder–Mead (reflection 1, expansion 2, contraction ½, shrink ½) from `x0` with initial
/// steps `step`, until the simplex's values agree to `ftol` (or `max_iter` iterations).
fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    ftol: f64,
    max_iter: usize,
) -> Vec<f64> {
    let n = x0.len();
    let mut simplex: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..n {
        let mut x = x0.to_vec();
        x[i] += step;
        simplex.push(x);
    }
    let mut values: Vec<f64> = simplex.iter().map(|x| f(x)).collect();
    for _ in 0..max_iter {
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        if (values[n] - values[0]).abs() <= ftol {
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|x| x[j]).sum::<f64>() / n as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|j| centroid[j] + t * (simplex[n][j] - centroid[j]))
                .collect()
        };
        let xr = along(-1.0);
        let fr = f(&xr);
        if fr < values[0] {
            let xe = along(-2.0);
            let fe = f(&xe);
            if fe < fr {
                (simplex[n], values[n]) = (xe, fe);
            } else {
                (simplex[n], values[n]) = (xr, fr);
            }
        } else if fr < values[n - 1] {
            (simplex[n], values[n]) = (xr, fr);
        } else {
            let xc = if fr < values[n] {
                along(-0.5)
            } else {
                along(0.5)
            };
            let fc = f(&xc);
            if fc < values[n].min(fr) {
                (simplex[n], values[n]) = (xc, fc);
            } else {
                for i in 1..=n {
                    let x: Vec<f64> = (0..n)
                        .map(|j| simplex[0][j] + 0.5 * (simplex[i][j] - simplex[0][j]))
                        .collect();
                    values[i] = f(&x);
                    simplex[i] = x;
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .expect("non-empty");
    simplex[best].clone()
}

/// The mean-field Rényi optimum on a correlated Gaussian, for several α, by gradient descent on
/// `MeanField<RenyiExact>` and by Nelder–Mead on `renyi_divergence` over (μ, log σ): they agree.
/// And the optimum is mode seeking as α grows: σ shrinks with α.
#[test]
fn mean_field_optimum_matches_a_derivative_free_minimization() {
    let p = target();
    let x0 = [0.0, 0.0, 0.0, 0.0];
    let mut sigmas = Vec::new();
    for alpha in [0.3, 0.5, 1.5, 2.0] {
        let mut obj = MeanField::new(RenyiExact::new(p.clone(), alpha).expect("finite"));
        let th = descend(&mut obj, &x0, lr(alpha), 6000);
        let f = |x: &[f64]| {
            let q = Mvn::new(&x[..2], &[(2.0 * x[2]).exp(), 0.0, 0.0, (2.0 * x[3]).exp()])
                .expect("valid");
            renyi_divergence(&q, &p, alpha).expect("valid")
        };
        let mut nm = nelder_mead(&f, &x0, 0.5, 1e-15, 20_000);
        // Restart once from the result (the standard guard against a collapsed simplex).
        nm = nelder_mead(&f, &nm, 0.05, 1e-16, 20_000);
        for (k, (a, b)) in th.iter().zip(&nm).enumerate() {
            assert!(
                (a - b).abs() < 1e-5,
                "α = {alpha}, θ[{k}]: gradient descent {a} vs Nelder–Mead {b}"
            );
        }
        assert!((f(&th) - f(&nm)).abs() < 1e-12);
        sigmas.push((th[2], th[3]));
    }
    assert!(
        sigmas
            .windows(2)
            .all(|w| w[1].0 < w[0].0 && w[1].1 < w[0].1),
        "log σ decreases with α: {sigmas:?}"
    );
}

/// The ESS is n at α = 1 (uniform weights) and at q = p for any α (every rᵢ is 0 up to
/// rounding), and below n otherwise; it is reported after each evaluation.
#[test]
fn ess_of_the_weights() {
    let p = target();
    let c = p.cholesky().factor().to_vec();
    let at_p = pack_theta(p.mean(), &c);
    let away = pack_theta(&[0.3, -0.2], &[1.3, 0.0, 0.2, 1.1]);
    let mut rng = Pcg64::seed_from_u64(9);
    for alpha in [-1.0, 0.0, 0.5, 2.0, 5.0] {
        let mut obj = Renyi::new(p.clone(), alpha, 400, &mut rng).expect("valid");
        obj.value(&at_p).expect("valid");
        let ess = obj.ess().expect("evaluated");
        assert!(
            (ess - 400.0).abs() < 1e-9,
            "α = {alpha}: ESS {ess} at q = p"
        );
        assert!(
            obj.value(&at_p).expect("valid").abs() < 1e-12,
            "D_α(p ‖ p) = 0"
        );
        obj.value(&away).expect("valid");
        let ess = obj.ess().expect("evaluated");
        assert!(
            (1.0..399.0).contains(&ess),
            "α = {alpha}: ESS {ess} away from p"
        );
        obj.resample_with(&mut rng);
        assert_eq!(obj.ess(), None, "new draws, no weights yet");
    }
    let mut one = Renyi::new(p, 1.0, 400, &mut rng).expect("valid");
    one.value(&away).expect("valid");
    assert_eq!(one.ess(), Some(400.0));
}

#[test]
fn errors() {
    let p = target();
    let mut rng = Pcg64::seed_from_u64(1);
    for a in [f64::NAN, f64::INFINITY] {
        assert!(matches!(
            Renyi::new(p.clone(), a, 10, &mut rng),
            Err(Error::InvalidArgument { what: "alpha", .. })
        ));
        assert!(matches!(
            RenyiExact::new(p.clone(), a),
            Err(Error::InvalidArgument { what: "alpha", .. })
        ));
    }
    assert!(matches!(
        Renyi::new(p.clone(), 0.5, 0, &mut rng),
        Err(Error::NoSamples)
    ));
    let mut obj = Renyi::new(p.clone(), 0.5, 4, &mut rng).expect("valid");
    assert_eq!(obj.ess(), None, "no evaluation yet");
    assert_eq!(
        obj.set_eps(&[0.0; 3]),
        Err(Error::DimensionMismatch {
            what: "eps",
            expected: 8,
            got: 3
        })
    );
    let good = pack_theta(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]);
    let mut g = vec![0.0; 5];
    assert_eq!(
        obj.value_and_grad(&good, &mut g),
        Err(Error::DimensionMismatch {
            what: "gradient",
            expected: 6,
            got: 5
        })
    );
    assert_eq!(
        obj.value(&[0.0, 0.0, 1.0, 2.0, 2.0, 4.0]),
        Err(Error::SingularModel { pivot: 1 })
    );
    // α = 2 with Σ = 9 I ≥ 2 Σp: D_2 = +∞, a typed error naming α, and the objective recovers.
    let mut exact = RenyiExact::new(p, 2.0).expect("finite");
    let wide = pack_theta(&[0.0, 0.0], &[3.0, 0.0, 0.0, 3.0]);
    assert!(matches!(
        exact.value(&wide),
        Err(Error::InfiniteDivergence { alpha: 2.0, .. })
    ));
    assert!(exact.value(&good).expect("finite here").is_finite());
    let msg = Error::InfiniteDivergence {
        alpha: 2.0,
        pivot: 0,
    }
    .to_string();
    assert!(msg.contains("order 2") && msg.contains("pivot 0"), "{msg}");
}
