//! Robustness (#11) below the command line: limits named by key, size and limit; seeds beyond
//! 2⁶³; the clamped KL of a converged fit; CSV details (byte-order mark, long fields); overflowing
//! plot limits. The binary's side (files, folders, symlinks, memory) is in `xtask/tests/cli.rs`.

use std::path::Path;

use forward_backward_kl::Error;
use forward_backward_kl::app::input::Fs;
use forward_backward_kl::config::{self, limits, parse_table};
use forward_backward_kl::engine::{self, trace::trace_json};
use kl_testkit::experiment::{GAUSS_2D, GOOD_CSV, MIXTURE_2D, SAMPLES_2D, edit};

fn parse(text: &str) -> Result<config::Experiment, Error> {
    config::parse(text, Path::new("r.toml"), &Fs)
}

/// Checks that `text` is refused with a `Config` error at `key` whose message holds every one
/// of `expect`.
#[track_caller]
fn check_config_error(text: &str, key: &str, expect: &[&str]) {
    match parse(text) {
        Err(Error::Config {
            path,
            key: Some(k),
            message,
            ..
        }) => {
            assert_eq!(path, Path::new("r.toml"));
            assert_eq!(k, key, "{message}");
            for e in expect {
                assert!(message.contains(e), "expected `{e}` in: {message}");
            }
        }
        other => panic!("expected a Config error at {key}, got {other:?}"),
    }
}

#[test]
fn sizes_beyond_the_limits_are_typed_errors_naming_key_size_and_limit() {
    let max = limits::MAX_VALUES.to_string();
    check_config_error(
        &edit(MIXTURE_2D, "n_samples = 50", "n_samples = 6000000"),
        "objective.n_samples",
        &["6000000 samples × 2 dimensions = 12000000 numbers", &max],
    );
    check_config_error(
        &edit(MIXTURE_2D, "n_iters = 3", "n_iters = 1000001"),
        "optimizer.n_iters",
        &["1000001"],
    );
    check_config_error(
        &edit(
            &edit(MIXTURE_2D, "n_samples = 50", "n_samples = 5000000"),
            "n_iters = 3",
            "n_iters = 1000000",
        ),
        "optimizer.n_iters",
        &["1000000 iterations", "1e13"],
    );
}

#[test]
fn seeds_beyond_i64_are_given_as_strings() {
    let exp = parse(&edit(
        GAUSS_2D,
        "seed = 5",
        "seed = \"18446744073709551615\"",
    ))
    .expect("valid");
    assert_eq!(exp.seed, u64::MAX);
    let exp = parse(&edit(
        GAUSS_2D,
        "seed = 5",
        "seed = \"9223372036854775808\"",
    ))
    .expect("valid");
    assert_eq!(exp.seed, 1 << 63);
    // The same runs, and is reproducible.
    let a = engine::run(&exp).expect("runs");
    let b = engine::run(&exp).expect("runs");
    assert!(trace_json(&a.trace) == trace_json(&b.trace));
    check_config_error(
        &edit(GAUSS_2D, "seed = 5", "seed = \"18446744073709551616\""),
        "seed",
        &[
            "18446744073709551616",
            "not an integer in 0..=18446744073709551615",
        ],
    );
    check_config_error(
        &edit(GAUSS_2D, "seed = 5", "seed = -1"),
        "seed",
        &["≥ 0", "string"],
    );
}

#[test]
fn a_seed_beyond_i64_as_a_toml_integer_says_to_use_a_string() {
    // TOML integers are i64: 2⁶⁴ − 1 written bare is out of range for TOML itself.
    match parse(&edit(GAUSS_2D, "seed = 5", "seed = 18446744073709551615")) {
        Err(e @ Error::Config { .. }) => {
            let m = e.to_string();
            assert!(m.contains("seed"), "{m}");
            assert!(
                m.contains("string"),
                "the message says to use a string: {m}"
            );
        }
        other => panic!("expected a Config error, got {other:?}"),
    }
}

