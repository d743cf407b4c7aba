//! The page's settings as JSON, and the experiment file they stand for. The JSON structs refuse
//! unknown keys; every value is passed on into TOML text as it came, for the experiment files'
//! own validation ([`crate::config::parse`]) to judge: the page can ask for nothing a file could
//! not, and the file it downloads is the one that ran.

use std::fmt::Write as _;

use serde::Deserialize;

/// The name of every experiment the explorer runs (and of the downloaded file's output folder).
pub const NAME: &str = "explorer";

/// The path experiments from the page are known by in errors (`explorer.toml:12:3: …`).
pub const PATH: &str = "explorer.toml";

/// The settings of one fit, as the page sends them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// What q is fitted to.
    pub target: TargetSettings,
    /// The objective.
    pub objective: ObjectiveSettings,
    /// `"full-rank"` or `"mean-field"`.
    pub family: String,
    /// The update rule.
    pub optimizer: OptimizerSettings,
    /// The starting q.
    pub init: InitSettings,
    /// Seeds every random draw.
    pub seed: u64,
    /// The plot's extent `[xmin, xmax, ymin, ymax]` (a default for the target when absent).
    #[serde(default)]
    pub lim: Option<[f64; 4]>,
}

/// The targets the page offers: every kind of the zoo, the notebook's mixture, and a normal (no
/// kind that reads a file).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TargetSettings {
    /// A normal.
    Mvn {
        /// μ.
        mean: Vec<f64>,
        /// Σ as rows.
        cov: Vec<Vec<f64>>,
    },
    /// A Gaussian mixture.
    Mixture {
        /// The weights, one per component.
        weights: Vec<f64>,
        /// The components.
        components: Vec<Component>,
    },
    /// The banana.
    Banana {
        /// a.
        scale: f64,
        /// b.
        curvature: f64,
    },
    /// Neal's funnel in 2-D.
    Funnel {
        /// σ of x₀.
        scale: f64,
    },
    /// A Student t.
    StudentT {
        /// ν.
        df: f64,
        /// The location.
        mean: Vec<f64>,
        /// The shape matrix as rows.
        scale: Vec<Vec<f64>>,
    },
    /// The ring in 2-D.
    Ring {
        /// r.
        radius: f64,
        /// w.
        width: f64,
    },
}

/// One component of a mixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Its mean.
    pub mean: Vec<f64>,
    /// Its covariance as rows.
    pub cov: Vec<Vec<f64>>,
}

/// The objective.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveSettings {
    /// `"reverse-kl"`, `"renyi"`, … (the experiment files' names).
    pub kind: String,
    /// Draws per step.
    pub n_samples: u64,
    /// `"total"` or `"stl"` (reverse-kl only).
    #[serde(default)]
    pub estimator: Option<String>,
    /// Rényi's α (renyi only).
    #[serde(default)]
    pub alpha: Option<f64>,
}

/// The update rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSettings {
    /// `"sgd"` or `"adam"`.
    pub kind: String,
    /// A number, or `"auto"`.
    pub learning_rate: Rate,
    /// The number of updates.
    pub n_iters: u64,
}

/// A step size: a number or `"auto"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Rate {
    /// A fixed step.
    Fixed(f64),
    /// `"auto"` (or anything else, for the validation to refuse).
    Named(String),
}

/// The starting q: μ and the factor L as rows (full rank) or σ (mean field).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitSettings {
    /// μ₀.
    pub mean: Vec<f64>,
    /// L₀ as rows.
    #[serde(default)]
    pub raw: Option<Vec<Vec<f64>>>,
    /// σ₀.
    #[serde(default)]
    pub sd: Option<Vec<f64>>,
}

/// A number as TOML writes it: Rust's shortest round-trip form, with an exponent for the very
/// large and small (`1e300`), always a float (`1.0`).
fn num(x: f64) -> String {
    format!("{x:?}")
}

fn vec(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| num(*x)).collect();
    format!("[{}]", items.join(", "))
}

fn mat(m: &[Vec<f64>]) -> String {
    let rows: Vec<String> = m.iter().map(|r| vec(r)).collect();
    format!("[{}]", rows.join(", "))
}

/// A TOML basic string, escaped.
fn text(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML integer, or a decimal string beyond i64 (as the files' `seed` allows; other keys refuse
/// it with their own message).
fn int(n: u64) -> String {
    match i64::try_from(n) {
        Ok(i) => i.to_string(),
        Err(_) => text(&n.to_string()),
    }
}

impl TargetSettings {
    /// The `kind` key's value.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetSettings::Mvn { .. } => "mvn",
            TargetSettings::Mixture { .. } => "mixture",
            TargetSettings::Banana { .. } => "banana",
            TargetSettings::Funnel { .. } => "funnel",
            TargetSettings::StudentT { .. } => "student-t",
            TargetSettings::Ring { .. } => "ring",
        }
    }

    /// The plot extent the zoo's figures use for this kind.
    pub fn default_lim(&self) -> [f64; 4] {
        match self {
            TargetSettings::Banana { .. } => [-4.0, 4.0, -3.0, 6.0],
            TargetSettings::Funnel { .. } => [-5.0, 5.0, -6.0, 6.0],
            TargetSettings::StudentT { .. } => [-5.0, 5.0, -5.0, 5.0],
            TargetSettings::Ring { .. } => [-3.5, 3.5, -3.5, 3.5],
            TargetSettings::Mvn { .. } | TargetSettings::Mixture { .. } => [-4.0, 4.0, -4.0, 4.0],
        }
    }

    /// The `[target]` section.
    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "[target]\nkind = \"{}\"", self.kind());
        match self {
            TargetSettings::Mvn { mean, cov } => {
                let _ = writeln!(out, "mean = {}\ncov = {}", vec(mean), mat(cov));
            }
            TargetSettings::Mixture {
                weights,
                components,
            } => {
                let _ = writeln!(out, "weights = {}\ncomponents = [", vec(weights));
                for c in components {
                    let _ = writeln!(
                        out,
                        "  {{ mean = {}, cov = {} }},",
                        vec(&c.mean),
                        mat(&c.cov)
                    );
                }
                out.push_str("]\n");
            }
            TargetSettings::Banana { scale, curvature } => {
                let _ = writeln!(
                    out,
                    "scale = {}\ncurvature = {}",
                    num(*scale),
                    num(*curvature)
                );
            }
            TargetSettings::Funnel { scale } => {
                let _ = writeln!(out, "dim = 2\nscale = {}", num(*scale));
            }
            TargetSettings::StudentT { df, mean, scale } => {
                let _ = writeln!(
                    out,
                    "df = {}\nmean = {}\nscale = {}",
                    num(*df),
                    vec(mean),
                    mat(scale)
                );
            }
            TargetSettings::Ring { radius, width } => {
                let _ = writeln!(
                    out,
                    "dim = 2\nradius = {}\nwidth = {}",
                    num(*radius),
                    num(*width)
                );
            }
        }
    }
}

