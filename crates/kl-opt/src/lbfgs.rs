//! L-BFGS with a strong-Wolfe line search, and the compact inverse-Hessian estimate
//! H = diag(α) + β γ βᵀ of Pathfinder (Zhang et al. 2022) built from its history.

// `!(a > b)` is the NaN-safe test (a NaN fails it), as in rand_distr's checks.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::ops::ControlFlow;

/// Settings of [`lbfgs`].
///
/// The defaults follow Stan's L-BFGS as used by its Pathfinder (`history_size = 5`,
/// `num_iterations = 1000`, `tol_grad = 1e-8`, `tol_rel_obj = 1e4 · ε`), with the usual
/// Wolfe constants c₁ = 10⁻⁴, c₂ = 0.9 (Nocedal & Wright 2006, §3.1) and Pathfinder's
/// curvature threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsSettings {
    /// J, the number of (s, y) pairs kept (default 5).
    pub history: usize,
    /// The most iterations (accepted steps) to take (default 1000).
    pub max_iters: usize,
    /// The sufficient-decrease (Armijo) constant c₁ of the line search, in (0, c₂) (default 1e-4).
    pub c1: f64,
    /// The curvature constant c₂ of the strong Wolfe condition |φ'(a)| ≤ c₂ |φ'(0)|, in (c₁, 1)
    /// (default 0.9). A small c₂ makes the line search nearly exact.
    pub c2: f64,
    /// The most function evaluations of one line search (default 40).
    pub max_line_search: usize,
    /// Stop when ‖∇f‖∞ ≤ `grad_tol` (default 1e-8).
    pub grad_tol: f64,
    /// Stop when |f_k − f_{k+1}| ≤ `rel_value_tol` · max(|f_k|, |f_{k+1}|, 1) (default
    /// 1e4 · f64::EPSILON ≈ 2.2e-12).
    pub rel_value_tol: f64,
    /// A pair is kept only if sᵀy > `curvature_eps` · ‖y‖² (default 1e-12; Pathfinder's check).
    pub curvature_eps: f64,
}

impl Default for LbfgsSettings {
    fn default() -> Self {
        LbfgsSettings {
            history: 5,
            max_iters: 1000,
            c1: 1e-4,
            c2: 0.9,
            max_line_search: 40,
            grad_tol: 1e-8,
            rel_value_tol: 1e4 * f64::EPSILON,
            curvature_eps: 1e-12,
        }
    }
}

/// Why [`lbfgs`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LbfgsStop {
    /// ‖∇f‖∞ ≤ `grad_tol`.
    Gradient,
    /// The relative decrease of f fell below `rel_value_tol`.
    Value,
    /// `max_iters` steps were taken.
    MaxIters,
    /// A line search (after the first) found no acceptable step: usually rounding near the
    /// minimum.
    LineSearch,
    /// The observer returned [`ControlFlow::Break`].
    Interrupted,
}

/// The result of [`lbfgs`].
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsOutcome {
    /// The last iterate.
    pub x: Vec<f64>,
    /// f at `x`.
    pub value: f64,
    /// Steps taken.
    pub iterations: usize,
    /// Objective evaluations (each gives f and ∇f), the starting point included.
    pub n_evals: u64,
    /// Why it stopped.
    pub stop: LbfgsStop,
}

