//! One fit for the page: the engine's run of a validated experiment, observed. It runs on a
//! blocking thread and speaks through a bounded channel, in messages that become server-sent
//! events:
//!
//! | event | when | data |
//! |---|---|---|
//! | `start` | before the fit | `n_iters`, `dim`, `max_frames`, `toml` (the experiment that runs) |
//! | `frame` | at most [`MAX_FRAMES`] iterations, evenly spaced, the first and the last | q (`mean`, `cov`), `loss`, `grad_norm`, `n_grad_evals`, the exact `kl_forward` / `kl_reverse` of this q, `elapsed_ms` since the request |
//! | `done` | the fit ended | the termination, the answer q and its KLs, k̂ / ESS, and `trace`: the bytes of `trace.json` |
//! | `error` | the engine refused or stopped | `message`, worded as the command line words it |
//!
//! The fit stops as soon as the channel's receiver is gone (the client closed the tab or asked
//! for another fit): the observer checks it every iteration and returns `ControlFlow::Break`.

use std::ops::ControlFlow;
use std::time::Instant;

use kl_fit::{ExactKl, Progress};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::config::Experiment;
use crate::engine::{self, trace::trace_json};
use crate::error::{Error, FitError, report};

/// The most frames one fit sends: the page plays them back at its own rate, so a fit of 10⁵
/// steps costs the same few hundred exact-KL evaluations and events as one of 500.
pub const MAX_FRAMES: usize = 500;

/// One server-sent event: its name and its JSON data.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `start`, `frame`, `done` or `error`.
    pub event: &'static str,
    /// One line of JSON.
    pub data: String,
}

/// Whether iteration `k` of `0..=n` is one of the [`MAX_FRAMES`] evenly spaced frames: the
/// first iteration of each of `MAX_FRAMES − 1` equal stretches, and the last.
pub fn is_frame(k: usize, n: usize) -> bool {
    let f = (MAX_FRAMES - 1) as u128;
    let (k, n) = (k as u128, n.max(1) as u128);
    k == 0 || k >= n || (k * f) / n != ((k - 1) * f) / n
}

fn frame(p: &Progress<'_>, kl: Option<&ExactKl>, started: Instant) -> Value {
    let q = p.q().ok();
    let (kl_forward, kl_reverse) = match (kl, q.as_ref()) {
        (Some(kl), Some(q)) if kl.is_accurate(q) => {
            let (f, r) = kl.eval(q);
            (kl.has_forward().then_some(f.max(0.0)), Some(r.max(0.0)))
        }
        _ => (None, None),
    };
    json!({
        "iteration": p.iteration,
        "loss": p.loss,
        "grad_norm": p.grad_norm,
        "n_grad_evals": p.n_grad_evals,
        "mean": q.as_ref().map(|q| q.mean().to_vec()),
        "cov": q.as_ref().map(|q| q.covariance().to_vec()),
        "kl_forward": kl_forward,
        "kl_reverse": kl_reverse,
        "elapsed_ms": started.elapsed().as_secs_f64() * 1e3,
    })
}

/// The `done` event's data: the trace summary and the trace's bytes.
fn done(run: &engine::Run, started: Instant) -> Value {
    let t = &run.trace;
    let (kl_forward, kl_reverse) = t.answer_kl();
    let answer = t.answer().ok();
    let last = t.iterations.last();
    json!({
        "termination": serde_json::to_value(t.termination).unwrap_or(Value::Null),
        "iterations": last.map(|l| l.iteration),
        "learning_rate": t.learning_rate,
        "n_grad_evals": t.n_grad_evals,
        "averaged": t.answer.is_some(),
        "answer": answer.map(|q| json!({"mean": q.mean(), "cov": q.covariance()})),
        "kl_forward": kl_forward,
        "kl_reverse": kl_reverse,
        "last_kl_forward": last.and_then(|l| l.kl_forward),
        "last_kl_reverse": last.and_then(|l| l.kl_reverse),
        "kl_method": t.kl_method,
        "diagnostic": t.final_diagnostic().and_then(|d| serde_json::to_value(d).ok()),
        "diagnostic_draws": t.diagnostic_draws,
        "elapsed_ms": started.elapsed().as_secs_f64() * 1e3,
        "trace": String::from_utf8_lossy(&trace_json(t)),
    })
}

/// The error line the command line prints for `e`.
pub fn error_text(e: &Error) -> String {
    format!("error: {}", report(e))
}

/// Runs `exp` (validated from `toml`), telling `tx`; returns when the fit ends or the receiver
/// is gone. `started` is when the request came in.
pub fn run(exp: &Experiment, toml: &str, tx: &mpsc::Sender<Message>, started: Instant) {
    let send = |event: &'static str, data: Value| {
        tx.blocking_send(Message {
            event,
            data: data.to_string(),
        })
        .is_ok()
    };
    if !send(
        "start",
        json!({
            "n_iters": exp.n_iters,
            "dim": exp.target.dim(),
            "max_frames": MAX_FRAMES,
            "toml": toml,
        }),
    ) {
        return;
    }
    // The exact KL of the frames' q: the trace's own evaluator (same target, same seed), so a
    // frame's values are the trace's at that state.
    let kl = engine::build_target(exp, &mut Pcg64::seed_from_u64(exp.seed))
        .ok()
        .flatten()
        .and_then(|p| ExactKl::try_new(p, exp.seed));
    let n = exp.n_iters;
    let result = engine::run_observed(exp, &mut |p| {
        if tx.is_closed() {
            return ControlFlow::Break(());
        }
        if is_frame(p.iteration, n) && !send("frame", frame(p, kl.as_ref(), started)) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    match result {
        Ok(run) => {
            send("done", done(&run, started));
        }
        Err(Error::Fit {
            source: FitError::Interrupted { .. },
            ..
        }) => {}
        Err(e) => {
            send("error", json!({ "message": error_text(&e) }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_capped_and_keep_both_ends() {
        for n in [1, 20, 499, 500, 501, 1000, 100_000, 1_000_000] {
            let frames: Vec<usize> = (0..=n).filter(|&k| is_frame(k, n)).collect();
            assert!(frames.len() <= MAX_FRAMES + 1, "{n}: {}", frames.len());
            assert_eq!(frames.first(), Some(&0));
            assert_eq!(frames.last(), Some(&n));
            if n < MAX_FRAMES {
                assert_eq!(frames.len(), n + 1);
            }
        }
    }
}
