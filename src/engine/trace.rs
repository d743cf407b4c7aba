//! What a fit records: [`Trace`], serialized as `trace.json`. Built from the library's
//! [`FitResult`]; the family, objective and optimizer are the library's types, named by serde.

use kl_dist::Mvn;
use kl_fit::{
    Average, ConvergenceRule, Diagnosis, Family, FitResult, ObjectiveKind, RateSearch, Termination,
};
use serde::{Serialize, Serializer};

use crate::config::{Experiment, OptimizerSpec};

fn family_name<S: Serializer>(f: &Family, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name())
}
fn objective_name<S: Serializer>(o: &ObjectiveKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.name())
}
fn optimizer_name<S: Serializer>(o: &Option<OptimizerSpec>, s: S) -> Result<S::Ok, S::Error> {
    match o {
        Some(o) => s.serialize_str(o.name()),
        None => s.serialize_none(),
    }
}
fn finite_or_text<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    float_or_text(&Some(*v), s)
}
/// JSON has no infinities: a non-finite value is written as the string `"inf"`, `"-inf"` or
/// `"nan"`, never as a bare `null` (which means "not computed").
fn float_or_text<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.is_finite() => s.serialize_f64(*x),
        Some(x) => s.serialize_str(&x.to_string()),
        None => s.serialize_none(),
    }
}

/// One recorded state of the fit.
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
    /// Gradient evaluations of the target so far (the step-size search included).
    pub n_grad_evals: u64,
    /// Log-density-only evaluations of the target so far.
    pub n_density_evals: u64,
    /// The step size of the update from this state (decayed by the `"auto"` schedule).
    pub learning_rate: f64,
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
    /// (`"inf"` where α Σq⁻¹ + (1 − α) Σp⁻¹ is not positive definite).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "float_or_text"
    )]
    pub renyi: Option<f64>,
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
    /// Which statistic of the relative changes fired, when it did.
    pub rule: Option<ConvergenceRule>,
}

/// The answer of a Monte Carlo fit: the average of the iterates over the final window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// μ of the averaged q.
    pub mean: Vec<f64>,
    /// Σ of the averaged q, as rows.
    pub covariance: Vec<Vec<f64>>,
    /// D(p ‖ q) of the averaged q, where it is computable.
    pub kl_forward: Option<f64>,
    /// D(q ‖ p) of the averaged q, where it is computable.
    pub kl_reverse: Option<f64>,
    /// The window and the Monte Carlo standard errors.
    #[serde(flatten)]
    pub average: Average,
}

/// One Pathfinder path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathTrace {
    /// Where L-BFGS started.
    pub start: Vec<f64>,
    /// The L-BFGS iteration whose Gaussian had the best ELBO (`null` if none had a finite one).
    pub best_iteration: Option<usize>,
    /// That ELBO estimate (`"-inf"` if none).
    #[serde(serialize_with = "finite_or_text")]
    pub elbo: f64,
    /// L-BFGS steps taken.
    pub lbfgs_iterations: usize,
    /// Why L-BFGS stopped (`"gradient"`, `"value"`, `"max-iters"`, `"line-search"`,
    /// `"interrupted"`; `null` if the path failed).
    pub stop: Option<&'static str>,
    /// Why the path failed, if it did.
    pub error: Option<String>,
}

/// What Pathfinder found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathfinderTrace {
    /// The ELBO estimate of the returned q.
    #[serde(serialize_with = "finite_or_text")]
    pub elbo: f64,
    /// Its path.
    pub best_path: usize,
    /// Pareto k̂ of the draws pooled over the paths (> 0.7: the resampled draws cannot be
    /// trusted).
    #[serde(serialize_with = "finite_or_text")]
    pub pareto_k: f64,
    /// Each path.
    pub paths: Vec<PathTrace>,
}

/// The settings and outcome of a Pathfinder, GSM or BaM fit (`objective` names which).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Algorithm {
    /// B (GSM, BaM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// `"constant"` or `"decaying"` (BaM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<&'static str>,
    /// The constant λ, or the decaying schedule's factor (BaM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
    /// Steps rejected because Σ' was not positive definite (GSM, BaM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_steps: Option<usize>,
    /// J (Pathfinder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<usize>,
    /// K (Pathfinder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elbo_draws: Option<usize>,
    /// The number of paths (Pathfinder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_paths: Option<usize>,
    /// What Pathfinder found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pathfinder: Option<PathfinderTrace>,
}