#[test]
fn a_converged_fit_stores_a_kl_of_exactly_zero() {
    // init = target exactly (diagonal, so L Lᵀ = Σ in floating point): D(p‖q) = D(q‖p) = 0.
    let t = edit(
        GAUSS_2D,
        "cov = [[1.0, 0.3], [0.3, 0.5]]",
        "cov = [[4.0, 0.0], [0.0, 0.25]]",
    );
    let t = edit(
        &t,
        "mean = [0.0, 0.0]\nraw = [[1.0, 0.0], [0.0, 1.0]]",
        "mean = [1.0, -1.0]\nraw = [[2.0, 0.0], [0.0, 0.5]]",
    );
    let run = engine::run(&parse(&t).expect("valid")).expect("runs");
    for it in &run.trace.iterations {
        for kl in [it.kl_forward, it.kl_reverse] {
            let kl = kl.expect("a Gaussian target has the closed form");
            assert!(
                kl == 0.0 && kl.is_sign_positive(),
                "iteration {}: {kl:?}",
                it.iteration
            );
        }
    }
    let json = String::from_utf8(trace_json(&run.trace)).expect("UTF-8");
    assert!(!json.contains("-0.0"), "a KL is written as -0.0");
}

#[test]
fn a_byte_order_mark_keeps_the_first_row() {
    let t = parse_table("\u{feff}1.5,2\n3,4\n", Path::new("b.csv")).expect("valid");
    assert_eq!((t.columns.clone(), t.n_rows(), t.data[0]), (None, 2, 1.5));
    let dir = kl_testkit::scratch_dir("bom");
    std::fs::write(dir.path().join("data.csv"), "\u{feff}0.5,1.5\n-1,2\n3,4\n").expect("csv");
    let exp = config::parse(SAMPLES_2D, &dir.path().join("e.toml"), &Fs).expect("valid");
    assert_eq!(exp.objective.n_samples, 3, "the first row is data");
    match &exp.target {
        config::TargetSpec::Samples { data, .. } => assert_eq!(data[..2], [0.5, 1.5]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_long_csv_field_is_quoted_as_a_short_prefix() {
    let field = "7".repeat(5000) + "x";
    match parse_table(&format!("a,b\n1,{field}\n"), Path::new("l.csv")) {
        Err(e @ Error::Csv { line: Some(2), .. }) => {
            let m = e.to_string();
            assert!(
                m.len() < 200 && m.contains("field 2") && m.contains('…'),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn overflowing_plot_limits_are_refused() {
    let t = edit(
        GAUSS_2D,
        "[plot]\n",
        "[plot]\nlim = [-1e308, 1e308, -1.0, 1.0]\n",
    );
    check_config_error(&t, "plot.lim", &["overflows"]);
    let t = edit(
        GAUSS_2D,
        "[plot]\n",
        "[plot]\nlim = [0.0, 1.0, -1e308, 1.7e308]\n",
    );
    check_config_error(&t, "plot.lim", &["overflows"]);
    let t = edit(
        GAUSS_2D,
        "[plot]\n",
        "[plot]\nlim = [-1e300, 1e300, -1.0, 1.0]\n",
    );
    parse(&t).expect("±1e300 is within range");
}

#[test]
fn a_random_mvn_target_beyond_its_conditioning_limit_is_refused_naming_the_key() {
    // The notebook's random Gaussian (a lower-triangular factor of N(0, 1) entries) is numerically
    // singular for many seeds in d = 20: refused up front, located, with the way out.
    let t = edit(
        GAUSS_2D,
        "kind = \"mvn\"\nmean = [1.0, -1.0]\ncov = [[1.0, 0.3], [0.3, 0.5]]",
        "kind = \"random-mvn\"\ndim = 20",
    );
    let t = edit(
        &t,
        "mean = [0.0, 0.0]\nraw = [[1.0, 0.0], [0.0, 1.0]]",
        "random = true",
    );
    match parse(&t) {
        Err(e @ Error::Config { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("target.dim") && m.contains("kind = \"mvn\""),
                "{m}"
            );
        }
        other => panic!("expected a located refusal, got {other:?}"),
    }
}

#[test]
fn a_missing_samples_file_is_named_as_the_samples_file() {
    let dir = kl_testkit::scratch_dir("missing");
    let e = config::parse(SAMPLES_2D, &dir.path().join("e.toml"), &Fs).expect_err("no data.csv");
    let m = forward_backward_kl::report(&e);
    assert!(
        m.contains(&dir.path().join("data.csv").display().to_string()),
        "{m}"
    );
    assert!(
        m.contains("samples file"),
        "the message says what the file is for: {m}"
    );
    std::fs::write(dir.path().join("data.csv"), GOOD_CSV).expect("csv");
    config::parse(SAMPLES_2D, &dir.path().join("e.toml"), &Fs).expect("now valid");
}
