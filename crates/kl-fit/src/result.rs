//! What a fit returns: [`FitResult`].

use kl_dist::Mvn;
use kl_grad::Family;

use crate::{Average, ConvergenceRule, ObjectiveKind, Record};

/// Why the fit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "reason", rename_all = "kebab-case"))]
pub enum Termination {
    /// The convergence rule fired at iteration `at`.
    Converged {
        /// The iteration.
        at: usize,
        /// Which statistic of the relative changes fell below the tolerance.
        rule: ConvergenceRule,
    },
    /// It ran the maximum number of iterations.
    MaxIters,
    /// The observer asked it to stop after iteration `at`.
    Interrupted {
        /// The iteration.
        at: usize,
    },
}

/// One candidate of the `StepSize::Auto` search.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RateCandidate {
    /// The step size tried.
    pub learning_rate: f64,
    /// The objective after the adaptation run (mean over its last iterations), `None` when the
    /// candidate diverged.
    pub score: Option<f64>,
}

/// How the step size was chosen, when it was.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RateSearch {
    /// Iterations of each adaptation run.
    pub adapt_iters: usize,
    /// The candidates, in the order tried.
    pub candidates: Vec<RateCandidate>,
    /// The step size chosen.
    pub chosen: f64,
}

/// The importance-sampling diagnostics of one q: Pareto k̂ of the log weights log p̃ − log q of
/// draws of q, their ESS and the IW-ELBO.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Diagnosis {
    /// The iteration of q (the last one for the returned q).
    pub iteration: usize,
    /// Pareto k̂ (`+inf` when it cannot be estimated; [`kl_diag::FLAT_PARETO_K`] when every
    /// weight is the same, i.e. q = p and importance sampling is exact).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_float"))]
    pub k_hat: f64,
    /// The effective sample size of the weights, (Σw)² / Σw².
    pub ess: f64,
    /// The importance-weighted ELBO, log (1/S) Σ p̃/q (a lower bound on log Z).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_float"))]
    pub iw_elbo: f64,
    /// The verdict: "good" (k̂ < 0.5), "usable" (0.5–0.7), "unreliable" (> 0.7).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_display"))]
    pub verdict: kl_diag::Reliability,
    /// Whether every weight was the same (exact importance sampling).
    pub exact: bool,
}

/// A finished fit: q, why it stopped, whether it can be trusted, and the recorded states.
#[derive(Debug, Clone)]
pub struct FitResult {
    pub(crate) family: Family,
    pub(crate) objective: ObjectiveKind,
    pub(crate) q: Mvn,
    pub(crate) last: Mvn,
    pub(crate) average: Option<Average>,
    pub(crate) termination: Termination,
    pub(crate) records: Vec<Record>,
    pub(crate) diagnosis: Option<Diagnosis>,
    pub(crate) diagnostics: Vec<Diagnosis>,
    pub(crate) learning_rate: f64,
    pub(crate) search: Option<RateSearch>,
    pub(crate) kl_method: Option<String>,
    pub(crate) answer_kl: Option<(Option<f64>, f64)>,
    pub(crate) p_samples: Vec<f64>,
    pub(crate) n_grad_evals: u64,
    pub(crate) n_density_evals: u64,
    pub(crate) n_iters: usize,
    pub(crate) final_learning_rate: f64,
    pub(crate) n_decays: u32,
    pub(crate) rejected_steps: usize,
    pub(crate) pathfinder: Option<crate::PathfinderReport>,
}

impl FitResult {
    /// The answer: for a Monte Carlo objective the average of the iterates over the final
    /// window ([`FitResult::average`]), for a deterministic one the last iterate.
    pub fn q(&self) -> &Mvn {
        &self.q
    }

    /// The last iterate.
    pub fn last_q(&self) -> &Mvn {
        &self.last
    }

    /// The averaging window and the Monte Carlo standard errors of the answer (Monte Carlo
    /// objectives only).
    pub fn average(&self) -> Option<&Average> {
        self.average.as_ref()
    }

    /// Why the fit stopped.
    pub fn termination(&self) -> Termination {
        self.termination
    }

    /// The diagnostics of the answer (`None` when turned off).
    pub fn diagnosis(&self) -> Option<&Diagnosis> {
        self.diagnosis.as_ref()
    }

    /// The diagnostics of the recorded states asked for by `Diagnostics::every`, then the
    /// answer's.
    pub fn diagnostics(&self) -> &[Diagnosis] {
        &self.diagnostics
    }

    /// The recorded states, evenly thinned to at most [`crate::record_capacity`] plus the
    /// last; the first is the start.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The step size used (the chosen one, for `StepSize::Auto`).
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// The step size at the end (below [`FitResult::learning_rate`] after the `Auto`
    /// schedule's decays).
    pub fn final_learning_rate(&self) -> f64 {
        self.final_learning_rate
    }

    /// How many times the `Auto` schedule decayed the step.
    pub fn n_decays(&self) -> u32 {
        self.n_decays
    }

    /// The `StepSize::Auto` search, when there was one.
    pub fn rate_search(&self) -> Option<&RateSearch> {
        self.search.as_ref()
    }

    /// How the records' exact KL was computed (`None` when it was not).
    pub fn kl_method(&self) -> Option<&str> {
        self.kl_method.as_deref()
    }

    /// The exact KL of the answer [`FitResult::q`]: (D(p‖q) where p has finite moments,
    /// D(q‖p)), for a workspace target that has it (`None` otherwise).
    pub fn exact_kl(&self) -> Option<(Option<f64>, f64)> {
        self.answer_kl
    }

    /// The exact draws of p the fit made (its data for `forward-kl-samples`, or the ones asked
    /// for by `Fit::p_samples`), row-major.
    pub fn p_samples(&self) -> &[f64] {
        &self.p_samples
    }

    /// Gradient evaluations of the target, in all (search and diagnostics included).
    pub fn n_grad_evals(&self) -> u64 {
        self.n_grad_evals
    }

    /// Log-density-only evaluations of the target, in all.
    pub fn n_density_evals(&self) -> u64 {
        self.n_density_evals
    }

    /// The number of iterations made.
    pub fn n_iters(&self) -> usize {
        self.n_iters
    }

    /// The family of q.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The objective.
    pub fn objective(&self) -> ObjectiveKind {
        self.objective
    }

    /// GSM's and BaM's steps rejected because the updated covariance was not positive
    /// definite (q stayed as it was); 0 for every other fit.
    pub fn rejected_steps(&self) -> usize {
        self.rejected_steps
    }

    /// What Pathfinder found on each path, its pooled draws and their PSIS k̂ (Pathfinder
    /// fits only).
    pub fn pathfinder(&self) -> Option<&crate::PathfinderReport> {
        self.pathfinder.as_ref()
    }
}
