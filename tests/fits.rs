//! Proof that the fits are right: the notebook's first experiment reproduced from its file, and
//! Adam runs of a few thousand steps at d = 2 reaching the known optima of each objective.

use std::path::Path;

use forward_backward_kl::app::input::Fs;
use forward_backward_kl::config::{self, Experiment};
use forward_backward_kl::engine::{self as run, Run};
use kl_dist::{LogDensity, Mixture, Mvn};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a number")],
        other => panic!("not a number or array: {other}"),
    }
}

fn parse(text: &str) -> Experiment {
    config::parse(text, Path::new("fits-test.toml"), &Fs).expect("a valid experiment")
}

fn fit(text: &str) -> Run {
    run::run(&parse(text)).expect("the fit runs")
}

/// The final model of a run as (mean, covariance).
fn last_model(r: &Run) -> Mvn {
    r.trace
        .model(r.trace.iterations.len() - 1)
        .expect("a non-singular final model")
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

const MIXTURE: &str = r#"
[target]
kind = "mixture"
weights = [0.8, 0.2]
components = [
  { mean = [0.5, -0.7], cov = [[1.0, 1.0], [1.0, 2.0]] },
  { mean = [-2.5, 2.5], cov = [[0.5, 0.1], [0.1, 0.5]] },
]
"#;

const GAUSSIAN: &str = r#"
[target]
kind = "mvn"
mean = [0.9, -1.2]
cov = [[1.2, 0.4], [0.4, 0.5]]
"#;

/// An experiment of `target`, objective `objective`, Adam at `lr` for `n` steps from `init`.
fn adam(name: &str, seed: u64, target: &str, objective: &str, lr: f64, n: usize) -> String {
    format!(
        "name = \"{name}\"\nseed = {seed}\n{target}\n[init]\nmean = [0.0, 0.0]\nraw = [[1.0, 0.0], [0.0, 1.0]]\n\n\
         [objective]\n{objective}\n\n[optimizer]\nkind = \"adam\"\nlearning_rate = {lr}\nn_iters = {n}\n"
    )
}

#[test]
fn gaussian_forward_reproduces_the_notebook() {
    let fixture: Value =
        serde_json::from_str(kl_testkit::NOTEBOOK_GAUSSIAN_TRACE).expect("the fixture parses");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/gaussian-forward.toml");
    let exp = config::load(&file, &Fs).expect("the experiment file is valid");
    let r = run::run(&exp).expect("the notebook's fit runs");
    let states = fixture["states"].as_array().expect("states");
    assert_eq!(r.trace.iterations.len(), states.len());
    assert_eq!(r.trace.n_iters, 20);
    for (k, (it, state)) in r.trace.iterations.iter().zip(states).enumerate() {
        assert_eq!(it.iteration, k);
        let raw: Vec<f64> = it.raw.iter().flatten().copied().collect();
        let dm = max_diff(&it.mean, &floats(&state["mean"]));
        let dr = max_diff(&raw, &floats(&state["raw"]));
        assert!(
            dm <= 1e-4 && dr <= 1e-4,
            "state {k}: mean off by {dm}, raw by {dr}"
        );
    }
    // The notebook's loss drops −½ log det Σp − d/2 from the KL; the trace's loss is the KL.
    let p = Mvn::new(
        &floats(&fixture["target"]["mean"]),
        &floats(&fixture["target"]["cov"]),
    )
    .expect("the target");
    let dropped = 0.5 * (p.log_det_covariance() + 2.0);
    for (k, loss) in floats(&fixture["loss"]).iter().enumerate() {
        let it = &r.trace.iterations[k];
        assert!(
            (it.loss + dropped - loss).abs() <= 1e-4 * (1.0 + loss.abs()),
            "loss {k}"
        );
        let kl = it.kl_forward.expect("a Gaussian target has the exact KL");
        assert!(
            (kl - it.loss).abs() <= 1e-12 * (1.0 + kl),
            "the loss is D(p‖q) at {k}"
        );
    }
}

#[test]
fn forward_kl_exact_reaches_the_target() {
    let r = fit(&adam(
        "fwd-exact",
        1,
        GAUSSIAN,
        "kind = \"forward-kl-exact\"",
        0.05,
        3000,
    ));
    let last = r.trace.iterations.last().expect("states");
    let kl = last.kl_forward.expect("closed form");
    assert!(kl < 1e-8, "D(p‖q) = {kl}");
    let q = last_model(&r);
    assert!(max_diff(q.mean(), &[0.9, -1.2]) < 1e-4);
    assert!(max_diff(q.covariance(), &[1.2, 0.4, 0.4, 0.5]) < 1e-4);
}

#[test]
fn forward_kl_samples_reaches_the_maximum_likelihood_gaussian() {
    let r = fit(&adam(
        "fwd-samples",
        2,
        GAUSSIAN,
        "kind = \"forward-kl-samples\"\nn_samples = 200",
        0.05,
        3000,
    ));
    // The maximum likelihood estimate in closed form: the sample mean and the (1/n) covariance.
    let xs = &r.samples;
    let n = xs.len() / 2;
    assert_eq!(n, 200);
    let mut m = [0.0; 2];
    for x in xs.chunks(2) {
        m[0] += x[0] / n as f64;
        m[1] += x[1] / n as f64;
    }
    let mut c = [0.0; 4];
    for x in xs.chunks(2) {
        let d = [x[0] - m[0], x[1] - m[1]];
        for i in 0..2 {
            for j in 0..2 {
                c[2 * i + j] += d[i] * d[j] / n as f64;
            }
        }
    }
    let q = last_model(&r);
    assert!(max_diff(q.mean(), &m) < 1e-6, "{:?} vs {m:?}", q.mean());
    assert!(
        max_diff(q.covariance(), &c) < 1e-6,
        "{:?} vs {c:?}",
        q.covariance()
    );
}

#[test]
fn reverse_kl_reaches_a_gaussian_target_within_monte_carlo_error() {
    for (estimator, tol) in [("total", 2e-2), ("stl", 1e-6)] {
        let objective =
            format!("kind = \"reverse-kl\"\nn_samples = 100\nestimator = \"{estimator}\"");
        let r = fit(&adam("rev", 3, GAUSSIAN, &objective, 0.01, 3000));
        let last = r.trace.iterations.last().expect("states");
        let kl = last.kl_reverse.expect("closed form");
        assert!(kl < tol, "{estimator}: D(q‖p) = {kl}");
        let q = last_model(&r);
        assert!(
            max_diff(q.mean(), &[0.9, -1.2]) < 0.1,
            "{estimator}: {:?}",
            q.mean()
        );
    }
}

fn notebook_mixture() -> Mixture {
    let a = Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]).expect("component 0");
    let b = Mvn::new(&[-2.5, 2.5], &[0.5, 0.1, 0.1, 0.5]).expect("component 1");
    Mixture::new(&[0.8, 0.2], vec![a, b]).expect("the mixture")
}

