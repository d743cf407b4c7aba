//! Pathfinder, GSM and BaM from experiment files, on the breast-cancer logistic posterior
//! (d = 31, experiments/logistic-*.toml), against references computed outside the project:
//!
//! - `reference/logistic_nuts.json`: NumPyro NUTS posterior mean and sd (made by
//!   `reference/logistic_nuts.py`, its seed committed);
//! - `reference/best_gaussian.json`: the best full-rank Gaussian's ELBO by quadrature
//!   (`targets.logistic["full-rank"].elbo_quadrature` = −0.3538);
//! - `reference/gsm_logistic.json` (`reference/gsm_logistic.py`): JAX GSM, B = 2, 4000 gradient
//!   evaluations from N(0, I), its ELBO gap over 20 seeds (q10 0.36, median 0.42, q90 0.53);
//! - BlackJAX's Pathfinder at its defaults (30 L-BFGS iterations, history 10), as measured in
//!   issue 21: 63 gradient evaluations, 20 nats below the best ELBO, log-sd off by up to 1.5.
//!
//! The ELBO of a fitted q is estimated here by Monte Carlo, 20 000 draws from a fixed seed: the
//! terms' sd is about 1.2 nats near the optimum (best_gaussian.json's `elbo_terms_sd`), so the
//! standard error is about 0.01 nats, small against every band below. Also: the
//! `[objective] kind = "pathfinder" | "gsm" | "bam"` keys, validated with errors naming them.

use std::path::Path;

use forward_backward_kl::app::input::Fs;
use forward_backward_kl::config;
use forward_backward_kl::engine;
use kl_dist::{AnyDensity, LogDensity, Mvn, Sample};
use rand::SeedableRng;

fn json(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("a committed reference");
    serde_json::from_str(&text).expect("JSON")
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn experiment_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .expect("a committed experiment")
}

/// Runs the experiment text (relative paths resolved from experiments/).
fn run(text: &str) -> engine::Run {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/vi-test.toml");
    let exp = config::parse(text, &path, &Fs).expect("a valid experiment");
    engine::run(&exp).expect("the fit runs")
}

/// E_q[log p̃ − log q] from 20 000 draws of q (seed fixed).
fn elbo(p: &dyn LogDensity, q: &Mvn) -> f64 {
    let n = 20_000;
    let d = q.dim();
    let mut rng = rand_pcg::Pcg64::seed_from_u64(20_261_203);
    let mut xs = vec![0.0; n * d];
    q.sample(&mut rng, &mut xs);
    let (mut lp, mut lq) = (vec![0.0; n], vec![0.0; n]);
    p.log_prob_batch(&xs, &mut lp);
    q.log_prob_batch(&xs, &mut lq);
    lp.iter().zip(&lq).map(|(a, b)| a - b).sum::<f64>() / n as f64
}

struct Reference {
    mean: Vec<f64>,
    sd: Vec<f64>,
    best_elbo: f64,
}

fn reference() -> Reference {
    let nuts = json("reference/logistic_nuts.json");
    let best = json("reference/best_gaussian.json");
    Reference {
        mean: floats(&nuts["mean"]),
        sd: floats(&nuts["sd"]),
        best_elbo: best["targets"]["logistic"]["full-rank"]["elbo_quadrature"]
            .as_f64()
            .expect("a number"),
    }
}

/// (ELBO gap to the best Gaussian, max |μᵢ − mᵢ| / sdᵢ, max |log σᵢ − log sdᵢ|).
fn judge(r: &engine::Run, reference: &Reference) -> (f64, f64, f64) {
    let Some(AnyDensity::LogisticRegression(p)) = &r.target else {
        panic!("a logistic-regression target");
    };
    let q = r.fit.q();
    let d = q.dim();
    assert_eq!(d, 31);
    let gap = reference.best_elbo - elbo(p, q);
    let mean_err = (0..d)
        .map(|i| (q.mean()[i] - reference.mean[i]).abs() / reference.sd[i])
        .fold(0.0, f64::max);
    let log_sd_err = (0..d)
        .map(|i| (0.5 * q.covariance()[i * d + i].ln() - reference.sd[i].ln()).abs())
        .fold(0.0, f64::max);
    (gap, mean_err, log_sd_err)
}

