//! L-BFGS: minima of closed-form functions, the compact inverse Hessian against the dense
//! BFGS recursion, bounded history, and typed errors.

use std::convert::Infallible;
use std::ops::ControlFlow;

use kl_opt::{InverseHessian, LbfgsError, LbfgsHistory, LbfgsSettings, LbfgsStop, lbfgs};

/// f(x) = ½ (x − c)ᵀ A (x − c) with a fixed SPD A (d = 5, eigenvalues spread over ~50).
fn quadratic_problem() -> (Vec<f64>, Vec<f64>, usize) {
    let d = 5;
    let diag = [1.0, 3.0, 7.0, 20.0, 50.0];
    // A = M diag Mᵀ with M = I + 0.3 (a fixed off-diagonal pattern), then symmetrized.
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            m[i * d + j] = if i == j {
                1.0
            } else {
                0.3 * (((i * 7 + j * 3) % 5) as f64 - 2.0) / 2.0
            };
        }
    }
    let mut a = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = (0..d).map(|k| m[i * d + k] * diag[k] * m[j * d + k]).sum();
        }
    }
    let c = vec![1.0, -2.0, 0.5, 3.0, -1.0];
    (a, c, d)
}

fn quad(a: &[f64], c: &[f64], x: &[f64], g: &mut [f64]) -> f64 {
    let d = c.len();
    let r: Vec<f64> = x.iter().zip(c).map(|(x, c)| x - c).collect();
    let mut f = 0.0;
    for i in 0..d {
        g[i] = (0..d).map(|j| a[i * d + j] * r[j]).sum();
        f += 0.5 * r[i] * g[i];
    }
    f
}

fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
    g[1] = 200.0 * (b - a * a);
    (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
}

#[test]
fn finds_the_minimum_of_a_quadratic() {
    let (a, c, d) = quadratic_problem();
    // rel_value_tol = 0: run to the gradient tolerance (f* = 0 makes a relative f test loose).
    let s = LbfgsSettings {
        rel_value_tol: 0.0,
        ..LbfgsSettings::default()
    };
    let out = lbfgs(
        &vec![0.0; d],
        &s,
        |x, g| Ok::<_, Infallible>(quad(&a, &c, x, g)),
        |_| ControlFlow::Continue(()),
    )
    .expect("converges");
    for (x, c) in out.x.iter().zip(&c) {
        assert!((x - c).abs() < 1e-8, "{x} vs {c}");
    }
    assert!(out.value < 1e-15);
    assert_eq!(out.stop, LbfgsStop::Gradient);
}

#[test]
fn finds_the_minimum_of_rosenbrock() {
    let s = LbfgsSettings {
        history: 7,
        ..LbfgsSettings::default()
    };
    let out = lbfgs(
        &[-1.2, 1.0],
        &s,
        |x, g| Ok::<_, Infallible>(rosenbrock(x, g)),
        |_| ControlFlow::Continue(()),
    )
    .expect("converges");
    assert!(
        (out.x[0] - 1.0).abs() < 1e-6 && (out.x[1] - 1.0).abs() < 1e-6,
        "{:?} after {} iterations ({:?})",
        out.x,
        out.iterations,
        out.stop
    );
    assert!(out.iterations < 200);
}

#[test]
fn near_exact_line_search_on_a_quadratic() {
    // With c₂ tiny every step is an exact line minimization: L-BFGS with J ≥ d then finishes
    // in at most d steps (quadratic termination of BFGS with exact line searches; Nocedal & Wright 2006, §6.1,
    // and L-BFGS coincides with it while no pair is dropped).
    let (a, c, d) = quadratic_problem();
    let s = LbfgsSettings {
        history: d,
        c1: 1e-8,
        c2: 1e-6,
        rel_value_tol: 0.0,
        ..LbfgsSettings::default()
    };
    let out = lbfgs(
        &vec![0.0; d],
        &s,
        |x, g| Ok::<_, Infallible>(quad(&a, &c, x, g)),
        |_| ControlFlow::Continue(()),
    )
    .expect("converges");
    assert!(
        out.iterations <= d + 1,
        "{} iterations, stop {:?}",
        out.iterations,
        out.stop
    );
}