/// What can go wrong in [`lbfgs`]. `E` is the objective's error type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LbfgsError<E = Infallible> {
    /// A setting is out of its domain.
    InvalidSetting {
        /// The setting's name, as spelled in [`LbfgsSettings`].
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The requirement it violates.
        expected: &'static str,
    },
    /// The starting point is empty.
    ZeroDimension,
    /// A starting coordinate is not finite.
    NonFiniteStart {
        /// The coordinate.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// f is not finite at the starting point.
    NonFiniteValue {
        /// The value returned.
        value: f64,
    },
    /// ∇f has a non-finite entry at the starting point.
    NonFiniteGradient {
        /// The first offending entry.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The first line search found no step satisfying the strong Wolfe conditions.
    NoStep,
    /// The objective returned `Err(source)` during iteration `iteration`.
    Objective {
        /// The iteration (0: the starting point).
        iteration: usize,
        /// The objective's error.
        source: E,
    },
}

impl<E> fmt::Display for LbfgsError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LbfgsError::InvalidSetting {
                name,
                value,
                expected,
            } => write!(f, "{name} must be {expected}, got {value}"),
            LbfgsError::ZeroDimension => write!(f, "the starting point has no coordinates"),
            LbfgsError::NonFiniteStart { index, value } => {
                write!(f, "starting coordinate {index} is {value}")
            }
            LbfgsError::NonFiniteValue { value } => {
                write!(f, "the objective is {value} at the starting point")
            }
            LbfgsError::NonFiniteGradient { index, value } => {
                write!(f, "gradient entry {index} is {value} at the starting point")
            }
            LbfgsError::NoStep => write!(
                f,
                "the first line search found no step satisfying the strong Wolfe conditions"
            ),
            LbfgsError::Objective { iteration, .. } => {
                write!(f, "iteration {iteration}: the objective returned an error")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for LbfgsError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LbfgsError::Objective { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One kept curvature pair.
#[derive(Debug, Clone, PartialEq)]
struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    /// 1 / sᵀy.
    rho: f64,
}

/// The state of an L-BFGS run as shown to the observer: the current iterate xₖ, f(xₖ),
/// ∇f(xₖ), the last J accepted (s, y) pairs (oldest first) and Pathfinder's diagonal α.
///
/// Pairs with sᵀy ≤ ε ‖y‖² are skipped (neither stored nor used for α nor for the search
/// direction). α starts at 1 and is updated with every kept pair by the recursion of
/// Pathfinder's Algorithm 3 (Zhang et al. 2022): with a = yᵀ diag(α) y, b = yᵀs,
/// c = sᵀ diag(α)⁻¹ s, 1/α'ᵢ = a / (b αᵢ) + yᵢ² / b − a sᵢ² / (b c αᵢ²).
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsHistory {
    iteration: usize,
    x: Vec<f64>,
    value: f64,
    grad: Vec<f64>,
    pairs: VecDeque<Pair>,
    capacity: usize,
    alpha: Vec<f64>,
    n_skipped: usize,
}

impl LbfgsHistory {
    /// k: the number of steps taken (0 at the starting point).
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// xₖ.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// f(xₖ).
    pub fn value(&self) -> f64 {
        self.value
    }

    /// ∇f(xₖ).
    pub fn grad(&self) -> &[f64] {
        &self.grad
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.x.len()
    }

    /// The number of pairs kept (at most J).
    pub fn n_pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Pair `i` (0 the oldest kept) as (s, y) = (x_{j+1} − x_j, ∇f(x_{j+1}) − ∇f(x_j)).
    ///
    /// # Panics
    /// If `i >= n_pairs()`.
    pub fn pair(&self, i: usize) -> (&[f64], &[f64]) {
        let p = &self.pairs[i];
        (&p.s, &p.y)
    }

    /// How many pairs failed the curvature check so far.
    pub fn n_skipped(&self) -> usize {
        self.n_skipped
    }

    /// Pathfinder's diagonal α (all ones until the first kept pair).
    pub fn diagonal(&self) -> &[f64] {
        &self.alpha
    }

    /// The compact inverse-Hessian estimate from the kept pairs with initial matrix diag(α).
    pub fn inverse_hessian(&self) -> InverseHessian {
        InverseHessian::new(&self.alpha, self.pairs.iter().map(|p| (&p.s[..], &p.y[..])))
    }

    fn push(&mut self, s: &[f64], y: &[f64], eps: f64) -> bool {
        let sy = dot(s, y);
        let yy = dot(y, y);
        if !(sy > eps * yy) || !sy.is_finite() {
            self.n_skipped += 1;
            return false;
        }
        // Pathfinder's diagonal update (its Algorithm 3).
        let a: f64 = y.iter().zip(&self.alpha).map(|(yi, ai)| yi * ai * yi).sum();
        let c: f64 = s.iter().zip(&self.alpha).map(|(si, ai)| si * si / ai).sum();
        let next: Vec<f64> = (0..s.len())
            .map(|i| {
                let ai = self.alpha[i];
                let inv = a / (sy * ai) + y[i] * y[i] / sy - a * s[i] * s[i] / (sy * c * ai * ai);
                1.0 / inv
            })
            .collect();
        if next.iter().all(|v| *v > 0.0 && v.is_finite()) {
            self.alpha = next;
        }
        let mut pair = if self.pairs.len() == self.capacity {
            self.pairs.pop_front().unwrap_or_else(|| Pair {
                s: Vec::new(),
                y: Vec::new(),
                rho: 0.0,
            })
        } else {
            Pair {
                s: Vec::with_capacity(s.len()),
                y: Vec::with_capacity(s.len()),
                rho: 0.0,
            }
        };
        pair.s.clear();
        pair.s.extend_from_slice(s);
        pair.y.clear();
        pair.y.extend_from_slice(y);
        pair.rho = 1.0 / sy;
        self.pairs.push_back(pair);
        true
    }

    /// `dir = −H₀-two-loop(g)`: the L-BFGS search direction with H₀ = (sᵀy / yᵀy) I of the
    /// newest pair (I when there is none).
    fn direction(&self, dir: &mut [f64], work: &mut Vec<f64>) {
        dir.copy_from_slice(&self.grad);
        work.clear();
        for p in self.pairs.iter().rev() {
            let a = p.rho * dot(&p.s, dir);
            work.push(a);
            axpy(-a, &p.y, dir);
        }
        let scale = self
            .pairs
            .back()
            .map_or(1.0, |p| 1.0 / (p.rho * dot(&p.y, &p.y)));
        dir.iter_mut().for_each(|v| *v *= scale);
        for (p, a) in self.pairs.iter().zip(work.iter().rev()) {
            let b = p.rho * dot(&p.y, dir);
            axpy(a - b, &p.s, dir);
        }
        dir.iter_mut().for_each(|v| *v = -*v);
    }
}

/// The inverse-Hessian estimate H = diag(α) + β γ βᵀ in the compact form of Byrd, Nocedal &
/// Schnabel (1994) as written by Zhang et al. (2022, eq. II.2): for m kept pairs with
/// S = [s₁ … sₘ], Y = [y₁ … yₘ] (d × m), R the upper triangle of SᵀY and D its diagonal,
///
/// β = [diag(α) Y, S] (d × 2m), γ = [[0, −R⁻¹], [−R⁻ᵀ, R⁻ᵀ (D + Yᵀ diag(α) Y) R⁻¹]] (2m × 2m).
///
/// This equals the BFGS recursion H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ applied to the
/// pairs oldest first from H₀ = diag(α). R⁻¹ (m × m, upper triangular, m ≤ J) is formed by
/// back substitution.
#[derive(Debug, Clone, PartialEq)]
pub struct InverseHessian {
    dim: usize,
    rank: usize,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    gamma: Vec<f64>,
}

impl InverseHessian {
    /// Builds the factors from the diagonal `alpha` (length d) and pairs (s, y), oldest
    /// first, each with sᵀy > 0.
    ///
    /// # Panics
    /// If a pair's vectors are not of length d.
    pub fn new<'a>(alpha: &[f64], pairs: impl Iterator<Item = (&'a [f64], &'a [f64])>) -> Self {
        let d = alpha.len();
        let pairs: Vec<(&[f64], &[f64])> = pairs.collect();
        let m = pairs.len();
        for (s, y) in &pairs {
            assert!(s.len() == d && y.len() == d, "pair of the wrong dimension");
        }
        let k = 2 * m;
        // β, row-major d × 2m: columns 0..m are α ∘ yⱼ, m..2m are sⱼ.
        let mut beta = vec![0.0; d * k];
        for (j, (s, y)) in pairs.iter().enumerate() {
            for i in 0..d {
                beta[i * k + j] = alpha[i] * y[i];
                beta[i * k + m + j] = s[i];
            }
        }
        // R (upper triangle of SᵀY) and its inverse by back substitution, column by column.
        let mut r = vec![0.0; m * m];
        for a in 0..m {
            for b in a..m {
                r[a * m + b] = dot(pairs[a].0, pairs[b].1);
            }
        }
        let mut rinv = vec![0.0; m * m];
        for col in 0..m {
            for row in (0..=col).rev() {
                let mut acc = if row == col { 1.0 } else { 0.0 };
                for t in row + 1..=col {
                    acc -= r[row * m + t] * rinv[t * m + col];
                }
                rinv[row * m + col] = acc / r[row * m + row];
            }
        }
        // N = D + Yᵀ diag(α) Y.
        let mut n = vec![0.0; m * m];
        for a in 0..m {
            for b in 0..m {
                let ya = pairs[a].1;
                let yb = pairs[b].1;
                let mut acc: f64 = (0..d).map(|i| ya[i] * alpha[i] * yb[i]).sum();
                if a == b {
                    acc += r[a * m + a];
                }
                n[a * m + b] = acc;
            }
        }
        // R⁻ᵀ N R⁻¹.
        let mut nr = vec![0.0; m * m];
        for a in 0..m {
            for b in 0..m {
                nr[a * m + b] = (0..m).map(|t| n[a * m + t] * rinv[t * m + b]).sum();
            }
        }
        let mut gamma = vec![0.0; k * k];
        for a in 0..m {
            for b in 0..m {
                gamma[a * k + m + b] = -rinv[a * m + b];
                gamma[(m + b) * k + a] = -rinv[a * m + b];
                gamma[(m + a) * k + m + b] = (0..m).map(|t| rinv[t * m + a] * nr[t * m + b]).sum();
            }
        }
        // Exact symmetry of the lower-right block.
        for a in 0..m {
            for b in 0..a {
                let v = 0.5 * (gamma[(m + a) * k + m + b] + gamma[(m + b) * k + m + a]);
                gamma[(m + a) * k + m + b] = v;
                gamma[(m + b) * k + m + a] = v;
            }
        }
        InverseHessian {
            dim: d,
            rank: k,
            alpha: alpha.to_vec(),
            beta,
            gamma,
        }
    }

    /// d.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// 2m, the number of columns of β.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// α, the diagonal.
    pub fn alpha(&self) -> &[f64] {
        &self.alpha
    }

    /// β, row-major d × 2m.
    pub fn beta(&self) -> &[f64] {
        &self.beta
    }

    /// γ, row-major 2m × 2m, symmetric.
    pub fn gamma(&self) -> &[f64] {
        &self.gamma
    }

    /// `out = H v`, in O(d m + m²).
    ///
    /// # Panics
    /// If `v` or `out` is not of length d.
    pub fn apply(&self, v: &[f64], out: &mut [f64]) {
        let (d, k) = (self.dim, self.rank);
        assert!(
            v.len() == d && out.len() == d,
            "vector of the wrong dimension"
        );
        let mut bt = vec![0.0; k];
        for i in 0..d {
            for (j, b) in bt.iter_mut().enumerate() {
                *b += self.beta[i * k + j] * v[i];
            }
        }
        let gb: Vec<f64> = (0..k)
            .map(|a| dot(&self.gamma[a * k..(a + 1) * k], &bt))
            .collect();
        for i in 0..d {
            out[i] = self.alpha[i] * v[i] + dot(&self.beta[i * k..(i + 1) * k], &gb);
        }
    }

    /// H as a dense row-major d × d matrix (symmetrized).
    pub fn dense(&self) -> Vec<f64> {
        let (d, k) = (self.dim, self.rank);
        let mut bg = vec![0.0; d * k];
        for i in 0..d {
            for b in 0..k {
                bg[i * k + b] = (0..k)
                    .map(|a| self.beta[i * k + a] * self.gamma[a * k + b])
                    .sum();
            }
        }
        let mut h = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let v = dot(&bg[i * k..(i + 1) * k], &self.beta[j * k..(j + 1) * k]);
                h[i * d + j] = v;
                h[j * d + i] = v;
            }
            h[i * d + i] += self.alpha[i];
        }
        h
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(yi, xi)| *yi += a * xi);
}

