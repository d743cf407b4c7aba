//! The traced optimization loop.

use std::ops::ControlFlow;

use crate::error::Error;
use crate::optimizer::Optimizer;

/// One point of the trace: the state after `iteration` updates.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// k: the number of updates applied to reach `theta` (0 for θ₀).
    pub iteration: usize,
    /// θₖ.
    pub theta: Vec<f64>,
    /// The loss at θₖ.
    pub loss: f64,
    /// The Euclidean norm of the gradient at θₖ (the gradient from which θₖ₊₁ is computed,
    /// if there is one).
    pub grad_norm: f64,
}

/// Upper bound on the records reserved up front, so that an absurd `n_iters` does not abort on
/// allocation before the first evaluation.
const MAX_RESERVE: usize = 1 << 20;

/// Runs `n_iters` steps of `optimizer` from `theta0` and returns the trace.
///
/// `objective(k, θ, grad)` must return the loss at θ and write its gradient into `grad`
/// (same length as θ; zeroed before every call, so it may also accumulate into it). `k` is the
/// iteration, for objectives that depend on it (e.g. fresh Monte Carlo samples per step).
///
/// The returned `records` has `n_iters + 1` entries: `records[k]` holds θₖ, the parameters
/// after `k` updates, with the loss and the gradient norm at θₖ. The objective is called
/// exactly `n_iters + 1` times, at θ₀, …, θₙ; the last evaluation is not followed by an
/// update. `n_iters = 0` is allowed: the trace is then θ₀ alone, evaluated once.
///
/// The optimizer is [reset](Optimizer::reset) first, so each call starts from fresh state.
/// Beyond the records' copies of θ, the loop allocates nothing per iteration: the gradient
/// buffer is allocated once.
///
/// # Errors
///
/// The loop stops at the first problem; the error names the iteration k:
/// - [`Error::NonFiniteParameter`] with k = 0 if θ₀ has a non-finite entry (the objective is
///   then never called), or with k + 1 if the update from θₖ produced one;
/// - [`Error::Objective`] if the objective returns `Err` at θₖ;
/// - [`Error::NonFiniteLoss`] if the loss at θₖ is NaN or ±inf;
/// - [`Error::NonFiniteGradient`] if a gradient entry at θₖ is (the first one is named);
/// - [`Error::GradientNormOverflow`] if the entries are finite but their norm is not.
///
/// Hence, on `Ok`, every `loss`, `grad_norm` and θ entry in the trace is finite.
///
/// # Panics
///
/// If the optimizer's `step` panics. The optimizers of this crate do not: after the reset
/// they accept any dimension.
pub fn minimize<E, O, F>(
    theta0: &[f64],
    optimizer: &mut O,
    n_iters: usize,
    objective: F,
) -> Result<Vec<Record>, Error<E>>
where
    O: Optimizer + ?Sized,
    F: FnMut(usize, &[f64], &mut [f64]) -> Result<f64, E>,
{
    minimize_with(theta0, optimizer, n_iters, objective, |_, _| {})
}

/// [`minimize`], also calling `observer(record, grad)` with each record as soon as it is
/// validated, together with the full gradient at that θ (borrowed; copy it if you need it).
///
/// The observer is called exactly once per returned record, in order, and never for a point
/// that failed validation. Use it for progress reporting or to keep the gradients.
///
/// # Errors
///
/// As [`minimize`].
pub fn minimize_with<E, O, F, C>(
    theta0: &[f64],
    optimizer: &mut O,
    n_iters: usize,
    objective: F,
    mut observer: C,
) -> Result<Vec<Record>, Error<E>>
where
    O: Optimizer + ?Sized,
    F: FnMut(usize, &[f64], &mut [f64]) -> Result<f64, E>,
    C: FnMut(&Record, &[f64]),
{
    minimize_until(theta0, optimizer, n_iters, objective, |r, g| {
        observer(r, g);
        ControlFlow::Continue(())
    })
}

/// [`minimize_with`] whose observer may end the loop early: returning
/// [`ControlFlow::Break`] after record k stops with `records[..=k]` (no further update or
/// evaluation), e.g. for a convergence rule. `n_iters` is then the maximum.
///
/// # Errors
///
/// As [`minimize`].
pub fn minimize_until<E, O, F, C>(
    theta0: &[f64],
    optimizer: &mut O,
    n_iters: usize,
    objective: F,
    mut observer: C,
) -> Result<Vec<Record>, Error<E>>
where
    O: Optimizer + ?Sized,
    F: FnMut(usize, &[f64], &mut [f64]) -> Result<f64, E>,
    C: FnMut(&Record, &[f64]) -> ControlFlow<()>,
{
    let mut records = Vec::with_capacity(n_iters.saturating_add(1).min(MAX_RESERVE));
    iterate(theta0, optimizer, n_iters, objective, |step| {
        let record = Record {
            iteration: step.iteration,
            theta: step.theta.to_vec(),
            loss: step.loss,
            grad_norm: step.grad_norm,
        };
        let flow = observer(&record, step.grad);
        records.push(record);
        flow
    })?;
    Ok(records)
}