#[test]
fn gsm_and_bam_put_every_mean_within_a_tenth_of_a_posterior_sd() {
    let reference = reference();
    let gsm_ref = json("reference/gsm_logistic.json");
    let band = &gsm_ref["starts"]["zero"]["over_seeds"]["gap"];
    let (q10, q90) = (
        band["q10"].as_f64().expect("q10"),
        band["q90"].as_f64().expect("q90"),
    );
    let gsm = run(&experiment_text("experiments/logistic-gsm.toml"));
    assert_eq!(gsm.trace.n_grad_evals, 4000);
    assert_eq!(gsm_ref["grad_evals"].as_u64(), Some(4000));
    let (gap, mean_err, _) = judge(&gsm, &reference);
    eprintln!("gsm: gap {gap:.3} nats, mean error {mean_err:.3} sd");
    assert!(mean_err < 0.1, "GSM mean error {mean_err} sd");
    // A score-based fit is not the ELBO optimum: JAX's gap over 20 seeds lies in [q10, q90];
    // our one seed must sit in that band widened by 0.1 nats (seed spread and MC error).
    assert!(
        gap > q10 - 0.1 && gap < q90 + 0.1,
        "GSM gap {gap} outside [{q10}, {q90}] ± 0.1"
    );
    let bam = run(&experiment_text("experiments/logistic-bam.toml"));
    let (gap, mean_err, _) = judge(&bam, &reference);
    eprintln!("bam: gap {gap:.3} nats, mean error {mean_err:.3} sd");
    assert!(mean_err < 0.1, "BaM mean error {mean_err} sd");
    assert!(gap > 0.0 && gap < 1.0, "BaM gap {gap}");
    // The trace records the running count at every state, and the algorithm's settings.
    let its = &bam.trace.iterations;
    assert!(
        its.windows(2)
            .all(|w| w[0].n_grad_evals < w[1].n_grad_evals)
    );
    assert_eq!(its.last().map(|l| l.n_grad_evals), Some(20_000));
    let json = String::from_utf8(engine::trace::trace_json(&bam.trace)).expect("UTF-8");
    assert!(json.contains("\"objective\": \"bam\"") && json.contains("\"schedule\": \"decaying\""));
    assert!(!json.contains("\"optimizer\""));
}

#[test]
fn pathfinder_is_at_least_as_good_an_initializer_as_blackjax() {
    let reference = reference();
    let text = experiment_text("experiments/logistic-pathfinder.toml");
    // BlackJAX's settings: 30 L-BFGS iterations, history 10, one path.
    let blackjax = text
        .replace("n_iters = 100", "n_iters = 30")
        .replace("history = 31", "history = 10")
        .replace("n_paths = 4", "n_paths = 1");
    let at_blackjax = run(&blackjax);
    let (gap10, mean10, log_sd10) = judge(&at_blackjax, &reference);
    let grads = at_blackjax.trace.n_grad_evals;
    eprintln!(
        "pathfinder J = 10: {grads} gradient evaluations, gap {gap10:.2}, mean error \
         {mean10:.2} sd, log-sd error {log_sd10:.2}"
    );
    assert!(grads <= 63, "{grads} gradient evaluations, BlackJAX 63");
    assert!(gap10 <= 20.0, "gap {gap10} nats, BlackJAX 20");
    assert!(log_sd10 <= 1.5, "log-sd error {log_sd10}, BlackJAX 1.5");
    // With J ≥ d the inverse-Hessian estimate keeps the whole curvature: better.
    let full = run(&text);
    let (gap31, mean31, log_sd31) = judge(&full, &reference);
    eprintln!(
        "pathfinder J = 31, 4 paths: {} gradient evaluations, gap {gap31:.2}, mean error \
         {mean31:.2} sd, log-sd error {log_sd31:.2}",
        full.trace.n_grad_evals
    );
    assert!(gap31 < gap10, "J = 31 gap {gap31} vs J = 10 {gap10}");
    assert!(log_sd31 <= log_sd10);
    // Multi-path PSIS: the pooled draws of 31-D Gaussians whose ELBO is nats below the best
    // cannot be trusted, and k̂ says so.
    let report = full.fit.pathfinder().expect("a Pathfinder fit");
    assert_eq!(report.paths.len(), 4);
    assert!(report.pareto_k > 0.7, "k̂ {}", report.pareto_k);
    let t = full.trace.algorithm.as_ref().expect("algorithm settings");
    let pf = t.pathfinder.as_ref().expect("pathfinder outcome");
    assert_eq!(pf.pareto_k, report.pareto_k);
    assert_eq!(pf.paths.len(), 4);
}