fn check_settings<E>(s: &LbfgsSettings) -> Result<(), LbfgsError<E>> {
    let bad = |name, value, expected| {
        Err(LbfgsError::InvalidSetting {
            name,
            value,
            expected,
        })
    };
    if s.history == 0 {
        return bad("history", 0.0, "at least 1");
    }
    if s.max_line_search == 0 {
        return bad("max_line_search", 0.0, "at least 1");
    }
    if !(s.c1 > 0.0 && s.c1 < 1.0) {
        return bad("c1", s.c1, "in (0, 1)");
    }
    if !(s.c2 > s.c1 && s.c2 < 1.0) {
        return bad("c2", s.c2, "in (c1, 1)");
    }
    for (name, v) in [
        ("grad_tol", s.grad_tol),
        ("rel_value_tol", s.rel_value_tol),
        ("curvature_eps", s.curvature_eps),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return bad(name, v, "non-negative and finite");
        }
    }
    Ok(())
}

/// A point of the line search: step a, φ(a) and φ'(a).
#[derive(Debug, Clone, Copy)]
struct Trial {
    a: f64,
    phi: f64,
    dphi: f64,
}

impl Trial {
    fn finite(&self) -> bool {
        self.phi.is_finite() && self.dphi.is_finite()
    }
}

/// The minimizer of the cubic interpolating φ and φ' at `lo` and `hi`, safeguarded to the
/// middle 80% of the interval (bisection if the cubic has no usable minimizer).
fn cubic_step(lo: Trial, hi: Trial) -> f64 {
    let (a, b) = (lo.a, hi.a);
    let width = b - a;
    let mid = 0.5 * (a + b);
    if !hi.finite() {
        return mid;
    }
    let d1 = lo.dphi + hi.dphi - 3.0 * (lo.phi - hi.phi) / (a - b);
    let disc = d1 * d1 - lo.dphi * hi.dphi;
    if !(disc >= 0.0) {
        return mid;
    }
    let d2 = width.signum() * disc.sqrt();
    let denom = hi.dphi - lo.dphi + 2.0 * d2;
    if denom == 0.0 {
        return mid;
    }
    let t = b - width * (hi.dphi + d2 - d1) / denom;
    let (left, right) = if a < b { (a, b) } else { (b, a) };
    let margin = 0.1 * (right - left);
    if !t.is_finite() {
        return mid;
    }
    t.clamp(left + margin, right - margin)
}

