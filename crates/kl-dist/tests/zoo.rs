//! The target zoo: scores against finite differences, normalization by quadrature or statrs,
//! sampling moments against closed forms, batch = per-point, and the AnyDensity surface.

use kl_dist::{AnyDensity, Banana, Funnel, LogDensity, Ring, Sample, StudentT};
use kl_testkit::{assert_close, check_gradient, config, spd, vector};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use statrs::distribution::{Continuous, Normal, StudentsT};
use statrs::function::erf::erfc;
use statrs::function::gamma::ln_gamma as statrs_ln_gamma;

/// Checks the analytic score of `p` at `x` against finite differences of `log_prob`.
fn check_score<D: LogDensity>(what: &str, p: &D, x: &[f64]) -> Result<(), TestCaseError> {
    let mut g = vec![0.0; x.len()];
    let lp = p.grad_log_prob(x, &mut g);
    prop_assert!(
        (lp - p.log_prob(x)).abs() <= 1e-12 * lp.abs().max(1.0),
        "{what}: grad_log_prob returns log_prob"
    );
    check_gradient(what, &mut |y| p.log_prob(y), x, &g)
}

proptest! {
    #![proptest_config(config(64, "proptest-regressions/zoo.txt"))]

    #[test]
    fn banana_score(a in 0.5..2.0f64, b in -1.0..1.0f64, x in vector(2, 3.0)) {
        check_score("banana", &Banana::new(a, b).expect("valid"), &x)?;
    }

    #[test]
    fn funnel_score(d in 2usize..6, s in 0.5..3.0f64, x0 in -2.0..2.0f64, rest in vector(5, 3.0)) {
        let mut x = vec![x0];
        x.extend_from_slice(&rest[..d - 1]);
        check_score("funnel", &Funnel::new(d, s).expect("valid"), &x)?;
    }

    #[test]
    fn student_t_score(
        (d, mean, scale, x) in (1usize..5).prop_flat_map(|d| (Just(d), vector(d, 2.0), spd(d), vector(d, 4.0))),
        nu in 0.5..20.0f64,
    ) {
        let _ = d;
        check_score("student-t", &StudentT::new(nu, &mean, &scale).expect("valid"), &x)?;
    }

    #[test]
    fn ring_score(
        (d, x) in (1usize..5).prop_flat_map(|d| (Just(d), vector(d, 3.0))),
        r in 0.0..3.0f64,
        w in 0.3..2.0f64,
    ) {
        // Away from the cone point at 0 (where the score is defined, not differentiable).
        let rho = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        prop_assume!(rho > 0.5);
        check_score("ring", &Ring::with_dim(d, r, w).expect("valid"), &x)?;
    }

    #[test]
    fn ln_gamma_matches_statrs(x in 1e-3..200.0f64) {
        let (ours, theirs) = (kl_dist::ln_gamma(x), statrs_ln_gamma(x));
        prop_assert!((ours - theirs).abs() <= 1e-12 * theirs.abs().max(1.0), "x = {x}: {ours} vs {theirs}");
    }

    #[test]
    fn from_fn_passes_the_closure_through(x in vector(3, 2.0)) {
        let p = kl_dist::from_fn(3, |x: &[f64], g: &mut [f64]| {
            let mut s = 0.0;
            for (gi, xi) in g.iter_mut().zip(x) {
                *gi = -xi.powi(3);
                s -= 0.25 * xi.powi(4);
            }
            s
        }).expect("d = 3");
        check_score("from_fn", &p, &x)?;
        let want: f64 = -x.iter().map(|v| 0.25 * v.powi(4)).sum::<f64>();
        prop_assert_eq!(p.log_prob(&x), want);
    }
}

/// Trapezoid rule of `exp(log p)` over the square `[-h·n, h·n]² + centre` (tails assumed negligible).
fn integrate_2d<D: LogDensity>(p: &D, lo: [f64; 2], hi: [f64; 2], h: f64) -> f64 {
    let nx = ((hi[0] - lo[0]) / h).round() as usize;
    let ny = ((hi[1] - lo[1]) / h).round() as usize;
    let mut s = 0.0;
    for i in 0..=nx {
        let x = lo[0] + i as f64 * h;
        let wx = if i == 0 || i == nx { 0.5 } else { 1.0 };
        for j in 0..=ny {
            let y = lo[1] + j as f64 * h;
            let wy = if j == 0 || j == ny { 0.5 } else { 1.0 };
            s += wx * wy * p.log_prob(&[x, y]).exp();
        }
    }
    s * h * h
}

