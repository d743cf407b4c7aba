//! PSIS, ESS and IW-ELBO against values computed once with ArviZ 0.23.4 / numpy
//! (`tests/reference/generate.py` wrote `tests/reference/psis.json`).

use std::collections::HashMap;

use kl_diag::{TailFit, ess, iw_elbo, psis};
use serde_json::Value;

/// Tolerance on k̂ and on each smoothed log weight (absolute: an error δ in a log weight is a
/// relative error δ in the weight).
const TOL: f64 = 1e-6;

struct Case {
    name: String,
    log_weights: Vec<f64>,
    arviz_k: f64,
    arviz_log_weights: Vec<f64>,
    ess: f64,
    ess_smoothed: f64,
    iw_elbo: f64,
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("an f64"),
        Value::String(s) => match s.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            "nan" => f64::NAN,
            other => panic!("unexpected string {other:?} for a number"),
        },
        other => panic!("unexpected JSON {other} for a number"),
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(number).collect()
}

fn load() -> (Value, Vec<Case>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/psis.json"
    ))
    .expect("tests/reference/psis.json (run tests/reference/generate.py)");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    let cases = json["cases"]
        .as_array()
        .expect("a case list")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().expect("a name").to_owned(),
            log_weights: numbers(&c["log_weights"]),
            arviz_k: number(&c["arviz_pareto_k"]),
            arviz_log_weights: numbers(&c["arviz_log_weights"]),
            ess: number(&c["ess"]),
            ess_smoothed: number(&c["ess_smoothed"]),
            iw_elbo: number(&c["iw_elbo"]),
        })
        .collect();
    (json["meta"].clone(), cases)
}

/// The case whose documented deviation from ArviZ is checked separately.
const DEGENERATE: &str = "degenerate_tail_S100";

/// Compares smoothed log weights entry by entry; among equal inputs (whose order ArviZ leaves
/// to numpy's unstable argsort) as sorted groups. Returns the largest deviation.
fn compare_log_weights(case: &Case, ours: &[f64]) -> f64 {
    assert_eq!(
        ours.len(),
        case.arviz_log_weights.len(),
        "{}: length",
        case.name
    );
    let mut groups: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, v) in case.log_weights.iter().enumerate() {
        groups.entry(v.to_bits()).or_default().push(i);
    }
    let mut max_dev: f64 = 0.0;
    for indices in groups.values() {
        let mut a: Vec<f64> = indices.iter().map(|&i| ours[i]).collect();
        let mut b: Vec<f64> = indices.iter().map(|&i| case.arviz_log_weights[i]).collect();
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        for ((x, y), &i) in a.iter().zip(&b).zip(indices) {
            if *y == f64::NEG_INFINITY {
                assert_eq!(
                    *x,
                    f64::NEG_INFINITY,
                    "{}: entry {i} must be -inf",
                    case.name
                );
                continue;
            }
            let dev = (x - y).abs();
            assert!(
                dev <= TOL,
                "{}: log weight (group of input {}) {x} vs ArviZ {y}, deviation {dev:e}",
                case.name,
                case.log_weights[i]
            );
            max_dev = max_dev.max(dev);
        }
    }
    max_dev
}

#[test]
fn fixture_is_the_documented_one() {
    let (meta, cases) = load();
    assert_eq!(meta["arviz"], "0.23.4");
    assert!(cases.len() >= 30, "{} cases", cases.len());
    // Every case kind the docs promise is present.
    for name in [
        "normal_sd1.0_S1000",
        "cauchy_over_normal_S4000",
        "three_huge_weights_S1000",
        "rounded_ties_S1000",
        "equal_tail_values_S1000",
        "tiny_S5",
        "tiny_S20",
        "mostly_zero_weights_S200",
        "mixture2d_q_scale0.6_S4000",
        DEGENERATE,
    ] {
        assert!(cases.iter().any(|c| c.name == name), "missing case {name}");
    }
}

