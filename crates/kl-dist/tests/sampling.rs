//! Sampling: the mean and covariance of 10⁵ draws are within 4 standard errors of the exact ones,
//! for `Mvn` and `Mixture`; the same seed gives the same draws. Mixture moments, exactly.

use kl_dist::{AnyDensity, LogDensity, Mixture, Mvn, Sample};
use kl_testkit::assert_close;
use rand::SeedableRng;
use rand_pcg::Pcg64;

const N: usize = 100_000;

fn draws<D: LogDensity + Sample>(p: &D, seed: u64, n: usize) -> Vec<f64> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut xs = vec![0.0; n * p.dim()];
    p.sample(&mut rng, &mut xs);
    xs
}

/// Sample mean, (1/n) sample covariance, and the empirical variance of each centred product
/// (xᵢ − x̄ᵢ)(xⱼ − x̄ⱼ) (for standard errors of the covariance when the draws are not Gaussian).
fn moments(xs: &[f64], d: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = (xs.len() / d) as f64;
    let mut mean = vec![0.0; d];
    for x in xs.chunks(d) {
        mean.iter_mut().zip(x).for_each(|(m, v)| *m += v / n);
    }
    let mut cov = vec![0.0; d * d];
    let mut sq = vec![0.0; d * d];
    for x in xs.chunks(d) {
        for i in 0..d {
            for j in 0..d {
                let p = (x[i] - mean[i]) * (x[j] - mean[j]);
                cov[i * d + j] += p / n;
                sq[i * d + j] += p * p / n;
            }
        }
    }
    let var_prod = sq.iter().zip(&cov).map(|(s, c)| s - c * c).collect();
    (mean, cov, var_prod)
}

#[track_caller]
fn within_4_se(got: f64, want: f64, se: f64, what: &str) {
    assert!(
        (got - want).abs() <= 4.0 * se,
        "{what}: sample {got} vs exact {want}: {:.2} standard errors ({se:e})",
        (got - want).abs() / se
    );
}

#[test]
fn mvn_draws_have_the_right_mean_and_covariance() {
    let mean = [1.0, -2.0, 0.5];
    let cov = [2.0, 0.6, -0.4, 0.6, 1.0, 0.3, -0.4, 0.3, 0.5];
    let d = 3;
    let p = Mvn::new(&mean, &cov).expect("valid");
    let xs = draws(&p, 7, N);
    let (m, c, _) = moments(&xs, d);
    let n = N as f64;
    for i in 0..d {
        within_4_se(
            m[i],
            mean[i],
            (cov[i * d + i] / n).sqrt(),
            &format!("mean[{i}]"),
        );
        for j in 0..d {
            // For Gaussian draws, Var[(xᵢ − μᵢ)(xⱼ − μⱼ)] = Σᵢᵢ Σⱼⱼ + Σᵢⱼ².
            let se = ((cov[i * d + i] * cov[j * d + j] + cov[i * d + j].powi(2)) / n).sqrt();
            within_4_se(c[i * d + j], cov[i * d + j], se, &format!("cov[{i}][{j}]"));
        }
    }
    // A factor-built normal samples N(μ, L Lᵀ) too: L is a rotation of a Cholesky factor.
    let (ct, st) = (0.6f64.cos(), 0.6f64.sin());
    let l = [
        1.2 * ct,
        -1.2 * st,
        0.5 * ct + 0.8 * st,
        -0.5 * st + 0.8 * ct,
    ];
    let want = [1.44, 0.6, 0.6, 0.89]; // (L Lᵀ): rows (1.2, 0) and (0.5, 0.8) rotated.
    let q = Mvn::from_factor(&[0.0, 3.0], &l).expect("valid");
    let (m, c, _) = moments(&draws(&q, 8, N), 2);
    for i in 0..2 {
        within_4_se(
            m[i],
            q.mean()[i],
            (want[i * 2 + i] / n).sqrt(),
            "from_factor mean",
        );
        for j in 0..2 {
            let se = ((want[i * 3] * want[j * 3] + want[i * 2 + j].powi(2)) / n).sqrt();
            within_4_se(c[i * 2 + j], want[i * 2 + j], se, "from_factor cov");
        }
    }
}

/// Components as (mean, covariance row-major).
type Components = Vec<(Vec<f64>, Vec<f64>)>;

fn three_component_mixture() -> (Vec<f64>, Components, Mixture) {
    let w = vec![0.5, 0.3, 0.2];
    let comps = vec![
        (vec![0.5, -0.7], vec![1.0, 1.0, 1.0, 2.0]),
        (vec![-2.5, 2.5], vec![0.5, 0.1, 0.1, 0.5]),
        (vec![3.0, 1.0], vec![0.3, -0.2, -0.2, 1.5]),
    ];
    let p = Mixture::from_parameters(&w, &comps).expect("valid");
    (w, comps, p)
}