impl Algorithm {
    fn new(kind: ObjectiveKind, fit: &FitResult) -> Option<Algorithm> {
        let none = Algorithm {
            batch_size: None,
            schedule: None,
            lambda: None,
            rejected_steps: None,
            history: None,
            elbo_draws: None,
            n_paths: None,
            pathfinder: None,
        };
        Some(match kind {
            ObjectiveKind::Gsm { batch_size } => Algorithm {
                batch_size: Some(batch_size),
                rejected_steps: Some(fit.rejected_steps()),
                ..none
            },
            ObjectiveKind::Bam {
                batch_size,
                schedule,
            } => {
                let (name, lambda) = match schedule {
                    kl_fit::Schedule::Constant(l) => ("constant", l),
                    kl_fit::Schedule::Decaying { scale } => ("decaying", scale),
                };
                Algorithm {
                    batch_size: Some(batch_size),
                    schedule: Some(name),
                    lambda: Some(lambda),
                    rejected_steps: Some(fit.rejected_steps()),
                    ..none
                }
            }
            ObjectiveKind::Pathfinder(o) => Algorithm {
                history: Some(o.history),
                elbo_draws: Some(o.elbo_draws),
                n_paths: Some(o.n_paths),
                pathfinder: fit.pathfinder().map(|p| PathfinderTrace {
                    elbo: p.elbo,
                    best_path: p.best_path,
                    pareto_k: p.pareto_k,
                    paths: p
                        .paths
                        .iter()
                        .map(|s| PathTrace {
                            start: s.start.clone(),
                            best_iteration: s.best_iteration,
                            elbo: s.elbo,
                            lbfgs_iterations: s.lbfgs_iterations,
                            stop: s.stop.map(|st| match st {
                                kl_opt::LbfgsStop::Gradient => "gradient",
                                kl_opt::LbfgsStop::Value => "value",
                                kl_opt::LbfgsStop::MaxIters => "max-iters",
                                kl_opt::LbfgsStop::LineSearch => "line-search",
                                kl_opt::LbfgsStop::Interrupted => "interrupted",
                                _ => "other",
                            }),
                            error: s.error.as_ref().map(ToString::to_string),
                        })
                        .collect(),
                }),
                ..none
            },
            _ => return None,
        })
    }
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
    #[serde(serialize_with = "family_name")]
    pub family: Family,
    /// The objective.
    #[serde(serialize_with = "objective_name")]
    pub objective: ObjectiveKind,
    /// The reverse-KL gradient estimator, when there is a choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimator: Option<String>,
    /// Rényi's α.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// `"sgd"` or `"adam"`; absent for Pathfinder, GSM and BaM, which make their own updates.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optimizer_name"
    )]
    pub optimizer: Option<OptimizerSpec>,
    /// The settings and outcome of Pathfinder, GSM or BaM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
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
    /// Why the fit stopped.
    pub termination: Termination,
    /// The seed.
    pub seed: u64,
    /// Gradient evaluations of the target in all (search and diagnostics included).
    pub n_grad_evals: u64,
    /// Log-density-only evaluations in all.
    pub n_density_evals: u64,
    /// How `kl_forward` and `kl_reverse` were computed (`null` when they are not).
    pub kl_method: Option<String>,
    /// The averaged answer of a Monte Carlo fit (absent for deterministic objectives, whose
    /// answer is the last state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// Draws of q per diagnostic.
    pub diagnostic_draws: usize,
    /// k̂ and ESS of the answer (and of every `diagnostics.every`-th recorded state first), for
    /// targets with a density.
    pub diagnostics: Vec<Diagnosis>,
    /// The recorded states (every one up to [`kl_fit::record_capacity`], evenly thinned
    /// beyond), the last included.
    pub iterations: Vec<Iteration>,
}

fn rows(v: &[f64], d: usize) -> Vec<Vec<f64>> {
    v.chunks(d.max(1)).map(<[f64]>::to_vec).collect()
}

