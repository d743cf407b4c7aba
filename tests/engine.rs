//! The experiment engine below the command line: what `iterations[k]` holds, determinism, the
//! exact KL of the trace (closed form, 2-D quadrature checked against brute force, Monte Carlo in
//! d > 2, `null` for samples), the one folder writer and located errors.

use std::path::Path;

use forward_backward_kl::Error;
use forward_backward_kl::app::input::Fs;
use forward_backward_kl::app::output::{OutputFile, write_folder};
use forward_backward_kl::config;
use forward_backward_kl::engine::exact_kl::{ExactKl, KlMethod};
use forward_backward_kl::engine::{self as run, trace::trace_json};
use kl_dist::{AnyDensity, Mixture, Mvn};
use kl_grad::{ForwardKlExact, Objective};

fn run_text(text: &str) -> run::Run {
    let exp = config::parse(text, Path::new("engine-test.toml"), &Fs).expect("a valid experiment");
    run::run(&exp).expect("the fit runs")
}

const GAUSS_SGD: &str = r#"name = "replay"
seed = 4
[target]
kind = "mvn"
mean = [1.0, -0.5]
cov = [[1.5, 0.3], [0.3, 0.4]]
[init]
mean = [0.2, 0.3]
raw = [[0.8, 0.1], [-0.3, 1.2]]
[objective]
kind = "forward-kl-exact"
[optimizer]
kind = "sgd"
learning_rate = 0.1
n_iters = 6
"#;

const MIX_REV: &str = r#"name = "mix-rev"
seed = 8
[target]
kind = "mixture"
weights = [0.8, 0.2]
components = [
  { mean = [0.5, -0.7], cov = [[1.0, 1.0], [1.0, 2.0]] },
  { mean = [-2.5, 2.5], cov = [[0.5, 0.1], [0.1, 0.5]] },
]
[init]
random = true
[objective]
kind = "reverse-kl"
n_samples = 200
[optimizer]
kind = "adam"
learning_rate = 0.05
n_iters = 10
"#;

#[test]
fn iteration_k_holds_theta_after_k_updates() {
    let r = run_text(GAUSS_SGD);
    let its = &r.trace.iterations;
    assert_eq!(its.len(), 7);
    let p = Mvn::new(&[1.0, -0.5], &[1.5, 0.3, 0.3, 0.4]).expect("target");
    let mut objective = ForwardKlExact::new(p.clone());
    let mut theta = vec![0.2, 0.3, 0.8, 0.1, -0.3, 1.2];
    let mut grad = vec![0.0; 6];
    for (k, it) in its.iter().enumerate() {
        assert_eq!(it.iteration, k);
        let got: Vec<f64> = it
            .mean
            .iter()
            .chain(it.raw.iter().flatten())
            .copied()
            .collect();
        for (a, b) in got.iter().zip(&theta) {
            assert!((a - b).abs() <= 1e-12, "θ at {k}: {got:?} vs {theta:?}");
        }
        let loss = objective
            .value_and_grad(&theta, &mut grad)
            .expect("non-singular");
        assert!((it.loss - loss).abs() <= 1e-12);
        let gn = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        assert!((it.grad_norm - gn).abs() <= 1e-12);
        // The exact KL of the trace is the closed form at θₖ, both ways.
        let q = r.trace.model(k).expect("model");
        let fwd = kl_dist::kl_divergence(&p, &q).expect("same dim");
        let rev = kl_dist::kl_divergence(&q, &p).expect("same dim");
        assert_eq!(it.kl_forward, Some(fwd));
        assert_eq!(it.kl_reverse, Some(rev));
        theta.iter_mut().zip(&grad).for_each(|(t, g)| *t -= 0.1 * g);
    }
    assert_eq!(r.trace.kl_method.as_deref(), Some("closed-form"));
}