#[test]
fn banana_integrates_to_one() {
    for (a, b) in [(1.0, 0.5), (0.7, 1.0), (1.5, 0.0)] {
        let p = Banana::new(a, b).expect("valid");
        // x₁ within ±9a; x₂ within ±9 of the ridge b (x₁² − a²) over that range.
        let top = b * (81.0 * a * a - a * a) + 9.0;
        let z = integrate_2d(&p, [-9.0 * a, -b * a * a - 9.0], [9.0 * a, top], 0.02);
        assert_close(z, 1.0, 1e-9, &format!("banana a = {a}, b = {b}"));
    }
}

#[test]
fn ring_integrates_to_one_in_2d() {
    for (r, w) in [(2.0, 0.3), (1.0, 1.0), (0.0, 0.5)] {
        let p = Ring::new(r, w).expect("valid");
        let e = r + 12.0 * w;
        let z = integrate_2d(&p, [-e, -e], [e, e], w / 40.0);
        // The trapezoid rule loses its spectral accuracy at the cone point x = 0 when r > 0:
        // second-order there, on a density of e^{−r²/2w²} relative size.
        assert_close(z, 1.0, 1e-6, &format!("ring r = {r}, w = {w}"));
    }
}

#[test]
fn student_t_integrates_to_one_in_2d() {
    let p = StudentT::new(12.0, &[0.5, -1.0], &[1.0, 0.3, 0.3, 0.5]).expect("valid");
    // P(|t₁₂| > 50 σ) ≈ 1e-16 per axis.
    let z = integrate_2d(&p, [-50.0, -50.0], [50.0, 50.0], 0.04);
    assert_close(z, 1.0, 1e-8, "student-t ν = 12");
}

#[test]
fn student_t_matches_statrs_in_1d() {
    for (nu, mu, s2) in [
        (1.0, 0.0, 1.0),
        (3.5, 1.0, 4.0),
        (0.7, -2.0, 0.25),
        (30.0, 0.3, 2.0),
    ] {
        let ours = StudentT::new(nu, &[mu], &[s2]).expect("valid");
        let theirs = StudentsT::new(mu, f64::sqrt(s2), nu).expect("valid");
        for x in [-10.0, -1.0, 0.0, 0.4, 3.0, 100.0] {
            assert_close(
                ours.log_prob(&[x]),
                theirs.ln_pdf(x),
                1e-12,
                &format!("t ν = {nu} at {x}"),
            );
        }
    }
}

#[test]
fn student_t_matches_the_formula_in_2d() {
    // Σ = [[2, 0.5], [0.5, 1]]: det = 1.75, Σ⁻¹ = [[1, −0.5], [−0.5, 2]] / 1.75.
    let (nu, mu) = (4.5, [1.0, -0.5]);
    let p = StudentT::new(nu, &mu, &[2.0, 0.5, 0.5, 1.0]).expect("valid");
    for x in [[0.0, 0.0], [3.0, -2.0], [-10.0, 7.0]] {
        let (u, v) = (x[0] - mu[0], x[1] - mu[1]);
        let q = (u * u - u * v + 2.0 * v * v) / 1.75;
        let want = statrs_ln_gamma((nu + 2.0) / 2.0)
            - statrs_ln_gamma(nu / 2.0)
            - (nu * std::f64::consts::PI).ln()
            - 0.5 * 1.75f64.ln()
            - (nu + 2.0) / 2.0 * (1.0 + q / nu).ln();
        assert_close(p.log_prob(&x), want, 1e-12, "t in 2-D");
        // Score −(ν + d)/(ν + q) Σ⁻¹ (x − μ).
        let f = -(nu + 2.0) / (nu + q) / 1.75;
        let mut g = [0.0; 2];
        p.grad_log_prob(&x, &mut g);
        assert_close(g[0], f * (u - 0.5 * v), 1e-12, "score 0");
        assert_close(g[1], f * (-0.5 * u + 2.0 * v), 1e-12, "score 1");
    }
}