const GSM_MVN: &str = r#"name = "gsm-mvn"
seed = 1
[target]
kind = "mvn"
mean = [1.0, -0.5]
cov = [[1.5, 0.3], [0.3, 0.4]]
[init]
mean = [0.0, 0.0]
sd = [1.0, 1.0]
[objective]
kind = "gsm"
batch_size = 2
n_iters = 100
"#;

#[test]
fn a_gaussian_target_is_reached_through_the_file() {
    for (kind, extra) in [
        ("gsm", ""),
        ("bam", "schedule = \"constant\"\nlambda = 100.0\n"),
        ("pathfinder", ""),
    ] {
        let text = GSM_MVN.replace(
            "kind = \"gsm\"\nbatch_size = 2\n",
            &format!("kind = \"{kind}\"\n{extra}"),
        );
        let r = run(&text);
        let (_, kl) = r.trace.answer_kl();
        let kl = kl.expect("the exact KL of a Gaussian target");
        assert!(kl < 1e-3, "{kind}: D(q‖p) = {kl}");
        assert!(r.trace.iterations.iter().all(|i| i.n_grad_evals > 0));
        assert_eq!(r.trace.method(), kind);
    }
}

#[test]
fn a_pathfinder_start_begins_adam_where_pathfinder_ended() {
    // `[init] pathfinder = true` on the Gaussian target: ADVI's first state is Pathfinder's
    // Gaussian, far closer to p than N(0, I) (its exact D(q‖p) at iteration 0), and the
    // evaluations Pathfinder made are counted in the trace from the first record on.
    let advi = GSM_MVN.replace(
        "kind = \"gsm\"\nbatch_size = 2\nn_iters = 100\n",
        "kind = \"reverse-kl\"\nn_samples = 10\n[optimizer]\nkind = \"adam\"\n\
             learning_rate = 0.01\nn_iters = 20\n",
    );
    let first = |text: &str| {
        let r = run(text);
        let it = r.trace.iterations.first().cloned().expect("a first record");
        (
            it.kl_reverse.expect("the exact D(q‖p)"),
            it.n_grad_evals,
            it.n_density_evals,
        )
    };
    let (kl_standard, evals_standard, _) = first(&advi);
    let (kl_pathfinder, evals_pathfinder, density_pathfinder) = first(&advi.replace(
        "[init]\nmean = [0.0, 0.0]\nsd = [1.0, 1.0]",
        "[init]\npathfinder = true",
    ));
    eprintln!(
        "iteration 0: D(q‖p) {kl_standard:.4} from N(0, I), {kl_pathfinder:.2e} from \
         Pathfinder ({evals_pathfinder} gradient evaluations)"
    );
    assert!(kl_standard > 0.5, "N(0, I): {kl_standard}");
    assert!(kl_pathfinder < 0.01, "Pathfinder's start: {kl_pathfinder}");
    // The first record holds the evaluations made so far: the first step's 10 draws, and
    // before them Pathfinder's L-BFGS gradients and the log densities of its ELBO draws (25
    // per iterate, 4 paths).
    assert_eq!(evals_standard, 10);
    assert!(evals_pathfinder > 10 + 4, "{evals_pathfinder}");
    assert!(density_pathfinder >= 4 * 25, "{density_pathfinder}");
}