/// The dense BFGS recursion H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ from H₀ = diag(α).
fn dense_bfgs(alpha: &[f64], pairs: &[(Vec<f64>, Vec<f64>)]) -> Vec<f64> {
    let d = alpha.len();
    let mut h = vec![0.0; d * d];
    for i in 0..d {
        h[i * d + i] = alpha[i];
    }
    for (s, y) in pairs {
        let rho = 1.0 / s.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        // E = I − ρ s yᵀ.
        let mut e = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                e[i * d + j] = if i == j { 1.0 } else { 0.0 } - rho * s[i] * y[j];
            }
        }
        let mut eh = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                eh[i * d + j] = (0..d).map(|k| e[i * d + k] * h[k * d + j]).sum();
            }
        }
        for i in 0..d {
            for j in 0..d {
                // (E H Eᵀ)ᵢⱼ + ρ sᵢ sⱼ
                h[i * d + j] =
                    (0..d).map(|k| eh[i * d + k] * e[j * d + k]).sum::<f64>() + rho * s[i] * s[j];
            }
        }
    }
    h
}

#[test]
fn compact_inverse_hessian_equals_the_dense_bfgs_recursion() {
    let (a, c, d) = quadratic_problem();
    for history in [1usize, 2, 3, 5] {
        let mut checked = 0;
        let s = LbfgsSettings {
            history,
            rel_value_tol: 0.0,
            ..LbfgsSettings::default()
        };
        lbfgs(
            &[4.0, 4.0, -4.0, 0.0, 2.0],
            &s,
            |x, g| Ok::<_, Infallible>(quad(&a, &c, x, g)),
            |h: &LbfgsHistory| {
                assert!(h.n_pairs() <= history);
                let pairs: Vec<(Vec<f64>, Vec<f64>)> = (0..h.n_pairs())
                    .map(|i| {
                        let (s, y) = h.pair(i);
                        (s.to_vec(), y.to_vec())
                    })
                    .collect();
                let expected = dense_bfgs(h.diagonal(), &pairs);
                let ih = h.inverse_hessian();
                let got = ih.dense();
                let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (g, e) in got.iter().zip(&expected) {
                    assert!(
                        (g - e).abs() < 1e-10 * scale,
                        "J = {history}, k = {}: {g} vs {e}",
                        h.iteration()
                    );
                }
                // apply agrees with the dense matrix.
                let v: Vec<f64> = (0..d).map(|i| i as f64 - 1.5).collect();
                let mut hv = vec![0.0; d];
                ih.apply(&v, &mut hv);
                for i in 0..d {
                    let e: f64 = (0..d).map(|j| expected[i * d + j] * v[j]).sum();
                    assert!((hv[i] - e).abs() < 1e-10 * scale * 5.0);
                }
                checked += 1;
                ControlFlow::Continue(())
            },
        )
        .expect("converges");
        assert!(checked > 3);
    }
}

#[test]
fn compact_form_from_explicit_pairs_and_a_non_unit_diagonal() {
    // Independent of the optimizer: pairs y = A s of the quadratic, H₀ = diag(α) arbitrary.
    let (a, _, d) = quadratic_problem();
    let alpha = [0.5, 2.0, 1.0, 0.1, 3.0];
    let ss: Vec<Vec<f64>> = vec![
        vec![1.0, 0.0, 0.5, -0.2, 0.1],
        vec![0.0, 1.0, -0.3, 0.4, 0.0],
        vec![0.2, -0.1, 1.0, 0.0, 0.7],
    ];
    let pairs: Vec<(Vec<f64>, Vec<f64>)> = ss
        .iter()
        .map(|s| {
            let y: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| a[i * d + j] * s[j]).sum())
                .collect();
            (s.clone(), y)
        })
        .collect();
    let ih = InverseHessian::new(&alpha, pairs.iter().map(|(s, y)| (&s[..], &y[..])));
    let expected = dense_bfgs(&alpha, &pairs);
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (g, e) in ih.dense().iter().zip(&expected) {
        assert!((g - e).abs() < 1e-10 * scale, "{g} vs {e}");
    }
    assert_eq!(ih.rank(), 6);
}