#[test]
fn same_file_and_seed_give_the_same_trace_bytes() {
    let a = trace_json(&run_text(MIX_REV).trace);
    let b = trace_json(&run_text(MIX_REV).trace);
    assert!(a == b, "two runs of one file differ");
    let c = trace_json(&run_text(&MIX_REV.replace("seed = 8", "seed = 9")).trace);
    assert!(a != c, "the seed does not matter");
    let text = String::from_utf8(a).expect("UTF-8");
    assert!(text.contains("\"kl_method\": \"quadrature"), "{text}");
    assert!(text.ends_with("}\n"));
}

/// A few Gaussians q of various shapes around the notebook's mixture.
fn some_models() -> Vec<Mvn> {
    let p = notebook_mixture();
    vec![
        p.moment_matched(),
        Mvn::new(&[-2.5, 2.5], &[0.5, 0.1, 0.1, 0.5]).expect("q"),
        Mvn::from_factor(&[0.5, -0.7], &[0.3, 0.0, 0.9, 0.4]).expect("q"),
        Mvn::new(&[1.0, 1.0], &[4.0, 0.0, 0.0, 2.25]).expect("q"),
        Mvn::from_factor(&[-1.0, 0.5], &[0.7, -0.6, 0.2, 0.9]).expect("q"),
    ]
}

fn notebook_mixture() -> Mixture {
    let a = Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]).expect("component 0");
    let b = Mvn::new(&[-2.5, 2.5], &[0.5, 0.1, 0.1, 0.5]).expect("component 1");
    Mixture::new(&[0.8, 0.2], vec![a, b]).expect("the mixture")
}

#[test]
fn quadrature_matches_the_closed_form_for_one_component() {
    let comps = [
        Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]).expect("p"),
        Mvn::new(&[-2.5, 2.5], &[0.5, 0.1, 0.1, 0.5]).expect("p"),
        Mvn::new(&[0.0, 0.0], &[0.09, 0.0, 0.0, 4.0]).expect("p"),
    ];
    for p in comps {
        let kl = ExactKl::new(
            AnyDensity::Mixture(Mixture::new(&[1.0], vec![p.clone()]).expect("K = 1")),
            0,
        );
        assert_eq!(kl.method(), KlMethod::Quadrature);
        for q in some_models() {
            let (fwd, rev) = kl.eval(&q);
            let want_fwd = kl_dist::kl_divergence(&p, &q).expect("same dim");
            let want_rev = kl_dist::kl_divergence(&q, &p).expect("same dim");
            assert!((fwd - want_fwd).abs() < 1e-6, "D(p‖q): {fwd} vs {want_fwd}");
            assert!((rev - want_rev).abs() < 1e-6, "D(q‖p): {rev} vs {want_rev}");
        }
    }
}

/// log N(x; m, S) for 2 × 2 S, by hand.
fn log_normal(x: [f64; 2], m: &[f64], s: &[f64]) -> f64 {
    let det = s[0] * s[3] - s[1] * s[2];
    let (dx, dy) = (x[0] - m[0], x[1] - m[1]);
    let maha = (s[3] * dx * dx - (s[1] + s[2]) * dx * dy + s[0] * dy * dy) / det;
    -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 0.5 * maha
}

#[test]
fn quadrature_matches_brute_force_integration_for_the_notebook_mixture() {
    let p = notebook_mixture();
    let kl = ExactKl::new(AnyDensity::Mixture(p.clone()), 0);
    let log_p = |x: [f64; 2]| {
        let terms: Vec<f64> = p
            .weights()
            .iter()
            .zip(p.components())
            .map(|(w, c)| w.ln() + log_normal(x, c.mean(), c.covariance()))
            .collect();
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
    };
    // Midpoint rule on [−20, 20]²: for these smooth, fast-decaying integrands its error decays
    // exponentially in 1/h, far below 1e-6 at h = 0.04.
    let (lo, h, n) = (-20.0, 0.04, 1000);
    let mut lp = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            lp[i * n + j] = log_p([lo + h * (i as f64 + 0.5), lo + h * (j as f64 + 0.5)]);
        }
    }
    for q in some_models() {
        let (mut fwd, mut rev) = (0.0, 0.0);
        for i in 0..n {
            for j in 0..n {
                let x = [lo + h * (i as f64 + 0.5), lo + h * (j as f64 + 0.5)];
                let (a, b) = (lp[i * n + j], log_normal(x, q.mean(), q.covariance()));
                fwd += a.exp() * (a - b);
                rev += b.exp() * (b - a);
            }
        }
        let (fwd, rev) = (fwd * h * h, rev * h * h);
        let (got_fwd, got_rev) = kl.eval(&q);
        assert!(
            (got_fwd - fwd).abs() < 1e-6,
            "D(p‖q): {got_fwd} vs brute force {fwd}"
        );
        assert!(
            (got_rev - rev).abs() < 1e-6,
            "D(q‖p): {got_rev} vs brute force {rev}"
        );
    }
}