/// One validated state of [`iterate`]: θₖ, the loss and the gradient there (all finite).
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// k: the number of updates applied to reach `theta`.
    pub iteration: usize,
    /// θₖ (borrowed: copy what you keep).
    pub theta: &'a [f64],
    /// The gradient at θₖ.
    pub grad: &'a [f64],
    /// The loss at θₖ.
    pub loss: f64,
    /// ‖∇‖ at θₖ.
    pub grad_norm: f64,
}

/// The loop of [`minimize_until`] without the trace: `observer` sees every validated
/// [`Step`] (borrowed) and decides what to keep, so the loop's memory is θ and one gradient
/// whatever `n_iters` is — it allocates nothing after its first step. Returns the number of
/// steps observed (the last observed iteration + 1).
///
/// The contract is [`minimize`]'s: the objective is called at θ₀, …, θₙ (fewer when the
/// observer breaks), every observed value is finite, and the first problem is an [`Error`]
/// naming its iteration.
///
/// # Errors
///
/// As [`minimize`].
pub fn iterate<E, O, F, C>(
    theta0: &[f64],
    optimizer: &mut O,
    n_iters: usize,
    mut objective: F,
    mut observer: C,
) -> Result<usize, Error<E>>
where
    O: Optimizer + ?Sized,
    F: FnMut(usize, &[f64], &mut [f64]) -> Result<f64, E>,
    C: FnMut(Step<'_>) -> ControlFlow<()>,
{
    if let Some((index, value)) = first_non_finite(theta0) {
        return Err(Error::NonFiniteParameter {
            iteration: 0,
            index,
            value,
        });
    }
    optimizer.reset();
    let mut theta = theta0.to_vec();
    let mut grad = vec![0.0; theta.len()];
    let mut observed = 0;
    for iteration in 0..=n_iters {
        grad.fill(0.0);
        let loss = objective(iteration, &theta, &mut grad)
            .map_err(|source| Error::Objective { iteration, source })?;
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss { iteration, loss });
        }
        if let Some((index, value)) = first_non_finite(&grad) {
            return Err(Error::NonFiniteGradient {
                iteration,
                index,
                value,
            });
        }
        let grad_norm = euclidean_norm(&grad);
        if !grad_norm.is_finite() {
            return Err(Error::GradientNormOverflow { iteration });
        }
        observed = iteration + 1;
        let flow = observer(Step {
            iteration,
            theta: &theta,
            grad: &grad,
            loss,
            grad_norm,
        });
        if flow.is_break() {
            break;
        }
        if iteration < n_iters {
            optimizer.step(&mut theta, &grad);
            if let Some((index, value)) = first_non_finite(&theta) {
                return Err(Error::NonFiniteParameter {
                    iteration: iteration + 1,
                    index,
                    value,
                });
            }
        }
    }
    Ok(observed)
}

fn first_non_finite(x: &[f64]) -> Option<(usize, f64)> {
    x.iter()
        .copied()
        .enumerate()
        .find(|(_, value)| !value.is_finite())
}

/// ‖x‖₂ of finite entries: the plain √Σx² when that neither overflows nor underflows,
/// otherwise computed with scaling by max |xᵢ|.
fn euclidean_norm(x: &[f64]) -> f64 {
    let sum_sq: f64 = x.iter().map(|v| v * v).sum();
    if sum_sq.is_finite() && sum_sq >= f64::MIN_POSITIVE {
        return sum_sq.sqrt();
    }
    // Zero, subnormal or overflowed: rescale.
    let scale = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return 0.0;
    }
    let scaled: f64 = x.iter().map(|v| (v / scale) * (v / scale)).sum();
    scale * scaled.sqrt()
}

#[cfg(test)]
mod tests {
    use super::euclidean_norm;

    #[test]
    fn norm_of_ordinary_vector() {
        assert_eq!(euclidean_norm(&[3.0, 4.0]), 5.0);
        assert_eq!(euclidean_norm(&[]), 0.0);
        assert_eq!(euclidean_norm(&[0.0, -0.0]), 0.0);
    }

    #[test]
    fn norm_does_not_overflow_or_underflow_needlessly() {
        let big = 1e300;
        let n = euclidean_norm(&[3.0 * big, 4.0 * big]);
        assert!((n / (5.0 * big) - 1.0).abs() < 1e-15, "{n}");
        let tiny = 1e-300;
        let n = euclidean_norm(&[3.0 * tiny, 4.0 * tiny]);
        assert!((n / (5.0 * tiny) - 1.0).abs() < 1e-15, "{n}");
        // Genuinely beyond f64::MAX.
        assert!(euclidean_norm(&[f64::MAX, f64::MAX]).is_infinite());
    }
}
