//! Errors, special cases, closed forms and the words of `Diagnosis`.

use kl_diag::{
    Error, Reliability, TailFit, diagnose, ess, iw_elbo, khat_threshold, min_sample_size, psis,
    psis_into,
};

#[test]
fn empty_input_is_an_error_everywhere() {
    assert_eq!(psis(&[]), Err(Error::Empty));
    assert_eq!(ess(&[]), Err(Error::Empty));
    assert_eq!(iw_elbo(&[]), Err(Error::Empty));
    assert_eq!(diagnose(&[]), Err(Error::Empty));
    assert_eq!(psis_into(&[], &mut []), Err(Error::Empty));
    assert_eq!(
        Error::Empty.to_string(),
        "no log weights given (need at least one)"
    );
}

#[test]
fn nan_and_plus_infinity_are_errors_naming_the_index() {
    let mut lw = vec![0.5; 50];
    lw[7] = f64::INFINITY;
    lw[9] = f64::NAN;
    for err in [psis(&lw).err(), ess(&lw).err(), iw_elbo(&lw).err()] {
        let err = err.expect("an error");
        assert_eq!(
            err,
            Error::NonFiniteLogWeight {
                index: 7,
                value: f64::INFINITY
            }
        );
        assert_eq!(
            err.to_string(),
            "log weight 7 is inf (log weights must be finite or -inf)"
        );
    }
    lw[7] = 0.0;
    let err = psis(&lw).expect_err("NaN");
    assert!(matches!(err, Error::NonFiniteLogWeight { index: 9, value } if value.is_nan()));
    assert_eq!(
        err.to_string(),
        "log weight 9 is NaN (log weights must be finite or -inf)"
    );
}

#[test]
fn all_zero_weights_are_an_error() {
    let lw = [f64::NEG_INFINITY; 30];
    let expected = Error::AllZeroWeights { n_samples: 30 };
    assert_eq!(psis(&lw), Err(expected));
    assert_eq!(ess(&lw), Err(expected));
    assert_eq!(iw_elbo(&lw), Err(expected));
    assert_eq!(
        expected.to_string(),
        "all 30 log weights are -inf (every weight is zero; nothing to normalize)"
    );
}