impl Settings {
    /// The experiment file these settings stand for: `forward-backward-kl fit` on it runs the
    /// fit the page showed, to the same trace bytes.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# An experiment from the explorer (`forward-backward-kl serve`). Run it with\n\
             # `forward-backward-kl fit explorer.toml`: the same fit, to the same trace.json.\n",
        );
        let _ = writeln!(out, "name = \"{NAME}\"\nseed = {}\n", int(self.seed));
        self.target.write(&mut out);
        let _ = writeln!(out, "\n[model]\nfamily = {}\n", text(&self.family));
        out.push_str("[init]\n");
        let _ = writeln!(out, "mean = {}", vec(&self.init.mean));
        if let Some(raw) = &self.init.raw {
            let _ = writeln!(out, "raw = {}", mat(raw));
        }
        if let Some(sd) = &self.init.sd {
            let _ = writeln!(out, "sd = {}", vec(sd));
        }
        let o = &self.objective;
        let p = &self.optimizer;
        // GSM and BaM take the page's draws as their batch, Pathfinder its iterations as L-BFGS
        // iterations; none of them has an [optimizer] section.
        if let Some(batch) = score_based(&o.kind) {
            let _ = writeln!(out, "\n[objective]\nkind = {}", text(&o.kind));
            if batch {
                let _ = writeln!(out, "batch_size = {}", int(o.n_samples));
            }
            let _ = writeln!(out, "n_iters = {}", int(p.n_iters));
            let lim = self.lim.unwrap_or_else(|| self.target.default_lim());
            let _ = writeln!(out, "\n[plot]\nlim = {}", vec(&lim));
            return out;
        }
        let _ = writeln!(
            out,
            "\n[objective]\nkind = {}\nn_samples = {}",
            text(&o.kind),
            int(o.n_samples)
        );
        if let Some(e) = &o.estimator {
            let _ = writeln!(out, "estimator = {}", text(e));
        }
        if let Some(a) = o.alpha {
            let _ = writeln!(out, "alpha = {}", num(a));
        }
        let rate = match &p.learning_rate {
            Rate::Fixed(x) => num(*x),
            Rate::Named(s) => text(s),
        };
        let _ = writeln!(
            out,
            "\n[optimizer]\nkind = {}\nlearning_rate = {rate}\nn_iters = {}",
            text(&p.kind),
            int(p.n_iters)
        );
        let lim = self.lim.unwrap_or_else(|| self.target.default_lim());
        let _ = writeln!(out, "\n[plot]\nlim = {}", vec(&lim));
        out
    }
}

/// For the algorithms without an optimizer: `Some(true)` for GSM and BaM (the draws are their
/// batch), `Some(false)` for Pathfinder; `None` for the gradient-descent objectives.
fn score_based(kind: &str) -> Option<bool> {
    match kind {
        "gsm" | "bam" => Some(true),
        "pathfinder" => Some(false),
        _ => None,
    }
}

/// A one-step experiment around `target`, for validating it and drawing p.
pub fn target_toml(target: &TargetSettings, lim: Option<[f64; 4]>) -> String {
    let mut out = format!("name = \"{NAME}\"\nseed = 0\n\n");
    target.write(&mut out);
    let lim = lim.unwrap_or_else(|| target.default_lim());
    let _ = writeln!(
        out,
        "\n[init]\nrandom = true\n\n[objective]\nkind = \"reverse-kl\"\nn_samples = 1\n\n\
         [optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\nn_iters = 1\n\n[plot]\nlim = {}",
        vec(&lim)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_toml_floats() {
        assert_eq!(num(1.0), "1.0");
        assert_eq!(num(-0.5), "-0.5");
        assert_eq!(num(1e300), "1e300");
        assert_eq!(num(1e-7), "1e-7");
        assert_eq!(int(u64::MAX), "\"18446744073709551615\"");
        // Strings come back from TOML as they went in, whatever they hold.
        for s in [
            "a\"b",
            "it's",
            "back\\slash",
            "new\nline",
            "tab\t'\"",
            "αβ ‖",
        ] {
            let doc: toml::Table = toml::from_str(&format!("k = {}", text(s))).expect("valid TOML");
            assert_eq!(doc["k"].as_str(), Some(s));
        }
    }
}