/// Σ wₖ μₖ and Σ wₖ (Σₖ + μₖ μₖᵀ) − m mᵀ, written here from the definitions.
fn mixture_moments(w: &[f64], comps: &[(Vec<f64>, Vec<f64>)], d: usize) -> (Vec<f64>, Vec<f64>) {
    let m: Vec<f64> = (0..d)
        .map(|i| w.iter().zip(comps).map(|(w, (mu, _))| w * mu[i]).sum())
        .collect();
    let mut c = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            let second: f64 = w
                .iter()
                .zip(comps)
                .map(|(w, (mu, s))| w * (s[i * d + j] + mu[i] * mu[j]))
                .sum();
            c[i * d + j] = second - m[i] * m[j];
        }
    }
    (m, c)
}

#[test]
fn mixture_draws_have_the_right_mean_and_covariance() {
    let (w, comps, p) = three_component_mixture();
    let d = 2;
    let (m_exact, c_exact) = mixture_moments(&w, &comps, d);
    for (a, b) in p.mean().iter().zip(&m_exact) {
        assert_close(*a, *b, 1e-14, "Mixture::mean");
    }
    for (a, b) in p.covariance().iter().zip(&c_exact) {
        assert_close(*a, *b, 1e-13, "Mixture::covariance");
    }
    let xs = draws(&p, 11, N);
    let (m, c, var_prod) = moments(&xs, d);
    let n = N as f64;
    for i in 0..d {
        within_4_se(
            m[i],
            m_exact[i],
            (c_exact[i * d + i] / n).sqrt(),
            &format!("mean[{i}]"),
        );
        for j in 0..d {
            let se = (var_prod[i * d + j] / n).sqrt();
            within_4_se(
                c[i * d + j],
                c_exact[i * d + j],
                se,
                &format!("cov[{i}][{j}]"),
            );
        }
    }
    // The component frequencies, seen through well-separated 1-D components.
    let sep = Mixture::from_parameters(
        &[0.5, 0.3, 0.2],
        &[
            (vec![-100.0], vec![1.0]),
            (vec![0.0], vec![1.0]),
            (vec![100.0], vec![1.0]),
        ],
    )
    .expect("valid");
    let xs = draws(&sep, 12, N);
    for (k, (lo, hi, wk)) in [(-200.0, -50.0, 0.5), (-50.0, 50.0, 0.3), (50.0, 200.0, 0.2)]
        .into_iter()
        .enumerate()
    {
        let f = xs.iter().filter(|x| (lo..hi).contains(*x)).count() as f64 / n;
        within_4_se(
            f,
            wk,
            (wk * (1.0 - wk) / n).sqrt(),
            &format!("frequency of component {k}"),
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_draws() {
    let (_, _, mix) = three_component_mixture();
    let mvn = Mvn::new(&[1.0, 2.0], &[1.0, 0.2, 0.2, 0.5]).expect("valid");
    for p in [AnyDensity::Mixture(mix), AnyDensity::Mvn(mvn)] {
        let any_draws = |seed: u64| {
            let mut xs = vec![0.0; 1000 * p.dim()];
            p.try_sample(&mut Pcg64::seed_from_u64(seed), &mut xs)
                .expect("normals and mixtures have samplers");
            xs
        };
        let (a, b, c) = (any_draws(42), any_draws(42), any_draws(43));
        assert_eq!(a, b, "same seed, same draws");
        assert!(
            a.iter().zip(&c).all(|(x, y)| x != y),
            "another seed, other draws"
        );
        assert!(a.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn one_dimensional_mixture_moments_by_hand() {
    // w = (0.3, 0.7), μ = (−1, 2), σ² = (0.5, 2):
    // mean = 0.3·(−1) + 0.7·2 = 1.1;
    // var = 0.3·(0.5 + 1) + 0.7·(2 + 4) − 1.1² = 0.45 + 4.2 − 1.21 = 3.44.
    let p = Mixture::from_parameters(
        &[0.3, 0.7],
        &[(vec![-1.0], vec![0.5]), (vec![2.0], vec![2.0])],
    )
    .expect("valid");
    assert_close(p.mean()[0], 1.1, 1e-15, "mean");
    assert_close(p.covariance()[0], 3.44, 1e-14, "variance");
    let q = p.moment_matched();
    assert_close(q.mean()[0], 1.1, 1e-15, "moment-matched mean");
    assert_close(q.covariance()[0], 3.44, 1e-14, "moment-matched variance");
    let any = AnyDensity::Mixture(p);
    assert_close(
        any.mean().expect("a mixture has a mean")[0],
        1.1,
        1e-15,
        "AnyDensity::mean",
    );
    assert_close(
        any.covariance().expect("a mixture has a covariance")[0],
        3.44,
        1e-14,
        "AnyDensity::covariance",
    );
    let single = AnyDensity::Mvn(Mvn::new(&[0.25], &[4.0]).expect("valid"));
    assert_eq!(
        (single.mean(), single.covariance()),
        (Some(vec![0.25]), Some(vec![4.0]))
    );
}

#[test]
fn a_single_component_mixture_is_that_normal() {
    let n = Mvn::new(&[0.5, -1.0], &[1.5, 0.4, 0.4, 0.7]).expect("valid");
    let p = Mixture::new(&[1.0], vec![n.clone()]).expect("valid");
    for x in [[0.0, 0.0], [3.0, -2.0], [-10.0, 10.0]] {
        assert_close(p.log_prob(&x), n.log_prob(&x), 1e-13, "K = 1");
    }
    assert_eq!(p.moment_matched().covariance(), n.covariance());
}