#[test]
fn funnel_conditionals_are_normal() {
    // d = 2: ∫ p(x₀, x₁) dx₁ = N(x₀; 0, σ²), by a 1-D trapezoid rule over x₁.
    let sigma = 1.5;
    let p = Funnel::new(2, sigma).expect("valid");
    let marginal = Normal::new(0.0, sigma).expect("valid");
    for x0 in [-3.0f64, -1.0, 0.0, 0.7, 2.5] {
        let sd = (0.5 * x0).exp();
        let h = sd / 50.0;
        let n: i64 = 2000; // ±20 sd
        let s: f64 = (-n..=n)
            .map(|i| {
                let w = if i.abs() == n { 0.5 } else { 1.0 };
                w * p.log_prob(&[x0, i as f64 * h]).exp()
            })
            .sum::<f64>()
            * h;
        assert_close(
            s,
            marginal.pdf(x0),
            1e-12,
            &format!("funnel marginal at {x0}"),
        );
    }
    // And in d = 4 the conditional of x₁ given x₀ is N(0, e^{x₀}): the log density is a
    // quadratic in x₁ with that curvature, whatever x₂, x₃.
    let p = Funnel::new(4, 1.0).expect("valid");
    let x = [0.8, 0.3, -1.0, 2.0];
    let mut y = x;
    y[1] = 1.3;
    let drop = p.log_prob(&x) - p.log_prob(&y);
    assert_close(
        drop,
        0.5 * (1.3f64.powi(2) - 0.09) * (-0.8f64).exp(),
        1e-13,
        "conditional",
    );
}

/// `Φ(t)`.
fn std_normal_cdf(t: f64) -> f64 {
    0.5 * erfc(-t / std::f64::consts::SQRT_2)
}

/// `∫₀^∞ ρ^m exp(−(ρ − r)²/2w²) dρ` in closed form: with ρ = r + w z and a = −r/w,
/// `w √(2π) Σⱼ C(m, j) r^{m−j} w^j Iⱼ`, `Iⱼ = ∫ₐ^∞ zʲ φ(z) dz` by `I₀ = Φ(r/w)`, `I₁ = φ(a)`,
/// `Iⱼ = a^{j−1} φ(a) + (j − 1) I_{j−2}`.
fn radial_moment(m: usize, r: f64, w: f64) -> f64 {
    let a = -r / w;
    let phi = (-0.5 * a * a).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut i = vec![std_normal_cdf(r / w), phi];
    for j in 2..=m {
        let v = a.powi(j as i32 - 1) * phi + (j - 1) as f64 * i[j - 2];
        i.push(v);
    }
    let mut binom = 1.0;
    let mut s = 0.0;
    for (j, ij) in i.iter().enumerate().take(m + 1) {
        s += binom * r.powi((m - j) as i32) * w.powi(j as i32) * ij;
        binom = binom * (m - j) as f64 / (j + 1) as f64;
    }
    w * (2.0 * std::f64::consts::PI).sqrt() * s
}

#[test]
fn ring_normalizer_and_second_moment_match_closed_forms() {
    // Sphere areas S₀ = 2, S₁ = 2π, S₂ = 4π.
    let areas = [2.0, 2.0 * std::f64::consts::PI, 4.0 * std::f64::consts::PI];
    for (r, w) in [(0.0, 1.0), (2.0, 0.3), (1.0, 2.0), (5.0, 0.05)] {
        for d in 1..=3 {
            let p = Ring::with_dim(d, r, w).expect("valid");
            let z = areas[d - 1] * radial_moment(d - 1, r, w);
            let mut x = vec![0.0; d];
            x[0] = r;
            // At ‖x‖ = r the unnormalized density is 1, so log p = −ln Z.
            assert_close(
                p.log_prob(&x),
                -z.ln(),
                1e-11,
                &format!("ln Z, d = {d}, r = {r}, w = {w}"),
            );
            let m2 = radial_moment(d + 1, r, w) / radial_moment(d - 1, r, w);
            assert_close(
                p.mean_sq_radius(),
                m2,
                1e-11,
                &format!("E ρ², d = {d}, r = {r}, w = {w}"),
            );
        }
    }
}

#[test]
fn ring_sampler_acceptance_is_bounded_below() {
    // d = 2, r = 0: the radius is Rayleigh(w); mass w² against the envelope's √(2π) w · w e^{−½}.
    let p = Ring::new(0.0, 0.7).expect("valid");
    assert_close(
        p.acceptance_rate(),
        (0.5f64).exp() / (2.0 * std::f64::consts::PI).sqrt(),
        1e-10,
        "Rayleigh acceptance",
    );
    for d in [1, 2, 3, 5, 10, 50, 200] {
        for r in [0.0, 0.1, 1.0, 5.0, 50.0] {
            for w in [0.01, 0.1, 1.0, 10.0] {
                let a = Ring::with_dim(d, r, w).expect("valid").acceptance_rate();
                assert!(
                    (0.3..=1.0 + 1e-9).contains(&a),
                    "acceptance {a} at d = {d}, r = {r}, w = {w}"
                );
            }
        }
    }
}

