//! Our side of `benches/jax/vi_race.py`: Pathfinder, GSM and BaM on the breast-cancer logistic
//! posterior (experiments/logistic-reverse.toml, d = 31) from N(0, I), at the settings of their
//! JAX peers — BlackJAX's `vi.pathfinder.approximate` defaults (30 L-BFGS iterations, history
//! 10, 200 ELBO draws, one path), GSM with B = 2 for 2000 iterations, BaM with B = 10 and
//! λₜ = B d / (t + 1) for 2000 iterations — through the fit builder (diagnostics and exact KL
//! off). Each runs `REPEATS` times after one warm-up run; prints one JSON object per line:
//! the name, the median and the fastest wall time, the gradient and density evaluations, and
//! the final q's mean and covariance (the script scores them as it scores the peers').
//!
//! ```text
//! cargo run --release --example vi_race [REPEATS [NAME]]
//! ```

#[path = "../benches/common/peers.rs"]
mod peers;

#[path = "../tests/support/advi.rs"]
#[allow(dead_code)]
mod advi;

use std::time::Instant;

use kl_fit::kl_dist::AnyDensity;
use kl_fit::{Fit, ObjectiveKind};

fn fit(p: &AnyDensity, objective: ObjectiveKind, iters: usize) -> kl_fit::FitResult {
    Fit::new(p.clone(), objective)
        .max_iters(iters)
        .diagnostics(0)
        .exact_kl(false)
        .seed(0)
        .run()
        .expect("the fit runs")
}

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .map_or(20, |a| a.parse().expect("REPEATS: a number"));
    let only = std::env::args().nth(2);
    let p = advi::target("logistic-reverse.toml");
    for (name, objective, iters) in peers::runs() {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let _ = fit(&p, objective, iters);
        let mut seconds = Vec::with_capacity(repeats);
        let mut last = None;
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            let r = fit(&p, objective, iters);
            seconds.push(t.elapsed().as_secs_f64());
            last = Some(r);
        }
        seconds.sort_by(f64::total_cmp);
        let r = last.expect("at least one run");
        let d = r.q().dim();
        let cov: Vec<Vec<f64>> = r
            .q()
            .covariance()
            .chunks_exact(d)
            .map(<[f64]>::to_vec)
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "name": name,
                "median_s": seconds[seconds.len() / 2],
                "min_s": seconds[0],
                "repeats": seconds.len(),
                "n_grad_evals": r.n_grad_evals(),
                "n_density_evals": r.n_density_evals(),
                "mean": r.q().mean(),
                "cov": cov,
            })
        );
    }
}