#[test]
fn pareto_k_and_smoothed_log_weights_match_arviz() {
    let (_, cases) = load();
    let (mut max_k_dev, mut max_lw_dev): (f64, f64) = (0.0, 0.0);
    for case in cases.iter().filter(|c| c.name != DEGENERATE) {
        let result = psis(&case.log_weights).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let k = result.pareto_k();
        if result.fit().tail == TailFit::Flat {
            // The documented departure from ArviZ (which finds no tail and says +inf): identical
            // weights are exact importance sampling, k̂ = FLAT_PARETO_K. The weights still match.
            assert!(
                case.log_weights.iter().all(|w| *w == case.log_weights[0]),
                "{}",
                case.name
            );
            assert_eq!(case.arviz_k, f64::INFINITY, "{}", case.name);
            assert_eq!(k, kl_diag::FLAT_PARETO_K, "{}", case.name);
        } else if case.arviz_k == f64::INFINITY {
            assert_eq!(k, f64::INFINITY, "{}", case.name);
            assert_eq!(result.fit().tail, TailFit::TooFewTailDraws, "{}", case.name);
        } else {
            let dev = (k - case.arviz_k).abs();
            assert!(
                dev <= TOL,
                "{}: k̂ {k} vs ArviZ {} ({dev:e})",
                case.name,
                case.arviz_k
            );
            assert!(
                matches!(result.fit().tail, TailFit::Smoothed { .. }),
                "{}",
                case.name
            );
            max_k_dev = max_k_dev.max(dev);
        }
        let dev = compare_log_weights(case, result.log_weights());
        max_lw_dev = max_lw_dev.max(dev);
        eprintln!(
            "{:36} S = {:5}  k̂ = {:>22}  ArviZ {:>22}  max |Δ lw| = {dev:.1e}",
            case.name,
            case.log_weights.len(),
            k,
            case.arviz_k
        );
    }
    eprintln!("max |Δ k̂| = {max_k_dev:e}, max |Δ log weight| = {max_lw_dev:e}");
}

#[test]
fn degenerate_tail_is_a_failed_fit_where_arviz_returns_nan_weights() {
    let (_, cases) = load();
    let case = cases
        .iter()
        .find(|c| c.name == DEGENERATE)
        .expect("the case");
    // What ArviZ 0.23.4 does: the prior mean as k̂ (5 / (20 + 10)) and NaN log weights.
    assert!((case.arviz_k - 1.0 / 6.0).abs() < 1e-15);
    assert!(case.arviz_log_weights.iter().all(|v| v.is_nan()));

    let result = psis(&case.log_weights).expect("valid input");
    assert_eq!(result.fit().tail, TailFit::FitFailed);
    assert_eq!(result.fit().n_tail, 20);
    assert_eq!(result.pareto_k(), f64::INFINITY);
    // Unsmoothed, normalized: 79 weights e^{-1}, 21 weights 1 (all within 2e-20 of 0).
    let log_total = (79.0 * (-1.0f64).exp() + 21.0).ln();
    for (i, (&ours, &raw)) in result
        .log_weights()
        .iter()
        .zip(&case.log_weights)
        .enumerate()
    {
        let expected = if raw == -1.0 {
            -1.0 - log_total
        } else {
            -log_total
        };
        assert!(
            (ours - expected).abs() < 1e-12,
            "entry {i}: {ours} vs {expected}"
        );
    }
}

#[test]
fn ess_and_iw_elbo_match_numpy() {
    let (_, cases) = load();
    for case in &cases {
        let e = ess(&case.log_weights).expect("valid input");
        assert!(
            (e - case.ess).abs() <= 1e-10 * case.ess,
            "{}: ESS {e} vs numpy {}",
            case.name,
            case.ess
        );
        let v = iw_elbo(&case.log_weights).expect("valid input");
        assert!(
            (v - case.iw_elbo).abs() <= 1e-12 * case.iw_elbo.abs().max(1.0),
            "{}: IW-ELBO {v} vs numpy {}",
            case.name,
            case.iw_elbo
        );
        if case.name != DEGENERATE {
            let d = psis(&case.log_weights).expect("valid input").diagnose();
            assert_eq!(d.ess, e, "{}", case.name);
            assert_eq!(d.iw_elbo, v, "{}", case.name);
            // The smoothed weights agree to 1e-6, so their ESS to about that, relatively.
            assert!(
                (d.ess_smoothed - case.ess_smoothed).abs() <= 1e-5 * case.ess_smoothed,
                "{}: smoothed ESS {} vs numpy {}",
                case.name,
                d.ess_smoothed,
                case.ess_smoothed
            );
        }
    }
}