/// Sample mean and covariance of `n` draws, with standard errors from the draws' own second and
/// fourth moments: SE(mean_i) = sd_i / √n, SE(cov_ij) = sd((x_i − m_i)(x_j − m_j)) / √n.
fn moments_with_se(xs: &[f64], d: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = (xs.len() / d) as f64;
    let mut mean = vec![0.0; d];
    for x in xs.chunks_exact(d) {
        mean.iter_mut().zip(x).for_each(|(m, v)| *m += v / n);
    }
    let mut cov = vec![0.0; d * d];
    let mut cov_sq = vec![0.0; d * d];
    for x in xs.chunks_exact(d) {
        for i in 0..d {
            for j in 0..d {
                let c = (x[i] - mean[i]) * (x[j] - mean[j]);
                cov[i * d + j] += c / n;
                cov_sq[i * d + j] += c * c / n;
            }
        }
    }
    let se_mean = (0..d).map(|i| (cov[i * d + i] / n).sqrt()).collect();
    let se_cov = cov
        .iter()
        .zip(&cov_sq)
        .map(|(c, c2)| ((c2 - c * c) / n).sqrt())
        .collect();
    (mean, cov, se_mean, se_cov)
}

fn check_moments<D: Sample>(what: &str, p: &D, mean: &[f64], cov: &[f64], n: usize, seed: u64) {
    let d = p.dim();
    let mut xs = vec![0.0; n * d];
    p.sample(&mut Pcg64::seed_from_u64(seed), &mut xs);
    assert!(xs.iter().all(|v| v.is_finite()), "{what}: finite draws");
    let (m, c, se_m, se_c) = moments_with_se(&xs, d);
    for i in 0..d {
        assert!(
            (m[i] - mean[i]).abs() <= 4.0 * se_m[i],
            "{what}: mean[{i}] = {} vs {} (4 SE = {})",
            m[i],
            mean[i],
            4.0 * se_m[i]
        );
    }
    for k in 0..d * d {
        assert!(
            (c[k] - cov[k]).abs() <= 4.0 * se_c[k],
            "{what}: cov[{k}] = {} vs {} (4 SE = {})",
            c[k],
            cov[k],
            4.0 * se_c[k]
        );
    }
}

#[test]
fn sampling_moments_match_closed_forms() {
    let n = 200_000;
    let banana = Banana::new(1.2, 0.4).expect("valid");
    // Var x₂ = 1 + 2 b² a⁴ = 1 + 2 · 0.16 · 2.0736 = 1.663552.
    check_moments(
        "banana",
        &banana,
        &[0.0, 0.0],
        &[1.44, 0.0, 0.0, 1.663552],
        n,
        1,
    );
    let funnel = Funnel::new(3, 1.0).expect("valid");
    let v = 0.5f64.exp();
    let fc = [1.0, 0.0, 0.0, 0.0, v, 0.0, 0.0, 0.0, v];
    check_moments("funnel", &funnel, &[0.0; 3], &fc, n, 2);
    let t = StudentT::new(10.0, &[1.0, -2.0], &[2.0, 0.6, 0.6, 1.0]).expect("valid");
    // ν/(ν − 2) Σ = 1.25 Σ.
    check_moments(
        "student-t",
        &t,
        &[1.0, -2.0],
        &[2.5, 0.75, 0.75, 1.25],
        n,
        3,
    );
    for (d, r, w) in [(2, 2.0, 0.3), (3, 1.0, 1.0), (1, 0.5, 0.5)] {
        let ring = Ring::with_dim(d, r, w).expect("valid");
        // E ρ² from the closed-form radial moments (see ring_normalizer_...).
        let s = radial_moment(d + 1, r, w) / radial_moment(d - 1, r, w) / d as f64;
        let mut c = vec![0.0; d * d];
        (0..d).for_each(|i| c[i * d + i] = s);
        check_moments(
            &format!("ring d = {d}"),
            &ring,
            &vec![0.0; d],
            &c,
            n,
            4 + d as u64,
        );
    }
}