#[test]
fn bad_keys_are_errors_naming_the_key() {
    let with = |from: &str, to: &str| {
        assert!(GSM_MVN.contains(from), "{from}");
        GSM_MVN.replace(from, to)
    };
    let cases: Vec<(String, &str)> = vec![
        (
            with("n_iters = 100\n", ""),
            "objective.n_iters: kind = \"gsm\" needs `n_iters`",
        ),
        (
            with("n_iters = 100", "n_iters = 0"),
            "objective.n_iters: must be between 1",
        ),
        (
            with("batch_size = 2", "batch_size = 0"),
            "objective.batch_size: must be between 1",
        ),
        (
            with("batch_size = 2", "batch_size = 2\nhistory = 3"),
            "objective.history: is not used by kind = \"gsm\"",
        ),
        (
            with(
                "kind = \"gsm\"",
                "kind = \"bam\"\nschedule = \"constant\"\nlambda = -1.0",
            ),
            "objective.lambda: must be a finite number > 0, got -1 (λ ≤ 0 makes BaM's Σ' indefinite)",
        ),
        (
            with("kind = \"gsm\"", "kind = \"bam\"\nschedule = \"constant\""),
            "objective.lambda: kind = \"bam\" needs `lambda`",
        ),
        (
            with("kind = \"gsm\"", "kind = \"bam\"\nschedule = \"cosine\""),
            "objective.schedule: unknown schedule \"cosine\"",
        ),
        (
            with("kind = \"gsm\"", "kind = \"bam\"\nlambda = 3.0"),
            "objective.lambda: is the constant schedule's λ",
        ),
        (
            with(
                "kind = \"gsm\"\nbatch_size = 2",
                "kind = \"pathfinder\"\nn_paths = 0",
            ),
            "objective.n_paths: must be between 1",
        ),
        (
            with(
                "kind = \"gsm\"\nbatch_size = 2",
                "kind = \"pathfinder\"\ninit_radius = -1",
            ),
            "objective.init_radius: must be ≥ 0",
        ),
        (
            with(
                "n_iters = 100\n",
                "n_iters = 100\n[optimizer]\nkind = \"adam\"\nlearning_rate = 0.1\nn_iters = 5\n",
            ),
            "optimizer: is not used by objective.kind = \"gsm\"",
        ),
        (
            with("[init]", "[model]\nfamily = \"mean-field\"\n[init]"),
            "model.family: kind = \"gsm\" fits a full-rank Gaussian",
        ),
        (
            with(
                "kind = \"gsm\"\nbatch_size = 2\nn_iters = 100",
                "kind = \"reverse-kl\"\nn_iters = 5",
            ),
            "objective.n_iters: is not used by kind = \"reverse-kl\"",
        ),
        (
            with(
                "kind = \"gsm\"\nbatch_size = 2\nn_iters = 100",
                "kind = \"reverse-kl\"",
            ),
            "optimizer: objective.kind = \"reverse-kl\" needs an [optimizer] section",
        ),
        (
            with("[init]", "[init]\npathfinder = true"),
            "init.mean: give either `pathfinder = true` or the parameters, not both",
        ),
        (
            with(
                "[init]\nmean = [0.0, 0.0]\nsd = [1.0, 1.0]",
                "[init]\npathfinder = true\nrandom = true",
            ),
            "init.pathfinder: give either `random = true` or this start, not both",
        ),
        (
            with(
                "[init]\nmean = [0.0, 0.0]\nsd = [1.0, 1.0]",
                "[init]\npathfinder = true\nlaplace = true",
            ),
            "init.pathfinder: give either `laplace = true` or `pathfinder = true`, not both",
        ),
    ];
    for (text, want) in cases {
        let e = config::parse(&text, Path::new("vi.toml"), &Fs).expect_err(want);
        let msg = e.to_string();
        assert!(msg.contains(want), "want {want:?}, got {msg:?}");
    }
}
