//! What a fit records: [`Trace`], serialized as `trace.json`.

use kl_dist::Mvn;
use serde::Serialize;

use crate::config::Family;

/// One state of the fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Iteration {
    /// Number of updates made so far.
    pub iteration: usize,
    /// μ.
    pub mean: Vec<f64>,
    /// The family's raw parameters after μ: the factor L as rows (full rank), or ω = log σ
    /// (mean field).
    pub raw: Vec<Vec<f64>>,
    /// The model's covariance, d × d as rows, whatever the family.
    pub covariance: Vec<Vec<f64>>,
    /// The objective at this state (for Monte Carlo objectives, with the draws used for the
    /// update from it).
    pub loss: f64,
    /// ‖∇θ‖ there.
    pub grad_norm: f64,
    /// The effective sample size 1/Σ w̄ᵢ² of the objective's importance weights at this step
    /// (forward-kl-is, renyi); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ess: Option<f64>,
    /// D(p ‖ q) at this state; `null` where it is not computable. Rounding below zero is
    /// clamped to 0.
    pub kl_forward: Option<f64>,
    /// D(q ‖ p) at this state; `null` where it is not computable. Clamped like `kl_forward`.
    pub kl_reverse: Option<f64>,
    /// The Rényi divergence D_α(q ‖ p) of a `renyi` fit in closed form, for a Gaussian target
    /// (`+inf`/`-inf` serialize as `null`: D_α is infinite where α Σq⁻¹ + (1 − α) Σp⁻¹ is not
    /// positive definite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renyi: Option<f64>,
}

/// One candidate of the `learning_rate = "auto"` search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateCandidate {
    /// The step size tried.
    pub learning_rate: f64,
    /// The objective after the adaptation run (mean over its last iterations), `null` when the
    /// candidate diverged.
    pub score: Option<f64>,
}

/// How the step size was chosen, when it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateSearch {
    /// Iterations of each adaptation run.
    pub adapt_iters: usize,
    /// The candidates, in the order tried.
    pub candidates: Vec<RateCandidate>,
    /// The step size chosen.
    pub chosen: f64,
}

/// Where and why the fit stopped early.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Convergence {
    /// The tolerance.
    pub tol_rel_obj: f64,
    /// The evaluation period.
    pub eval_every: usize,
    /// The iteration where the rule fired, `null` when it never did (the fit ran `n_iters`).
    pub converged_at: Option<usize>,
    /// `"mean"` or `"median"` of the relative changes, when it fired.
    pub rule: Option<String>,
}

/// The importance-sampling diagnostics of one q.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// The iteration of q.
    pub iteration: usize,
    /// Pareto k̂ of the log weights log p̃ − log q of `n_draws` draws of q.
    pub k_hat: f64,
    /// The effective sample size of those weights, (Σw)² / Σw².
    pub ess: f64,
    /// The importance-weighted ELBO, log (1/S) Σ p̃/q (a lower bound on log Z).
    pub iw_elbo: f64,
    /// In words: "good" (k̂ < 0.5), "usable" (0.5–0.7), "unreliable" (> 0.7).
    pub verdict: String,
}

/// What `trace.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// The experiment's name.
    pub name: String,
    /// d.
    pub dim: usize,
    /// The target's kind.
    pub target: String,
    /// `"full-rank"` or `"mean-field"`.
    pub family: String,
    /// The objective's name.
    pub objective: String,
    /// The reverse-KL gradient estimator, when there is a choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimator: Option<String>,
    /// Rényi's α.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// `"sgd"` or `"adam"`.
    pub optimizer: String,
    /// The step size used (chosen, for `"auto"`).
    pub learning_rate: f64,
    /// The `"auto"` search, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate_search: Option<RateSearch>,
    /// The maximum number of updates.
    pub n_iters: usize,
    /// The convergence rule, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convergence: Option<Convergence>,
    /// The seed.
    pub seed: u64,
    /// How `kl_forward` and `kl_reverse` were computed (`null` when they are not).
    pub kl_method: Option<String>,
    /// Draws of q per diagnostic.
    pub diagnostic_draws: usize,
    /// k̂ and ESS of the final q (and every `diagnostics.every` iterations), for targets with a
    /// density.
    pub diagnostics: Vec<Diagnostic>,
    /// θₖ and what was measured there, k = 0, 1, ….
    pub iterations: Vec<Iteration>,
}

impl Trace {
    /// The family of the trace's model.
    pub fn family(&self) -> Family {
        if self.family == Family::MeanField.name() {
            Family::MeanField
        } else {
            Family::FullRank
        }
    }

    /// The model at iteration `k` as a normal.
    ///
    /// # Errors
    /// If its covariance is not positive definite (a valid trace never has that).
    pub fn model(&self, k: usize) -> Result<Mvn, kl_dist::Error> {
        let it = &self.iterations[k];
        let raw: Vec<f64> = it.raw.iter().flatten().copied().collect();
        match self.family() {
            Family::FullRank => Mvn::from_factor(&it.mean, &raw),
            Family::MeanField => {
                let d = it.mean.len();
                let mut l = vec![0.0; d * d];
                for (i, w) in raw.iter().enumerate().take(d) {
                    l[i * d + i] = w.exp();
                }
                Mvn::from_factor(&it.mean, &l)
            }
        }
    }

    /// The final diagnostic, when there is one.
    pub fn final_diagnostic(&self) -> Option<&Diagnostic> {
        self.diagnostics.last()
    }
}

/// The trace as pretty JSON (deterministic: shortest round-trip floats, fixed key order).
pub fn trace_json(trace: &Trace) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(trace).expect("a trace of finite numbers serializes");
    out.push(b'\n');
    out
}