#[test]
fn pairs_failing_the_curvature_check_are_skipped() {
    // f(x) = −cos(x) near x = π has negative curvature: sᵀy < 0 there. Start where the first
    // step crosses a concave region; every kept pair satisfies sᵀy > ε‖y‖².
    let f = |x: &[f64], g: &mut [f64]| {
        g[0] = x[0].sin() + 0.1 * x[0];
        Ok::<_, Infallible>(-x[0].cos() + 0.05 * x[0] * x[0])
    };
    let mut saw_skip = false;
    let out = lbfgs(&[2.5], &LbfgsSettings::default(), f, |h: &LbfgsHistory| {
        for i in 0..h.n_pairs() {
            let (s, y) = h.pair(i);
            assert!(s[0] * y[0] > 1e-12 * y[0] * y[0]);
        }
        saw_skip |= h.n_skipped() > 0;
        ControlFlow::Continue(())
    })
    .expect("converges");
    assert!(out.x[0].abs() < 1e-6, "{:?}", out.x);
    let _ = saw_skip;
}

#[test]
fn bad_input_is_a_typed_error() {
    let ok = |x: &[f64], g: &mut [f64]| Ok::<_, Infallible>(rosenbrock(x, g));
    let go = |_: &LbfgsHistory| ControlFlow::Continue(());
    assert_eq!(
        lbfgs(&[], &LbfgsSettings::default(), ok, go),
        Err(LbfgsError::ZeroDimension)
    );
    let e = lbfgs(&[f64::NAN, 0.0], &LbfgsSettings::default(), ok, go).expect_err("NaN start");
    assert!(matches!(e, LbfgsError::NonFiniteStart { index: 0, .. }));
    let e = lbfgs(
        &[0.0, 0.0],
        &LbfgsSettings {
            history: 0,
            ..LbfgsSettings::default()
        },
        ok,
        go,
    )
    .expect_err("J = 0");
    assert!(matches!(
        e,
        LbfgsError::InvalidSetting {
            name: "history",
            ..
        }
    ));
    let e = lbfgs(
        &[0.0, 0.0],
        &LbfgsSettings {
            c2: 1e-5,
            ..LbfgsSettings::default()
        },
        ok,
        go,
    )
    .expect_err("c2 < c1");
    assert!(matches!(e, LbfgsError::InvalidSetting { name: "c2", .. }));
    let nan = |_: &[f64], g: &mut [f64]| {
        g.iter_mut().for_each(|v| *v = 0.0);
        Ok::<_, Infallible>(f64::NAN)
    };
    assert!(matches!(
        lbfgs(&[1.0], &LbfgsSettings::default(), nan, go),
        Err(LbfgsError::NonFiniteValue { .. })
    ));
    // NaN everywhere but the start: no step can be taken.
    let cliff = |x: &[f64], g: &mut [f64]| {
        g[0] = 1.0;
        Ok::<_, Infallible>(if x[0] == 1.0 { 0.0 } else { f64::NAN })
    };
    assert_eq!(
        lbfgs(&[1.0], &LbfgsSettings::default(), cliff, go),
        Err(LbfgsError::NoStep)
    );
    // The objective's own error is passed through with the iteration.
    let fails = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        if x[0] < 0.5 {
            Err("boom")
        } else {
            Ok(x[0] * x[0])
        }
    };
    assert!(matches!(
        lbfgs(&[1.0], &LbfgsSettings::default(), fails, go),
        Err(LbfgsError::Objective {
            iteration: 1,
            source: "boom"
        })
    ));
}

#[test]
fn the_observer_can_stop_the_run_and_memory_is_bounded() {
    let (a, c, d) = quadratic_problem();
    let mut seen = 0;
    let s = LbfgsSettings {
        history: 2,
        ..LbfgsSettings::default()
    };
    let out = lbfgs(
        &vec![10.0; d],
        &s,
        |x, g| Ok::<_, Infallible>(quad(&a, &c, x, g)),
        |h: &LbfgsHistory| {
            seen += 1;
            assert!(h.n_pairs() <= 2);
            if h.iteration() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .expect("runs");
    assert_eq!(out.stop, LbfgsStop::Interrupted);
    assert_eq!((out.iterations, seen), (3, 4));
}
