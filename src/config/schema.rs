//! Stage 1 of 3: the experiment file exactly as written — TOML into spanned raw structs, with no
//! checks beyond TOML's types and `deny_unknown_fields`. Every value keeps its span so that the
//! later stages can point at it.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

/// A number that TOML may write as an integer (`1`) or a float (`1.0`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Num(pub f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// A seed: an integer (TOML's are signed 64-bit) or a decimal string for the whole u64 range
/// (`seed = "18446744073709551615"`).
#[derive(Debug, Clone)]
pub(super) enum RawSeed {
    Int(i64),
    Text(String),
    /// A bare integer beyond i64: not TOML (whose integers are signed 64-bit), refused.
    TooBig(u64),
}

impl<'de> Deserialize<'de> for RawSeed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSeed;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer, or a decimal string for seeds ≥ 2⁶³")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSeed, E> {
                Ok(RawSeed::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSeed, E> {
                Ok(match i64::try_from(v) {
                    Ok(i) => RawSeed::Int(i),
                    Err(_) => RawSeed::TooBig(v),
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSeed, E> {
                Ok(RawSeed::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A learning rate: a number, or `"auto"`.
#[derive(Debug, Clone)]
pub(super) enum RawRate {
    Num(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawRate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or \"auto\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawRate, E> {
                Ok(RawRate::Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawRate, E> {
                Ok(RawRate::Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawRate, E> {
                Ok(RawRate::Num(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRate, E> {
                Ok(RawRate::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `scale`: a number (banana, funnel) or a matrix (student-t's shape matrix).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawScale {
    Num(Num),
    Mat(Vec<Vec<Num>>),
}

pub(super) type SNum = Spanned<Num>;
pub(super) type SVec = Spanned<Vec<Num>>;
pub(super) type SMat = Spanned<Vec<Spanned<Vec<Num>>>>;
pub(super) type SInt = Spanned<i64>;
pub(super) type SStr = Spanned<String>;
pub(super) type SBool = Spanned<bool>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExperiment {
    pub name: SStr,
    pub seed: Spanned<RawSeed>,
    pub target: Spanned<RawTarget>,
    pub model: Option<Spanned<RawModel>>,
    pub init: Spanned<RawInit>,
    pub objective: Spanned<RawObjective>,
    /// Required by the gradient objectives, refused by Pathfinder, GSM and BaM (stage 3).
    pub optimizer: Option<Spanned<RawOptimizer>>,
    pub diagnostics: Option<Spanned<RawDiagnostics>>,
    pub plot: Option<Spanned<RawPlot>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub kind: SStr,
    pub mean: Option<SVec>,
    pub cov: Option<SMat>,
    pub weights: Option<SVec>,
    pub components: Option<Vec<Spanned<RawComponent>>>,
    pub dim: Option<SInt>,
    pub shift: Option<SNum>,
    pub path: Option<SStr>,
    pub scale: Option<Spanned<RawScale>>,
    pub curvature: Option<SNum>,
    pub df: Option<SNum>,
    pub radius: Option<SNum>,
    pub width: Option<SNum>,
    pub label: Option<SStr>,
    pub prior_scale: Option<SNum>,
    pub intercept: Option<SBool>,
    pub standardize: Option<SBool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawComponent {
    pub mean: SVec,
    pub cov: SMat,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    pub family: SStr,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInit {
    pub random: Option<SBool>,
    pub laplace: Option<SBool>,
    pub pathfinder: Option<SBool>,
    pub mean: Option<SVec>,
    pub raw: Option<SMat>,
    pub sd: Option<SVec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObjective {
    pub kind: SStr,
    pub n_samples: Option<SInt>,
    pub estimator: Option<SStr>,
    pub alpha: Option<SNum>,
    // Pathfinder, GSM and BaM.
    pub n_iters: Option<SInt>,
    pub batch_size: Option<SInt>,
    pub schedule: Option<SStr>,
    pub lambda: Option<SNum>,
    pub lambda_scale: Option<SNum>,
    pub history: Option<SInt>,
    pub elbo_draws: Option<SInt>,
    pub n_paths: Option<SInt>,
    pub draws_per_path: Option<SInt>,
    pub n_draws: Option<SInt>,
    pub init_radius: Option<SNum>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOptimizer {
    pub kind: SStr,
    pub learning_rate: Spanned<RawRate>,
    pub n_iters: SInt,
    pub momentum: Option<SNum>,
    pub beta1: Option<SNum>,
    pub beta2: Option<SNum>,
    pub eps: Option<SNum>,
    pub tol_rel_obj: Option<SNum>,
    pub eval_every: Option<SInt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiagnostics {
    pub n_draws: Option<SInt>,
    pub every: Option<SInt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlot {
    pub lim: Option<SVec>,
    pub grid: Option<SInt>,
    pub rows: Option<SInt>,
    pub cols: Option<SInt>,
    pub prefix: Option<SStr>,
    pub standard: Option<SBool>,
}