#[test]
fn exact_moments_are_the_closed_forms() {
    let b = Banana::new(2.0, 0.5).expect("valid");
    assert_eq!(b.covariance(), [4.0, 0.0, 0.0, 1.0 + 2.0 * 0.25 * 16.0]);
    let f = Funnel::new(2, 2.0).expect("valid");
    assert_eq!(f.covariance(), vec![4.0, 0.0, 0.0, 2f64.exp()]);
    let t = StudentT::new(2.0, &[1.0], &[1.0]).expect("valid");
    assert_eq!((t.mean(), t.covariance()), (Some(vec![1.0]), None));
    let t = StudentT::new(0.9, &[1.0], &[1.0]).expect("valid");
    assert_eq!(t.mean(), None);
}

fn zoo() -> Vec<AnyDensity> {
    vec![
        AnyDensity::Banana(Banana::new(1.0, 0.7).expect("valid")),
        AnyDensity::Funnel(Funnel::new(4, 1.5).expect("valid")),
        AnyDensity::StudentT(
            StudentT::new(3.0, &[0.5, 0.0, -1.0], &kl_testkit::fixed_spd(3, 0.2)).expect("valid"),
        ),
        AnyDensity::Ring(Ring::with_dim(3, 2.0, 0.4).expect("valid")),
    ]
}

#[test]
fn batch_methods_equal_the_per_point_methods() {
    for p in zoo() {
        let d = p.dim();
        let m = 37;
        let mut xs = vec![0.0; m * d];
        p.try_sample(&mut Pcg64::seed_from_u64(9), &mut xs)
            .expect("sampler");
        let mut lp = vec![0.0; m];
        let mut lp2 = vec![0.0; m];
        let mut g = vec![0.0; m * d];
        p.log_prob_batch(&xs, &mut lp);
        p.grad_log_prob_batch(&xs, &mut lp2, &mut g);
        for (k, x) in xs.chunks_exact(d).enumerate() {
            let mut gk = vec![0.0; d];
            let l = p.grad_log_prob(x, &mut gk);
            assert_eq!(lp[k], p.log_prob(x), "{}: log_prob_batch", p.name());
            assert_eq!(lp2[k], l, "{}: grad_log_prob_batch value", p.name());
            assert_eq!(
                &g[k * d..k * d + d],
                &gk[..],
                "{}: grad_log_prob_batch",
                p.name()
            );
        }
    }
}

#[test]
fn any_density_names_moments_and_sampling() {
    let names: Vec<_> = zoo().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["banana", "funnel", "student-t", "ring"]);
    for p in zoo() {
        assert!(p.can_sample(), "{}", p.name());
        assert!(
            p.mean().is_some() && p.covariance().is_some(),
            "{}",
            p.name()
        );
        let mut a = vec![0.0; 5 * p.dim()];
        let mut b = a.clone();
        p.try_sample(&mut Pcg64::seed_from_u64(11), &mut a)
            .expect("sampler");
        p.try_sample(&mut Pcg64::seed_from_u64(11), &mut b)
            .expect("sampler");
        assert_eq!(a, b, "{}: same seed, same draws", p.name());
    }
    let ring = Ring::new(1.0, 0.2).expect("valid");
    let any = AnyDensity::Ring(ring.clone());
    assert_eq!(any.covariance(), Some(ring.covariance()));
    let heavy = AnyDensity::StudentT(StudentT::new(1.5, &[0.0], &[1.0]).expect("valid"));
    assert_eq!((heavy.mean(), heavy.covariance()), (Some(vec![0.0]), None));
}

#[test]
fn ring_score_at_the_centre_is_zero_and_finite() {
    for d in [1, 2, 5] {
        let p = Ring::with_dim(d, 1.5, 0.5).expect("valid");
        let mut g = vec![1.0; d];
        let lp = p.grad_log_prob(&vec![0.0; d], &mut g);
        assert!(lp.is_finite());
        assert!(g.iter().all(|v| *v == 0.0), "d = {d}: {g:?}");
    }
}

#[test]
fn scores_stay_finite_far_out() {
    let mut g = [0.0; 2];
    let b = Banana::new(1.0, 1.0).expect("valid");
    assert!(b.grad_log_prob(&[1e3, -1e3], &mut g).is_finite() && g.iter().all(|v| v.is_finite()));
    let t = StudentT::new(0.5, &[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).expect("valid");
    assert!(
        t.grad_log_prob(&[1e150, -1e150], &mut g).is_finite() && g.iter().all(|v| v.is_finite())
    );
}