#[test]
fn a_mixture_in_three_dimensions_gets_a_seeded_monte_carlo_kl() {
    let text = r#"name = "mix3"
seed = 5
[target]
kind = "mixture"
weights = [0.5, 0.5]
components = [
  { mean = [1.0, 0.0, 0.0], cov = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]] },
  { mean = [-1.0, 0.5, 0.0], cov = [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5]] },
]
[init]
mean = [0.0, 0.0, 0.0]
raw = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
[objective]
kind = "reverse-kl"
n_samples = 50
[optimizer]
kind = "adam"
learning_rate = 0.05
n_iters = 2
"#;
    let a = run_text(text);
    let method = a
        .trace
        .kl_method
        .clone()
        .expect("a density target has a KL");
    assert!(method.starts_with("monte-carlo"), "{method}");
    assert!(method.contains("estimate"), "{method}");
    assert!(a.trace.iterations.iter().all(|it| {
        it.kl_forward.is_some_and(|v| v.is_finite()) && it.kl_reverse.is_some_and(|v| v.is_finite())
    }));
    assert!(trace_json(&a.trace) == trace_json(&run_text(text).trace));

    // With one component the estimate is within Monte Carlo error of the closed form.
    let p = Mvn::new(
        &[1.0, 0.0, -1.0],
        &[1.0, 0.2, 0.0, 0.2, 0.8, 0.1, 0.0, 0.1, 1.5],
    )
    .expect("p");
    let kl = ExactKl::new(
        AnyDensity::Mixture(Mixture::new(&[1.0], vec![p.clone()]).expect("K = 1")),
        7,
    );
    assert!(matches!(kl.method(), KlMethod::MonteCarlo { .. }));
    let q = Mvn::new(
        &[0.0, 0.5, 0.0],
        &[2.0, 0.0, 0.0, 0.0, 1.0, 0.3, 0.0, 0.3, 1.0],
    )
    .expect("q");
    let (fwd, rev) = kl.eval(&q);
    let want_fwd = kl_dist::kl_divergence(&p, &q).expect("same dim");
    let want_rev = kl_dist::kl_divergence(&q, &p).expect("same dim");
    assert!((fwd - want_fwd).abs() < 0.03, "{fwd} vs {want_fwd}");
    assert!((rev - want_rev).abs() < 0.03, "{rev} vs {want_rev}");
}

#[test]
fn a_samples_target_has_no_kl_and_takes_its_size_from_the_file() {
    let scratch = kl_testkit::scratch_dir("engine-samples-");
    let dir = scratch.path().to_path_buf();
    std::fs::write(
        dir.join("data.csv"),
        "x,y\n0.1,0.2\n\n-0.3,0.4\n1.0,-1.0\n2.5,0.5\n",
    )
    .expect("csv");
    let text = r#"name = "from-csv"
seed = 1
[target]
kind = "samples"
path = "data.csv"
[init]
mean = [0.0, 0.0]
raw = [[1.0, 0.0], [0.0, 1.0]]
[objective]
kind = "forward-kl-samples"
[optimizer]
kind = "sgd"
learning_rate = 0.1
n_iters = 3
"#;
    let exp = config::parse(text, &dir.join("exp.toml"), &Fs).expect("valid");
    assert_eq!(exp.objective.n_samples, 4);
    let r = run::run(&exp).expect("runs");
    assert_eq!(r.samples, vec![0.1, 0.2, -0.3, 0.4, 1.0, -1.0, 2.5, 0.5]);
    assert!(r.target.is_none());
    assert_eq!(r.trace.kl_method, None);
    assert!(
        r.trace
            .iterations
            .iter()
            .all(|it| it.kl_forward.is_none() && it.kl_reverse.is_none())
    );
    let json = String::from_utf8(trace_json(&r.trace)).expect("UTF-8");
    assert!(json.contains("\"kl_method\": null") && json.contains("\"kl_reverse\": null"));
    // The figures announced before the fit are the ones drawn: no target density, no KL curves.
    let mut drawn: Vec<String> = forward_backward_kl::figures::run_figures(
        &r,
        forward_backward_kl::figures::Style::default(),
    )
    .expect("figures")
    .into_iter()
    .map(|o| o.name)
    .collect();
    let mut announced = forward_backward_kl::figures::file_names(&exp);
    drawn.sort();
    announced.sort();
    assert_eq!(drawn, announced);
    assert!(
        !announced
            .iter()
            .any(|n| n.contains("target") || n.contains("curves"))
    );
}