impl Trace {
    /// The trace of a fit of `exp`.
    pub fn new(exp: &Experiment, fit: &FitResult) -> Trace {
        let d = exp.target.dim();
        let iterations = fit
            .records()
            .iter()
            .map(|r| Iteration {
                iteration: r.iteration,
                mean: r.mean().to_vec(),
                raw: match r.family() {
                    Family::FullRank => rows(r.raw(), d),
                    Family::MeanField => vec![r.raw().to_vec()],
                },
                covariance: rows(&r.covariance(), d),
                loss: r.loss,
                grad_norm: r.grad_norm,
                n_grad_evals: r.n_grad_evals,
                n_density_evals: r.n_density_evals,
                learning_rate: r.learning_rate,
                ess: r.ess,
                kl_forward: r.kl_forward,
                kl_reverse: r.kl_reverse,
                renyi: r.renyi,
            })
            .collect();
        let (estimator, alpha) = match exp.objective.kind {
            ObjectiveKind::ReverseKl(kl_fit::Estimator::Total) => (Some("total".into()), None),
            ObjectiveKind::ReverseKl(kl_fit::Estimator::Stl) => (Some("stl".into()), None),
            ObjectiveKind::Renyi { alpha } => (None, Some(alpha)),
            _ => (None, None),
        };
        let convergence = exp.stopping.map(|s| {
            let (at, rule) = match fit.termination() {
                Termination::Converged { at, rule } => (Some(at), Some(rule)),
                _ => (None, None),
            };
            Convergence {
                tol_rel_obj: s.tol_rel_obj,
                eval_every: s.eval_every,
                converged_at: at,
                rule,
            }
        });
        Trace {
            name: exp.name.clone(),
            dim: d,
            target: exp.target.kind().to_string(),
            family: exp.family,
            objective: exp.objective.kind,
            estimator,
            alpha,
            optimizer: (!exp.objective.kind.is_vi_algorithm()).then_some(exp.optimizer),
            algorithm: Algorithm::new(exp.objective.kind, fit),
            learning_rate: fit.learning_rate(),
            learning_rate_search: fit.rate_search().cloned(),
            n_iters: exp.n_iters,
            convergence,
            termination: fit.termination(),
            seed: exp.seed,
            n_grad_evals: fit.n_grad_evals(),
            n_density_evals: fit.n_density_evals(),
            kl_method: fit.kl_method().map(str::to_string),
            answer: fit.average().map(|a| Answer {
                mean: fit.q().mean().to_vec(),
                covariance: rows(fit.q().covariance(), d),
                kl_forward: fit.exact_kl().and_then(|k| k.0),
                kl_reverse: fit.exact_kl().map(|k| k.1),
                average: a.clone(),
            }),
            diagnostic_draws: exp.diagnostics.n_draws,
            diagnostics: fit.diagnostics().to_vec(),
            iterations,
        }
    }

    /// The objective and the optimizer, as a figure's title says them: `"reverse-kl, adam"`,
    /// or `"gsm"` for an algorithm without an optimizer.
    pub fn method(&self) -> String {
        match &self.optimizer {
            Some(o) => format!("{}, {}", self.objective.name(), o.name()),
            None => self.objective.name().to_string(),
        }
    }

    /// The family of the trace's model.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The model at recorded state `k` as a normal.
    ///
    /// # Errors
    /// If its covariance is not positive definite (a valid trace never has that).
    pub fn model(&self, k: usize) -> Result<Mvn, kl_dist::Error> {
        let it = &self.iterations[k];
        let raw: Vec<f64> = it.raw.iter().flatten().copied().collect();
        kl_fit::model(self.family, &it.mean, &raw)
    }

    /// The answer: the averaged q of a Monte Carlo fit, else the last state.
    ///
    /// # Errors
    /// As [`Trace::model`].
    pub fn answer(&self) -> Result<Mvn, kl_dist::Error> {
        match &self.answer {
            Some(a) => Mvn::new(
                &a.mean,
                &a.covariance.iter().flatten().copied().collect::<Vec<_>>(),
            ),
            None => self.model(self.iterations.len() - 1),
        }
    }

    /// The exact (D(p‖q), D(q‖p)) of the answer, where computable.
    pub fn answer_kl(&self) -> (Option<f64>, Option<f64>) {
        match (&self.answer, self.iterations.last()) {
            (Some(a), _) => (a.kl_forward, a.kl_reverse),
            (None, Some(last)) => (last.kl_forward, last.kl_reverse),
            (None, None) => (None, None),
        }
    }

    /// The final diagnostic, when there is one.
    pub fn final_diagnostic(&self) -> Option<&Diagnosis> {
        self.diagnostics.last()
    }
}

/// The trace as pretty JSON (deterministic: shortest round-trip floats, fixed key order).
pub fn trace_json(trace: &Trace) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(trace).expect("a trace serializes");
    out.push(b'\n');
    out
}
