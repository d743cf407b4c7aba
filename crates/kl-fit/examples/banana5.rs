//! A user's own target, fitted from Rust: a 5-D correlated banana written as a closure, the
//! reverse KL with the automatic step size, Stan's convergence rule and Pareto-k̂ diagnostics.
//!
//! `cargo run --release -p kl-fit --example banana5`

use kl_fit::kl_dist::LogDensity;
use kl_fit::{Family, Fit, Stopping};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // x ~ N(0, C) with C = 0.5 on the off-diagonal, then x₂ bent by 0.5 (x₁² − 1):
    // log p̃(x) = −½ zᵀ C⁻¹ z, z = (x₁, x₂ − 0.5 (x₁² − 1), x₃, x₄, x₅); C⁻¹ by hand below.
    let c = kl_fit::kl_dist::Mvn::new(&[0.0; 5], &correlated(5, 0.5))?;
    let banana = kl_fit::kl_dist::from_fn(5, move |x: &[f64], g: &mut [f64]| {
        let mut z = x.to_vec();
        z[1] -= 0.5 * (x[0] * x[0] - 1.0);
        let lp = c.grad_log_prob(&z, g); // g = −C⁻¹ z = ∇_z log N(z; 0, C)
        g[0] += g[1] * (-x[0]); // chain rule: ∂z₂/∂x₁ = −x₁
        lp
    })?;
    let fit = Fit::reverse_kl(banana)
        .family(Family::FullRank)
        .n_samples(100)
        .max_iters(10_000)
        .stop(Stopping::rel_obj(0.01).every(100))
        .diagnostics(4000)
        .seed(8)
        .run()?;
    let q = fit.q();
    println!(
        "termination: {:?} after {} gradient evaluations",
        fit.termination(),
        fit.n_grad_evals()
    );
    println!("mean: {:.3?}", q.mean());
    for row in q.covariance().chunks(5) {
        println!("cov:  {row:.3?}");
    }
    if let Some(d) = fit.diagnosis() {
        println!(
            "Pareto k̂ = {:.2} ({}), ESS {:.0}",
            d.k_hat, d.verdict, d.ess
        );
    }
    Ok(())
}

fn correlated(d: usize, rho: f64) -> Vec<f64> {
    (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { rho })
        .collect()
}