fn file(name: &str, bytes: &[u8]) -> OutputFile {
    OutputFile {
        name: name.into(),
        bytes: bytes.to_vec(),
    }
}

#[test]
fn write_folder_leaves_no_partial_file() {
    let scratch = kl_testkit::scratch_dir("engine-atomic-");
    let dir = scratch.path().to_path_buf();
    let dest = dir.join("sub/run");
    write_folder(&dest, &[file("trace.json", b"{}\n")]).expect("writes");
    write_folder(&dest, &[file("trace.json", b"{\"a\": 1}\n")]).expect("replaces");
    assert_eq!(
        std::fs::read(dest.join("trace.json")).expect("read"),
        b"{\"a\": 1}\n"
    );
    let names: Vec<_> = std::fs::read_dir(&dest)
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("trace.json")]);
    // Nothing but the folder next to it either: no temporary folder is left.
    let beside: Vec<_> = std::fs::read_dir(dir.join("sub"))
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("run")]);
    // Below a regular file: an I/O error naming the path, nothing written.
    std::fs::write(dir.join("file"), "x").expect("blocker");
    let bad = dir.join("file/out/run");
    match write_folder(&bad, &[file("trace.json", b"{}")]) {
        Err(e @ Error::Io { .. }) => assert!(
            e.to_string()
                .contains(&dir.join("file").display().to_string()),
            "{e}"
        ),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("file")).expect("kept"),
        "x"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_are_located_and_typed() {
    let bad = GAUSS_SGD.replace("learning_rate = 0.1", "learning_rate = -0.1");
    match config::parse(&bad, Path::new("e.toml"), &Fs) {
        Err(Error::Config {
            path,
            at: Some(at),
            key: Some(key),
            ..
        }) => {
            assert_eq!(path, Path::new("e.toml"));
            assert_eq!(key, "optimizer.learning_rate");
            assert_eq!((at.line, at.column), (14, 17));
        }
        other => panic!("{other:?}"),
    }
    let bad = GAUSS_SGD.replace("n_iters = 6", "n_iters = 6\ntypo = 1");
    let e = config::parse(&bad, Path::new("e.toml"), &Fs).expect_err("unknown key");
    assert!(
        e.to_string()
            .starts_with("e.toml:16:1: optimizer.typo: unknown field `typo`"),
        "{e}"
    );

    // Divergence: the run stops, naming the experiment, its file and the iteration.
    let bad = MIX_REV
        .replace("kind = \"adam\"", "kind = \"sgd\"")
        .replace("learning_rate = 0.05", "learning_rate = 100")
        .replace("n_iters = 10", "n_iters = 50");
    let exp = config::parse(&bad, Path::new("e.toml"), &Fs).expect("valid");
    match run::run(&exp) {
        Err(e @ Error::Fit { .. }) => {
            let m = e.to_string();
            assert!(
                m.starts_with("experiment mix-rev (e.toml): iteration "),
                "{m}"
            );
        }
        other => panic!(
            "expected a fit error, got {:?}",
            other.map(|r| r.trace.n_iters)
        ),
    }
}