#[test]
fn output_length_must_match() {
    let mut out = [0.0; 3];
    let err = psis_into(&[0.0; 4], &mut out).expect_err("mismatch");
    assert_eq!(
        err,
        Error::LengthMismatch {
            n_samples: 4,
            out_len: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "output buffer has 3 entries for 4 log weights"
    );
}

#[test]
fn one_draw_is_not_smoothed() {
    // ArviZ raises IndexError for S = 1; here: k̂ = inf and the one weight is 1.
    let result = psis(&[-3.7]).expect("valid input");
    assert_eq!(result.log_weights(), &[0.0]);
    assert_eq!(result.pareto_k(), f64::INFINITY);
    assert_eq!(result.fit().tail, TailFit::TooFewTailDraws);
    assert_eq!(ess(&[-3.7]), Ok(1.0));
    assert_eq!(iw_elbo(&[-3.7]), Ok(-3.7));
}

#[test]
fn psis_into_writes_what_psis_returns() {
    let lw: Vec<f64> = (0..500).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
    let result = psis(&lw).expect("valid input");
    let mut out = vec![f64::NAN; 500];
    let fit = psis_into(&lw, &mut out).expect("valid input");
    assert_eq!(fit, result.fit());
    assert_eq!(out.as_slice(), result.log_weights());
    assert!(matches!(fit.tail, TailFit::Smoothed { sigma } if sigma > 0.0));
    assert_eq!(fit.n_tail, 68); // ⌈3 √500⌉ = ⌈67.08⌉, no ties
}

#[test]
fn ess_and_iw_elbo_closed_forms() {
    // Equal weights: ESS = S, IW-ELBO = the common log weight.
    assert_eq!(ess(&[2.5; 40]), Ok(40.0));
    assert!((iw_elbo(&[2.5; 40]).expect("valid") - 2.5).abs() < 1e-14);
    // Weights 1, 2, 3, 0 (one -inf): (6)² / 14 and ln(6/4).
    let lw = [0.0, 2f64.ln(), 3f64.ln(), f64::NEG_INFINITY];
    assert!((ess(&lw).expect("valid") - 36.0 / 14.0).abs() < 1e-14);
    assert!((iw_elbo(&lw).expect("valid") - 1.5f64.ln()).abs() < 1e-15);
    // No overflow far from 0: weights e^1000 and e^999.
    let lw = [1000.0, 999.0];
    let (a, b) = (1.0, (-1.0f64).exp());
    assert!((ess(&lw).expect("valid") - (a + b) * (a + b) / (a * a + b * b)).abs() < 1e-14);
    assert!((iw_elbo(&lw).expect("valid") - (1000.0 + ((a + b) / 2.0).ln())).abs() < 1e-12);
}

#[test]
fn thresholds_follow_the_paper() {
    // min(1 − 1/log10 S, 0.7): 0.7 from S = 10^(1/0.3) ≈ 2154.4 on.
    assert!(khat_threshold(2154) < 0.7);
    assert_eq!(khat_threshold(2155), 0.7);
    assert!((khat_threshold(50) - (1.0 - 1.0 / 50f64.log10())).abs() < 1e-15);
    assert_eq!(khat_threshold(1), f64::NEG_INFINITY);
    assert_eq!(khat_threshold(0), f64::NEG_INFINITY);
    assert!((min_sample_size(0.7) - 10f64.powf(1.0 / 0.3)).abs() < 1e-9);
    assert_eq!(min_sample_size(f64::NAN), f64::INFINITY);
    assert_eq!(min_sample_size(f64::INFINITY), f64::INFINITY);
    assert_eq!(Reliability::of(0.499), Reliability::Good);
    assert_eq!(Reliability::of(f64::NAN), Reliability::Unreliable);
    assert_eq!(Reliability::Usable.to_string(), "usable");
}

/// A deterministic sample-like set of log weights whose tail is Pareto with shape `k`: the
/// weights are the exact quantiles `u^(−k)` of a Pareto distribution, u = (i + ½) / S.
fn pareto_log_weights(k: f64, s: usize) -> Vec<f64> {
    (0..s)
        .map(|i| -k * ((i as f64 + 0.5) / s as f64).ln())
        .collect()
}

#[test]
fn pareto_weights_give_their_shape_and_the_words_for_it() {
    // Exact Pareto(k) quantiles: the tail is a GPD with shape k, so k̂ ≈ k (the prior pulls
    // toward 0.5 by 10 / (n + 10) and the tail is finite); the classification follows.
    for (k, reliability, phrase) in [
        (0.2, Reliability::Good, "good (k̂ < 0.5"),
        (0.6, Reliability::Usable, "usable (0.5 ≤ k̂ ≤ 0.7"),
        (0.95, Reliability::Unreliable, "unreliable (k̂ > 0.7"),
    ] {
        let d = diagnose(&pareto_log_weights(k, 4000)).expect("valid input");
        assert!((d.pareto_k - k).abs() < 0.05, "k = {k}: k̂ = {}", d.pareto_k);
        assert_eq!(d.reliability, reliability);
        let text = d.to_string();
        assert!(text.contains(phrase), "{text}");
        assert!(text.contains("190 tail draws of S = 4000"), "{text}");
        assert!(text.contains("IW-ELBO"), "{text}");
        assert_eq!(d.is_reliable(), k < 0.7);
    }
}

#[test]
fn usable_k_with_too_few_draws_says_so() {
    // k̂ ≈ 0.6 with S = 100: usable by the fixed thresholds, but above 1 − 1/log10(100) = 0.5.
    let d = diagnose(&pareto_log_weights(0.6, 100)).expect("valid input");
    assert_eq!(d.reliability, Reliability::Usable, "k̂ = {}", d.pareto_k);
    assert!(!d.is_reliable());
    let text = d.to_string();
    assert!(
        text.contains("but S = 100 is too small for this k̂ (threshold 0.500"),
        "{text}"
    );
}

#[test]
fn too_few_tail_draws_are_reported_in_words() {
    // S = 20: M = 4 < 5.
    let d = diagnose(&pareto_log_weights(0.3, 20)).expect("valid input");
    assert_eq!(d.pareto_k, f64::INFINITY);
    assert_eq!(d.fit.n_tail, 4);
    assert_eq!(d.reliability, Reliability::Unreliable);
    assert!(
        d.to_string().starts_with(
            "Pareto k̂ not estimated: 4 draws above the tail cutoff, at least 5 needed"
        ),
        "{d}"
    );
}

#[test]
fn display_reads_as_a_sentence() {
    let d = diagnose(&pareto_log_weights(1.3, 1000)).expect("valid input");
    let text = d.to_string();
    assert!(
        text.starts_with(&format!(
            "Pareto k̂ = {:.3} (95 tail draws of S = 1000): unreliable (k̂ > 0.7",
            d.pareto_k
        )),
        "{text}"
    );
    assert!(
        text.contains("with k̂ ≥ 1 not even the weights' mean exists"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            ". ESS {:.1} raw, {:.1} smoothed, of 1000 draws; IW-ELBO {:.4}",
            d.ess, d.ess_smoothed, d.iw_elbo
        )),
        "{text}"
    );
    println!("{text}");
    println!(
        "{}",
        diagnose(&pareto_log_weights(0.2, 1000)).expect("valid")
    );
    println!(
        "{}",
        diagnose(&pareto_log_weights(0.6, 100)).expect("valid")
    );
}

/// At q = p every log weight is log Z: importance sampling is exact. PSIS cannot fit a tail to
/// a constant (the old answer was k̂ = +inf, "unreliable" for a perfect fit); the flat case is
/// reported as such, k̂ = 0, good, ESS = S.
#[test]
fn identical_weights_are_exact_importance_sampling_not_unreliable() {
    for lw in [vec![-1.25; 4000], vec![0.0; 100], vec![1e6; 50]] {
        let d = kl_diag::diagnose(&lw).expect("valid weights");
        assert_eq!(d.fit.tail, kl_diag::TailFit::Flat);
        assert_eq!(d.pareto_k, kl_diag::FLAT_PARETO_K);
        assert!(d.pareto_k.is_finite());
        assert_eq!(d.reliability, kl_diag::Reliability::Good);
        assert!((d.ess - lw.len() as f64).abs() < 1e-9 * lw.len() as f64);
        assert!(d.to_string().contains("exact"), "{d}");
    }
    // Rounding-level noise (a few ulps) is still flat; a real spread is not.
    let mut lw = vec![-3.0; 1000];
    lw[7] = -3.0 + 4.0 * f64::EPSILON;
    assert_eq!(
        kl_diag::diagnose(&lw).expect("valid").fit.tail,
        kl_diag::TailFit::Flat
    );
    lw[7] = -3.0 + 1e-6;
    assert_ne!(
        kl_diag::diagnose(&lw).expect("valid").fit.tail,
        kl_diag::TailFit::Flat
    );
}