#[test]
fn forward_kl_on_the_mixture_reaches_the_moment_matched_gaussian() {
    let r = fit(&adam(
        "mix-fwd",
        8,
        MIXTURE,
        "kind = \"forward-kl-samples\"\nn_samples = 20000",
        0.05,
        2000,
    ));
    let p = notebook_mixture();
    let mm = p.moment_matched();
    let q = last_model(&r);
    // 20 000 draws: the sample moments are within a few hundredths of the exact ones.
    assert!(
        max_diff(q.mean(), mm.mean()) < 0.06,
        "{:?} vs {:?}",
        q.mean(),
        mm.mean()
    );
    assert!(
        max_diff(q.covariance(), mm.covariance()) < 0.15,
        "{:?} vs {:?}",
        q.covariance(),
        mm.covariance()
    );
    // D(p‖q) (the trace's quadrature) is at its minimum, D(p‖moment-matched), up to that error.
    let best =
        forward_backward_kl::engine::exact_kl::ExactKl::new(kl_dist::AnyDensity::Mixture(p), 0)
            .eval(&mm)
            .0;
    let kl = r
        .trace
        .iterations
        .last()
        .and_then(|it| it.kl_forward)
        .expect("quadrature");
    assert!(
        kl >= best - 1e-6 && kl < best + 5e-3,
        "D(p‖q) = {kl}, minimum {best}"
    );
}

#[test]
fn reverse_kl_on_the_mixture_settles_on_one_component() {
    let objective = "kind = \"reverse-kl\"\nn_samples = 100";
    let text = adam("mix-rev", 8, MIXTURE, objective, 0.02, 2000).replace(
        "mean = [0.0, 0.0]\nraw = [[1.0, 0.0], [0.0, 1.0]]",
        // The notebook's initial model (experiments/mixture-reverse.toml).
        "mean = [1.7278361320495605, 2.2045562267303467]\n\
         raw = [[0.7948276400566101, 0.9764211177825928], [-1.183427095413208, 1.9163635969161987]]",
    );
    let r = fit(&text);
    let q = last_model(&r);
    let p = notebook_mixture();
    let dist: Vec<f64> = p
        .components()
        .iter()
        .map(|c| max_diff(c.mean(), q.mean()))
        .collect();
    assert!(
        dist.iter().any(|d| *d < 0.3),
        "q's mean {:?} is near no component: {dist:?}",
        q.mean()
    );
    // Mode seeking: q is narrower than the moment-matched Gaussian.
    let det = |c: &[f64]| c[0] * c[3] - c[1] * c[2];
    assert!(det(q.covariance()) < det(p.moment_matched().covariance()));
    assert_eq!(LogDensity::dim(&p), 2);
}