/// Minimizes f from `x0` by L-BFGS with history J, calling `observe` at every iterate
/// (the start included) with the current [`LbfgsHistory`].
///
/// `f(x, grad)` returns f(x) and writes ∇f(x) into `grad`. The line search is the
/// strong-Wolfe bracketing-and-zoom search of Nocedal & Wright (2006, Algorithms 3.5–3.6)
/// with safeguarded cubic interpolation: it starts from a = 1 (a = min(1, 1/‖∇f(x₀)‖₂) at the
/// first iteration), doubles while the conditions fail on the short side, and treats a
/// non-finite f or ∇f at a trial point as a step too long. The direction is the two-loop
/// recursion with H₀ = (sᵀy / yᵀy) I; pairs failing sᵀy > ε‖y‖² are skipped, and if the
/// direction is not a descent direction the history is cleared and the steepest descent
/// direction used.
///
/// Memory: J pairs and a few d-vectors, however many iterations run.
///
/// # Errors
/// [`LbfgsError::InvalidSetting`], [`LbfgsError::ZeroDimension`],
/// [`LbfgsError::NonFiniteStart`], [`LbfgsError::NonFiniteValue`] and
/// [`LbfgsError::NonFiniteGradient`] at the start, [`LbfgsError::NoStep`] when the first line
/// search fails, [`LbfgsError::Objective`] when `f` returns an error.
pub fn lbfgs<E, F, O>(
    x0: &[f64],
    settings: &LbfgsSettings,
    mut f: F,
    mut observe: O,
) -> Result<LbfgsOutcome, LbfgsError<E>>
where
    F: FnMut(&[f64], &mut [f64]) -> Result<f64, E>,
    O: FnMut(&LbfgsHistory) -> ControlFlow<()>,
{
    check_settings(settings)?;
    let d = x0.len();
    if d == 0 {
        return Err(LbfgsError::ZeroDimension);
    }
    if let Some(index) = x0.iter().position(|v| !v.is_finite()) {
        return Err(LbfgsError::NonFiniteStart {
            index,
            value: x0[index],
        });
    }
    let mut grad = vec![0.0; d];
    let value = f(x0, &mut grad).map_err(|source| LbfgsError::Objective {
        iteration: 0,
        source,
    })?;
    if !value.is_finite() {
        return Err(LbfgsError::NonFiniteValue { value });
    }
    if let Some(index) = grad.iter().position(|v| !v.is_finite()) {
        return Err(LbfgsError::NonFiniteGradient {
            index,
            value: grad[index],
        });
    }
    let mut h = LbfgsHistory {
        iteration: 0,
        x: x0.to_vec(),
        value,
        grad,
        pairs: VecDeque::with_capacity(settings.history),
        capacity: settings.history,
        alpha: vec![1.0; d],
        n_skipped: 0,
    };
    let mut n_evals = 1u64;
    let finish = |h: &LbfgsHistory, n_evals, stop| LbfgsOutcome {
        x: h.x.clone(),
        value: h.value,
        iterations: h.iteration,
        n_evals,
        stop,
    };
    if observe(&h).is_break() {
        return Ok(finish(&h, n_evals, LbfgsStop::Interrupted));
    }
    let inf_norm = |g: &[f64]| g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if inf_norm(&h.grad) <= settings.grad_tol {
        return Ok(finish(&h, n_evals, LbfgsStop::Gradient));
    }
    let mut dir = vec![0.0; d];
    let mut work = Vec::with_capacity(settings.history);
    let mut xt = vec![0.0; d];
    let mut gt = vec![0.0; d];
    let mut s = vec![0.0; d];
    let mut y = vec![0.0; d];
    loop {
        if h.iteration >= settings.max_iters {
            return Ok(finish(&h, n_evals, LbfgsStop::MaxIters));
        }
        h.direction(&mut dir, &mut work);
        let mut dphi0 = dot(&dir, &h.grad);
        if !(dphi0 < 0.0) {
            h.pairs.clear();
            dir.iter_mut().zip(&h.grad).for_each(|(di, gi)| *di = -gi);
            dphi0 = dot(&dir, &h.grad);
        }
        let a0 = if h.iteration == 0 {
            (1.0 / dot(&h.grad, &h.grad).sqrt()).min(1.0)
        } else {
            1.0
        };
        let iteration = h.iteration;
        let mut evals = 0usize;
        // φ(a) and φ'(a), leaving x + a p in `xt` and its gradient in `gt`.
        let mut eval = |a: f64, xt: &mut [f64], gt: &mut [f64]| -> Result<Trial, LbfgsError<E>> {
            for i in 0..d {
                xt[i] = h.x[i] + a * dir[i];
            }
            let phi = f(xt, gt).map_err(|source| LbfgsError::Objective {
                iteration: iteration + 1,
                source,
            })?;
            let dphi = dot(gt, &dir);
            let phi = if phi.is_finite() && dphi.is_finite() {
                phi
            } else {
                f64::INFINITY
            };
            Ok(Trial { a, phi, dphi })
        };
        let phi0 = h.value;
        let (c1, c2) = (settings.c1, settings.c2);
        let armijo = |t: &Trial| t.phi <= phi0 + c1 * t.a * dphi0;
        let curvature = |t: &Trial| t.dphi.abs() <= -c2 * dphi0;
        let start = Trial {
            a: 0.0,
            phi: phi0,
            dphi: dphi0,
        };
        let mut accepted: Option<Trial> = None;
        let mut prev = start;
        let mut a = a0;
        let mut bracket: Option<(Trial, Trial)> = None;
        let mut first = true;
        while evals < settings.max_line_search {
            let t = eval(a, &mut xt, &mut gt)?;
            evals += 1;
            if !t.finite() || !armijo(&t) || (!first && t.phi >= prev.phi) {
                bracket = Some((prev, t));
                break;
            }
            if curvature(&t) {
                accepted = Some(t);
                break;
            }
            if t.dphi >= 0.0 {
                bracket = Some((t, prev));
                break;
            }
            prev = t;
            a *= 2.0;
            first = false;
        }
        if let Some((mut lo, mut hi)) = bracket {
            while accepted.is_none() && evals < settings.max_line_search {
                let a = cubic_step(lo, hi);
                let t = eval(a, &mut xt, &mut gt)?;
                evals += 1;
                if !t.finite() || !armijo(&t) || t.phi >= lo.phi {
                    hi = t;
                } else {
                    if curvature(&t) {
                        accepted = Some(t);
                        break;
                    }
                    if t.dphi * (hi.a - lo.a) >= 0.0 {
                        hi = lo;
                    }
                    lo = t;
                }
                if (hi.a - lo.a).abs() <= f64::EPSILON * lo.a.abs().max(1e-300) {
                    break;
                }
            }
        }
        n_evals += evals as u64;
        let Some(t) = accepted else {
            if h.iteration == 0 {
                return Err(LbfgsError::NoStep);
            }
            return Ok(finish(&h, n_evals, LbfgsStop::LineSearch));
        };
        // The accepted trial is the last one evaluated: xt, gt hold it.
        for i in 0..d {
            s[i] = xt[i] - h.x[i];
            y[i] = gt[i] - h.grad[i];
        }
        let old_value = h.value;
        h.x.copy_from_slice(&xt);
        h.grad.copy_from_slice(&gt);
        h.value = t.phi;
        h.iteration += 1;
        h.push(&s, &y, settings.curvature_eps);
        if observe(&h).is_break() {
            return Ok(finish(&h, n_evals, LbfgsStop::Interrupted));
        }
        if inf_norm(&h.grad) <= settings.grad_tol {
            return Ok(finish(&h, n_evals, LbfgsStop::Gradient));
        }
        let scale = old_value.abs().max(h.value.abs()).max(1.0);
        if (old_value - h.value).abs() <= settings.rel_value_tol * scale {
            return Ok(finish(&h, n_evals, LbfgsStop::Value));
        }
    }
}
