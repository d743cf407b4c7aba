//! The zoo through the engine: for every target with an exact sampler, `forward-kl-samples` on many
//! draws with `learning_rate = "auto"` converges to the target's exact mean and covariance (the
//! closed forms of the issue, written out here), within 4 standard errors of the sample moments
//! (estimated from the draws' own fourth moments) plus the optimizer's tolerance.

use std::path::Path;

use forward_backward_kl::config;
use forward_backward_kl::engine::{self, Run};

fn run(target: &str, n: usize) -> Run {
    let text = format!(
        r#"
name = "zoo-moments"
seed = 21
[target]
{target}
[init]
mean = [0.3, -0.2]
raw = [[1.0, 0.0], [0.0, 1.0]]
[objective]
kind = "forward-kl-samples"
n_samples = {n}
[optimizer]
kind = "adam"
learning_rate = "auto"
n_iters = 800
"#
    );
    let exp = config::parse(
        &text,
        Path::new("zoo-moments.toml"),
        &forward_backward_kl::app::input::Fs,
    )
    .expect("a valid experiment");
    engine::run(&exp).expect("the fit runs")
}

/// Standard errors of the sample mean and of the sample (co)variances of `xs` (n × 2).
fn standard_errors(xs: &[f64]) -> ([f64; 2], [[f64; 2]; 2]) {
    let n = (xs.len() / 2) as f64;
    let m = |k: usize| xs.iter().skip(k).step_by(2).sum::<f64>() / n;
    let mean = [m(0), m(1)];
    let mut se_mean = [0.0; 2];
    let mut se_cov = [[0.0; 2]; 2];
    for a in 0..2 {
        let var: f64 = xs
            .iter()
            .skip(a)
            .step_by(2)
            .map(|x| (x - mean[a]).powi(2))
            .sum::<f64>()
            / n;
        se_mean[a] = (var / n).sqrt();
        for b in 0..2 {
            let prods: Vec<f64> = xs
                .chunks_exact(2)
                .map(|x| (x[a] - mean[a]) * (x[b] - mean[b]))
                .collect();
            let c = prods.iter().sum::<f64>() / n;
            let v = prods.iter().map(|p| (p - c).powi(2)).sum::<f64>() / n;
            se_cov[a][b] = (v / n).sqrt();
        }
    }
    (se_mean, se_cov)
}

fn check(what: &str, target: &str, mean: [f64; 2], cov: [[f64; 2]; 2]) {
    let r = run(target, 40_000);
    let last = r.trace.iterations.last().expect("states");
    let (se_mean, se_cov) = standard_errors(&r.samples);
    // The fit reaches the sample moments to the optimizer's tolerance; those are within 4 SE of
    // the exact ones.
    let opt_tol = 2e-3;
    for a in 0..2 {
        let tol = 4.0 * se_mean[a] + opt_tol;
        assert!(
            (last.mean[a] - mean[a]).abs() <= tol,
            "{what}: mean {a} is {}, exact {} (tolerance {tol})",
            last.mean[a],
            mean[a]
        );
        for b in 0..2 {
            let tol = 4.0 * se_cov[a][b] + opt_tol * cov[a][a].max(1.0);
            assert!(
                (last.covariance[a][b] - cov[a][b]).abs() <= tol,
                "{what}: covariance [{a}][{b}] is {}, exact {} (tolerance {tol})",
                last.covariance[a][b],
                cov[a][b]
            );
        }
    }
    // Stan's rule, as documented: the candidates are tried in AUTO_RATES order, the best finite
    // score wins, and the fit ran with it.
    let search = r.trace.learning_rate_search.as_ref().expect("auto");
    let tried: Vec<f64> = search.candidates.iter().map(|c| c.learning_rate).collect();
    assert_eq!(tried[..], kl_fit::AUTO_RATES[..tried.len()], "{what}");
    let best = search
        .candidates
        .iter()
        .filter_map(|c| Some((c.learning_rate, c.score?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a candidate scored");
    assert_eq!(search.chosen, best.0, "{what}: {search:?}");
    assert_eq!(r.trace.learning_rate, search.chosen, "{what}");
}

#[test]
fn banana() {
    // Var x₁ = a², Var x₂ = 1 + 2 b² a⁴, no correlation.
    let (a, b) = (1.0_f64, 0.8_f64);
    check(
        "banana",
        "kind = \"banana\"\nscale = 1.0\ncurvature = 0.8",
        [0.0, 0.0],
        [[a * a, 0.0], [0.0, 1.0 + 2.0 * b * b * a.powi(4)]],
    );
}

#[test]
fn funnel() {
    // Var x₀ = σ², Var x₁ = e^{σ²/2}.
    let s = 1.0_f64;
    check(
        "funnel",
        "kind = \"funnel\"\ndim = 2\nscale = 1.0",
        [0.0, 0.0],
        [[s * s, 0.0], [0.0, (s * s / 2.0).exp()]],
    );
}

#[test]
fn student_t() {
    // ν / (ν − 2) · scale.
    let nu = 6.0;
    let f = nu / (nu - 2.0);
    check(
        "student-t",
        "kind = \"student-t\"\ndf = 6.0\nmean = [0.5, -1.0]\nscale = [[1.0, 0.4], [0.4, 0.8]]",
        [0.5, -1.0],
        [[f * 1.0, f * 0.4], [f * 0.4, f * 0.8]],
    );
}

#[test]
fn ring() {
    // Mean 0, covariance (E ρ² / 2) I, with ρ's density ∝ ρ exp(−(ρ − r)² / (2w²)) on ρ > 0:
    // E ρ² = E[ρ³]/E[ρ] under N(r, w²) truncated at 0, which for r = 2, w = 0.3 (the truncation is
    // 6.7σ away, below 1e-10) is (r³ + 3 r w²) / r = r² + 3 w².
    let (r, w) = (2.0_f64, 0.3_f64);
    let e_rho2 = r * r + 3.0 * w * w;
    check(
        "ring",
        "kind = \"ring\"\nradius = 2.0\nwidth = 0.3",
        [0.0, 0.0],
        [[e_rho2 / 2.0, 0.0], [0.0, e_rho2 / 2.0]],
    );
}
