//! Experiment files: TOML in, a validated [`Experiment`] out.
//!
//! Every key is checked once, here, and a bad one is reported with the file, the dotted key and
//! the line and column where TOML has them. Unknown keys are errors.

use std::path::{Path, PathBuf};

use kl_dist::{Mixture, Mvn};
use kl_grad::Estimator;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use crate::error::{Error, Location};

/// A number that TOML may write as an integer (`1`) or a float (`1.0`).
#[derive(Debug, Clone, Copy)]
struct Num(f64);

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

type SNum = Spanned<Num>;
type SVec = Spanned<Vec<Num>>;
type SMat = Spanned<Vec<Spanned<Vec<Num>>>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    name: Spanned<String>,
    seed: Spanned<i64>,
    target: Spanned<RawTarget>,
    init: Spanned<RawInit>,
    objective: Spanned<RawObjective>,
    optimizer: Spanned<RawOptimizer>,
    plot: Option<Spanned<RawPlot>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    kind: Spanned<String>,
    mean: Option<SVec>,
    cov: Option<SMat>,
    weights: Option<SVec>,
    components: Option<Vec<Spanned<RawComponent>>>,
    dim: Option<Spanned<i64>>,
    shift: Option<SNum>,
    path: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    mean: SVec,
    cov: SMat,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInit {
    random: Option<Spanned<bool>>,
    mean: Option<SVec>,
    raw: Option<SMat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    kind: Spanned<String>,
    n_samples: Option<Spanned<i64>>,
    estimator: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOptimizer {
    kind: Spanned<String>,
    learning_rate: SNum,
    n_iters: Spanned<i64>,
    momentum: Option<SNum>,
    beta1: Option<SNum>,
    beta2: Option<SNum>,
    eps: Option<SNum>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlot {
    lim: Option<SVec>,
    grid: Option<Spanned<i64>>,
    rows: Option<Spanned<i64>>,
    cols: Option<Spanned<i64>>,
    prefix: Option<Spanned<String>>,
}

/// A validated experiment: everything needed to run it.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The file it came from.
    pub path: PathBuf,
    /// Names the output folder and the figures.
    pub name: String,
    /// Seeds every random draw of the run.
    pub seed: u64,
    pub target: TargetSpec,
    pub init: InitSpec,
    pub objective: ObjectiveSpec,
    pub optimizer: OptimizerSpec,
    pub n_iters: usize,
    pub plot: PlotSpec,
}

/// What the model is fitted to.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    Mvn(Mvn),
    Mixture(Mixture),
    /// The notebook's random Gaussian (drawn from the run's RNG first).
    RandomMvn {
        dim: usize,
        shift: f64,
    },
    /// Fixed samples from a CSV file: `data` is row-major `n × dim`.
    Samples {
        path: PathBuf,
        data: Vec<f64>,
        dim: usize,
    },
}

impl TargetSpec {
    /// The dimension of the target.
    pub fn dim(&self) -> usize {
        match self {
            TargetSpec::Mvn(m) => m.dim(),
            TargetSpec::Mixture(m) => kl_dist::LogDensity::dim(m),
            TargetSpec::RandomMvn { dim, .. } | TargetSpec::Samples { dim, .. } => *dim,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            TargetSpec::Mvn(_) => "mvn",
            TargetSpec::Mixture(_) => "mixture",
            TargetSpec::RandomMvn { .. } => "random-mvn",
            TargetSpec::Samples { .. } => "samples",
        }
    }
}

/// The starting model.
#[derive(Debug, Clone)]
pub enum InitSpec {
    /// μ and the raw factor L (row-major).
    Explicit { mean: Vec<f64>, raw: Vec<f64> },
    /// μ and L entrywise ~ N(0, 1), drawn after the target.
    Random,
}

/// Which objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ObjectiveKind {
    ForwardKlExact,
    ForwardKlSamples,
    ReverseKl(Estimator),
    ReverseKlExact,
}

impl ObjectiveKind {
    /// The name used in files and traces.
    pub fn name(&self) -> &'static str {
        match self {
            ObjectiveKind::ForwardKlExact => "forward-kl-exact",
            ObjectiveKind::ForwardKlSamples => "forward-kl-samples",
            ObjectiveKind::ReverseKl(_) => "reverse-kl",
            ObjectiveKind::ReverseKlExact => "reverse-kl-exact",
        }
    }
}

/// The objective and its sample count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectiveSpec {
    pub kind: ObjectiveKind,
    /// Draws of q per step (reverse-kl); draws of p otherwise (the fit's data for
    /// forward-kl-samples, the figures' dots for every objective).
    pub n_samples: usize,
}

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerSpec {
    Sgd {
        learning_rate: f64,
        momentum: f64,
    },
    Adam {
        learning_rate: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
    },
}

impl OptimizerSpec {
    /// `"sgd"` or `"adam"`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerSpec::Sgd { .. } => "sgd",
            OptimizerSpec::Adam { .. } => "adam",
        }
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f64 {
        match *self {
            OptimizerSpec::Sgd { learning_rate, .. }
            | OptimizerSpec::Adam { learning_rate, .. } => learning_rate,
        }
    }
}

/// How the figures are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    /// `[xmin, xmax, ymin, ymax]`.
    pub lim: [f64; 4],
    /// Grid points per axis for the density maps.
    pub grid: usize,
    pub rows: usize,
    pub cols: usize,
    /// File-name prefix of the target and samples figures (default: the name, `-` → `_`).
    pub prefix: String,
}

/// Default number of samples of p drawn for the figures (the notebook's 1000).
pub const DEFAULT_N_SAMPLES: usize = 1000;

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> Error {
        Error::Config {
            path: self.path.to_path_buf(),
            at: span.map(|s| Location::of(self.text, s.start)),
            key: (!key.is_empty()).then(|| key.to_string()),
            message: message.into(),
        }
    }
    fn at<T>(&self, v: &Spanned<T>, key: &str, message: impl Into<String>) -> Error {
        self.err(Some(v.span()), key, message)
    }
}

/// Reads and validates an experiment file.
pub fn load(path: &Path) -> Result<Experiment, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        action: "read the experiment file",
        source,
    })?;
    parse(&text, path)
}

/// Validates an experiment given as text; `path` names it in errors and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Experiment, Error> {
    let cx = Ctx { path, text };
    let raw: RawExperiment = toml::from_str(text).map_err(|e| toml_error(&cx, &e))?;

    let name = raw.name.get_ref().clone();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || name.starts_with('.')
    {
        return Err(cx.at(
            &raw.name,
            "name",
            "must be a non-empty folder name of letters, digits, '-', '_' or '.'",
        ));
    }
    let seed =
        u64::try_from(*raw.seed.get_ref()).map_err(|_| cx.at(&raw.seed, "seed", "must be ≥ 0"))?;

    let target = target(&cx, raw.target.into_inner())?;
    let dim = target.dim();
    let init = init(&cx, &raw.init, dim, target.kind())?;
    let objective = objective(&cx, &raw.objective, &target)?;
    let (optimizer, n_iters) = optimizer(&cx, raw.optimizer.into_inner())?;
    let plot = plot(&cx, raw.plot.map(Spanned::into_inner), &name)?;
    Ok(Experiment {
        path: path.to_path_buf(),
        name,
        seed,
        target,
        init,
        objective,
        optimizer,
        n_iters,
        plot,
    })
}

/// The sections every experiment file needs.
const SECTIONS: [&str; 4] = ["target", "init", "objective", "optimizer"];

/// A TOML or serde error, with the dotted key it is about: serde reports only a span (and, for a
/// missing key, its bare name), so the key is found from the span in the parsed document.
fn toml_error(cx: &Ctx, e: &toml::de::Error) -> Error {
    let message = e.message().trim_end();
    let Some(span) = e.span() else {
        return cx.err(None, "", message);
    };
    let (doc, _) = toml::de::DeTable::parse_recoverable(cx.text);
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'));
    if let Some(field) = missing {
        // The span is the table that lacks the key: its header, or an inline table.
        let mut table = String::new();
        let found = !span.is_empty() && table_at(doc.get_ref(), &span, "", &mut table);
        if !found && SECTIONS.contains(&field) {
            return cx.err(
                Some(span),
                field,
                format!("the section [{field}] is missing"),
            );
        }
        let key = if found {
            format!("{table}.{field}")
        } else {
            field.to_string()
        };
        return cx.err(Some(span), &key, "this key is required but missing");
    }
    let mut key = String::new();
    key_at(doc.get_ref(), span.start, "", &mut key);
    if key.is_empty() {
        key = key_on_line(cx.text, span.start).unwrap_or_default();
    }
    cx.err(Some(span), &key, message)
}

/// For errors the parsed document cannot place (bad syntax, a duplicate key): the `key = ` on the
/// line of `offset`, under the last `[table]` header above it.
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.\" ".contains(c))
    };
    if !bare(key) {
        return None;
    }
    let header = text[..start].lines().rev().find_map(|l| {
        let l = l.trim();
        let inner = l.strip_prefix('[')?.split(']').next()?;
        Some(inner.trim_start_matches('[').trim().to_string())
    });
    Some(match header {
        Some(h) if bare(&h) => format!("{h}.{key}"),
        _ => key.to_string(),
    })
}

/// Sets `out` to the deepest dotted key whose name or value contains byte `offset`.
fn key_at(t: &toml::de::DeTable, offset: usize, prefix: &str, out: &mut String) {
    for (k, v) in t {
        let path = join_key(prefix, k.get_ref());
        if (k.span().contains(&offset) || v.span().contains(&offset)) && path.len() > out.len() {
            out.clone_from(&path);
        }
        value_key_at(v, offset, &path, out);
    }
}

fn value_key_at(v: &Spanned<toml::de::DeValue>, offset: usize, path: &str, out: &mut String) {
    match v.get_ref() {
        toml::de::DeValue::Table(t) => key_at(t, offset, path, out),
        toml::de::DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let path = format!("{path}[{i}]");
                if item.span().contains(&offset) && path.len() > out.len() {
                    out.clone_from(&path);
                }
                value_key_at(item, offset, &path, out);
            }
        }
        _ => {}
    }
}

/// Finds the table whose span is `span`; sets `out` to its dotted key.
fn table_at(
    t: &toml::de::DeTable,
    span: &std::ops::Range<usize>,
    prefix: &str,
    out: &mut String,
) -> bool {
    t.iter().any(|(k, v)| {
        let path = join_key(prefix, k.get_ref());
        value_table_at(v, span, &path, out)
    })
}

fn value_table_at(
    v: &Spanned<toml::de::DeValue>,
    span: &std::ops::Range<usize>,
    path: &str,
    out: &mut String,
) -> bool {
    match v.get_ref() {
        toml::de::DeValue::Table(t) => {
            if v.span() == *span {
                out.clear();
                out.push_str(path);
                return true;
            }
            table_at(t, span, path, out)
        }
        toml::de::DeValue::Array(a) => a
            .iter()
            .enumerate()
            .any(|(i, item)| value_table_at(item, span, &format!("{path}[{i}]"), out)),
        _ => false,
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn nums(v: &SVec) -> Vec<f64> {
    v.get_ref().iter().map(|n| n.0).collect()
}

/// A finite vector; names the first non-finite entry.
fn finite_vec(cx: &Ctx, v: &SVec, key: &str) -> Result<Vec<f64>, Error> {
    let out = nums(v);
    if let Some(i) = out.iter().position(|x| !x.is_finite()) {
        return Err(cx.at(
            v,
            key,
            format!("entry {i} is {}, not a finite number", out[i]),
        ));
    }
    Ok(out)
}

/// A `d × d` matrix as rows; checks squareness against `d` and finiteness, returns row-major.
fn square(cx: &Ctx, m: &SMat, key: &str, d: usize) -> Result<Vec<f64>, Error> {
    let rows = m.get_ref();
    if rows.len() != d {
        return Err(cx.at(
            m,
            key,
            format!(
                "has {} rows, expected {d} (the dimension of the mean)",
                rows.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(d * d);
    for (i, row) in rows.iter().enumerate() {
        if row.get_ref().len() != d {
            return Err(cx.at(
                row,
                key,
                format!("row {i} has {} entries, expected {d}", row.get_ref().len()),
            ));
        }
        for (j, x) in row.get_ref().iter().enumerate() {
            if !x.0.is_finite() {
                return Err(cx.at(
                    row,
                    key,
                    format!("entry [{i}][{j}] is {}, not a finite number", x.0),
                ));
            }
            out.push(x.0);
        }
    }
    Ok(out)
}

fn reject_keys(
    cx: &Ctx,
    kind: &str,
    section: &str,
    keys: &[(&str, Option<std::ops::Range<usize>>)],
) -> Result<(), Error> {
    for (key, span) in keys {
        if let Some(span) = span {
            return Err(cx.err(
                Some(span.clone()),
                &format!("{section}.{key}"),
                format!("is not used by kind = \"{kind}\""),
            ));
        }
    }
    Ok(())
}

fn span<T>(v: &Option<Spanned<T>>) -> Option<std::ops::Range<usize>> {
    v.as_ref().map(Spanned::span)
}

fn target(cx: &Ctx, t: RawTarget) -> Result<TargetSpec, Error> {
    let kind = t.kind.get_ref().as_str();
    let comps_span = t
        .components
        .as_ref()
        .and_then(|c| c.first().map(Spanned::span));
    match kind {
        "mvn" => {
            reject_keys(cx, kind, "target", &[
                ("weights", span(&t.weights)),
                ("components", comps_span),
                ("dim", span(&t.dim)),
                ("shift", span(&t.shift)),
                ("path", span(&t.path)),
            ])?;
            let (Some(mean), Some(cov)) = (&t.mean, &t.cov) else {
                return Err(cx.at(&t.kind, "target", "kind = \"mvn\" needs `mean` and `cov`"));
            };
            mvn(cx, mean, cov, "target.mean", "target.cov").map(TargetSpec::Mvn)
        }
        "mixture" => {
            reject_keys(cx, kind, "target", &[
                ("mean", span(&t.mean)),
                ("cov", span(&t.cov)),
                ("dim", span(&t.dim)),
                ("shift", span(&t.shift)),
                ("path", span(&t.path)),
            ])?;
            let (Some(weights), Some(components)) = (&t.weights, &t.components) else {
                return Err(cx.at(&t.kind, "target", "kind = \"mixture\" needs `weights` and `components`"));
            };
            let w = nums(weights);
            if w.len() != components.len() {
                return Err(cx.at(weights, "target.weights", format!("{} weights for {} components", w.len(), components.len())));
            }
            let mut comps = Vec::with_capacity(components.len());
            for (k, c) in components.iter().enumerate() {
                let c = c.get_ref();
                let m = mvn(cx, &c.mean, &c.cov, &format!("target.components[{k}].mean"), &format!("target.components[{k}].cov"))?;
                if let Some(first) = comps.first().map(Mvn::dim)
                    && m.dim() != first
                {
                    return Err(cx.at(&c.mean, &format!("target.components[{k}].mean"), format!("has dimension {}, component 0 has {first}", m.dim())));
                }
                comps.push(m);
            }
            Mixture::new(&w, comps).map(TargetSpec::Mixture).map_err(|e| cx.at(weights, "target.weights", e.to_string()))
        }
        "random-mvn" => {
            reject_keys(cx, kind, "target", &[
                ("mean", span(&t.mean)),
                ("cov", span(&t.cov)),
                ("weights", span(&t.weights)),
                ("components", comps_span),
                ("path", span(&t.path)),
            ])?;
            let Some(dim) = &t.dim else {
                return Err(cx.at(&t.kind, "target", "kind = \"random-mvn\" needs `dim`"));
            };
            let d = *dim.get_ref();
            if !(1..=64).contains(&d) {
                return Err(cx.at(dim, "target.dim", format!("must be between 1 and 64, got {d}")));
            }
            let shift = t.shift.as_ref().map_or(0.0, |s| s.get_ref().0);
            if !shift.is_finite() {
                return Err(cx.err(span(&t.shift), "target.shift", "must be a finite number"));
            }
            Ok(TargetSpec::RandomMvn { dim: d as usize, shift })
        }
        "samples" => {
            reject_keys(cx, kind, "target", &[
                ("mean", span(&t.mean)),
                ("cov", span(&t.cov)),
                ("weights", span(&t.weights)),
                ("components", comps_span),
                ("dim", span(&t.dim)),
                ("shift", span(&t.shift)),
            ])?;
            let Some(p) = &t.path else {
                return Err(cx.at(&t.kind, "target", "kind = \"samples\" needs `path`"));
            };
            let csv = cx.path.parent().unwrap_or(Path::new(".")).join(p.get_ref());
            let (data, dim) = crate::csv::read_samples(&csv)?;
            Ok(TargetSpec::Samples { path: csv, data, dim })
        }
        other => Err(cx.at(
            &t.kind,
            "target.kind",
            format!("unknown kind \"{other}\": expected \"mvn\", \"mixture\", \"random-mvn\" or \"samples\""),
        )),
    }
}

fn mvn(cx: &Ctx, mean: &SVec, cov: &SMat, mean_key: &str, cov_key: &str) -> Result<Mvn, Error> {
    let m = finite_vec(cx, mean, mean_key)?;
    if m.is_empty() {
        return Err(cx.at(mean, mean_key, "is empty"));
    }
    let c = square(cx, cov, cov_key, m.len())?;
    Mvn::new(&m, &c).map_err(|e| cx.at(cov, cov_key, e.to_string()))
}

fn init(
    cx: &Ctx,
    init: &Spanned<RawInit>,
    dim: usize,
    target_kind: &str,
) -> Result<InitSpec, Error> {
    let i = init.get_ref();
    let random = i.random.as_ref().is_some_and(|r| *r.get_ref());
    match (random, &i.mean, &i.raw) {
        (true, None, None) => Ok(InitSpec::Random),
        (true, m, r) => Err(cx.err(
            span(m).or(span(r)),
            "init",
            "give either `random = true` or `mean` and `raw`, not both",
        )),
        (false, Some(mean), Some(raw)) => {
            let m = finite_vec(cx, mean, "init.mean")?;
            if m.len() != dim {
                return Err(cx.at(
                    mean,
                    "init.mean",
                    format!("has {} entries but the target (kind = \"{target_kind}\") has dimension {dim}", m.len()),
                ));
            }
            let r = square(cx, raw, "init.raw", dim)?;
            Ok(InitSpec::Explicit { mean: m, raw: r })
        }
        (false, _, _) => Err(cx.at(init, "init", "needs `mean` and `raw`, or `random = true`")),
    }
}

fn objective(
    cx: &Ctx,
    o: &Spanned<RawObjective>,
    target: &TargetSpec,
) -> Result<ObjectiveSpec, Error> {
    let r = o.get_ref();
    let kind_name = r.kind.get_ref().as_str();
    let is_gaussian = matches!(target, TargetSpec::Mvn(_) | TargetSpec::RandomMvn { .. });
    let is_samples = matches!(target, TargetSpec::Samples { .. });
    let kind = match kind_name {
        "forward-kl-exact" | "reverse-kl-exact" | "forward-kl-samples" | "reverse-kl" => kind_name,
        other => {
            return Err(cx.at(
                &r.kind,
                "objective.kind",
                format!(
                    "unknown kind \"{other}\": expected \"forward-kl-exact\", \"forward-kl-samples\", \"reverse-kl\" or \"reverse-kl-exact\""
                ),
            ));
        }
    };
    if kind.ends_with("-exact") && !is_gaussian {
        return Err(cx.at(
            &r.kind,
            "objective.kind",
            format!("\"{kind}\" needs a Gaussian target (kind = \"mvn\" or \"random-mvn\"), got kind = \"{}\"", target.kind()),
        ));
    }
    if is_samples && kind != "forward-kl-samples" {
        return Err(cx.at(
            &r.kind,
            "objective.kind",
            format!("a samples target has no density: only \"forward-kl-samples\" applies, got \"{kind}\""),
        ));
    }
    let estimator = match (&r.estimator, kind) {
        (None, _) => Estimator::Total,
        (Some(e), "reverse-kl") => match e.get_ref().as_str() {
            "total" => Estimator::Total,
            "stl" => Estimator::Stl,
            other => {
                return Err(cx.at(
                    e,
                    "objective.estimator",
                    format!("unknown estimator \"{other}\": expected \"total\" or \"stl\""),
                ));
            }
        },
        (Some(e), kind) => {
            return Err(cx.at(
                e,
                "objective.estimator",
                format!("\"{kind}\" has no estimator to choose (only \"reverse-kl\" has)"),
            ));
        }
    };
    let n_samples = match (&r.n_samples, target) {
        (Some(n), TargetSpec::Samples { data, dim, .. }) => {
            return Err(cx.at(
                n,
                "objective.n_samples",
                format!(
                    "the samples file sets it ({} rows): remove this key",
                    data.len() / dim
                ),
            ));
        }
        (Some(n), _) => {
            let v = *n.get_ref();
            if !(1..=10_000_000).contains(&v) {
                return Err(cx.at(
                    n,
                    "objective.n_samples",
                    format!("must be between 1 and 10⁷, got {v}"),
                ));
            }
            v as usize
        }
        (None, TargetSpec::Samples { data, dim, .. }) => data.len() / dim,
        (None, _) => DEFAULT_N_SAMPLES,
    };
    let kind = match kind {
        "forward-kl-exact" => ObjectiveKind::ForwardKlExact,
        "forward-kl-samples" => ObjectiveKind::ForwardKlSamples,
        "reverse-kl" => ObjectiveKind::ReverseKl(estimator),
        _ => ObjectiveKind::ReverseKlExact,
    };
    Ok(ObjectiveSpec { kind, n_samples })
}

fn positive(cx: &Ctx, v: &SNum, key: &str) -> Result<f64, Error> {
    let x = v.get_ref().0;
    if !(x > 0.0 && x.is_finite()) {
        return Err(cx.at(v, key, format!("must be a finite number > 0, got {x}")));
    }
    Ok(x)
}

fn unit_interval(cx: &Ctx, v: &Option<SNum>, key: &str, default: f64) -> Result<f64, Error> {
    let Some(v) = v else { return Ok(default) };
    let x = v.get_ref().0;
    if !((0.0..1.0).contains(&x)) {
        return Err(cx.at(v, key, format!("must be in [0, 1), got {x}")));
    }
    Ok(x)
}

fn optimizer(cx: &Ctx, o: RawOptimizer) -> Result<(OptimizerSpec, usize), Error> {
    let learning_rate = positive(cx, &o.learning_rate, "optimizer.learning_rate")?;
    let n = *o.n_iters.get_ref();
    if !(1..=1_000_000).contains(&n) {
        return Err(cx.at(
            &o.n_iters,
            "optimizer.n_iters",
            format!("must be between 1 and 10⁶, got {n}"),
        ));
    }
    let kind = o.kind.get_ref().as_str();
    let spec = match kind {
        "sgd" => {
            reject_keys(
                cx,
                kind,
                "optimizer",
                &[
                    ("beta1", span(&o.beta1)),
                    ("beta2", span(&o.beta2)),
                    ("eps", span(&o.eps)),
                ],
            )?;
            OptimizerSpec::Sgd {
                learning_rate,
                momentum: unit_interval(cx, &o.momentum, "optimizer.momentum", 0.0)?,
            }
        }
        "adam" => {
            reject_keys(cx, kind, "optimizer", &[("momentum", span(&o.momentum))])?;
            let eps = match &o.eps {
                Some(e) => positive(cx, e, "optimizer.eps")?,
                None => 1e-8,
            };
            OptimizerSpec::Adam {
                learning_rate,
                beta1: unit_interval(cx, &o.beta1, "optimizer.beta1", 0.9)?,
                beta2: unit_interval(cx, &o.beta2, "optimizer.beta2", 0.999)?,
                eps,
            }
        }
        other => {
            return Err(cx.at(
                &o.kind,
                "optimizer.kind",
                format!("unknown kind \"{other}\": expected \"sgd\" or \"adam\""),
            ));
        }
    };
    Ok((spec, n as usize))
}

fn plot(cx: &Ctx, p: Option<RawPlot>, name: &str) -> Result<PlotSpec, Error> {
    let default_prefix = name.replace('-', "_");
    let Some(p) = p else {
        return Ok(PlotSpec {
            lim: [-4.0, 4.0, -4.0, 4.0],
            grid: 128,
            rows: 5,
            cols: 4,
            prefix: default_prefix,
        });
    };
    let lim = match &p.lim {
        None => [-4.0, 4.0, -4.0, 4.0],
        Some(l) => {
            let v = finite_vec(cx, l, "plot.lim")?;
            let Ok(lim) = <[f64; 4]>::try_from(v.as_slice()) else {
                return Err(cx.at(
                    l,
                    "plot.lim",
                    format!("needs 4 numbers [xmin, xmax, ymin, ymax], got {}", v.len()),
                ));
            };
            if !(lim[0] < lim[1] && lim[2] < lim[3]) {
                return Err(cx.at(l, "plot.lim", "needs xmin < xmax and ymin < ymax"));
            }
            lim
        }
    };
    let int = |v: &Option<Spanned<i64>>,
               key: &str,
               lo: i64,
               hi: i64,
               default: usize|
     -> Result<usize, Error> {
        match v {
            None => Ok(default),
            Some(s) if (lo..=hi).contains(s.get_ref()) => Ok(*s.get_ref() as usize),
            Some(s) => Err(cx.at(
                s,
                key,
                format!("must be between {lo} and {hi}, got {}", s.get_ref()),
            )),
        }
    };
    let prefix = match &p.prefix {
        None => default_prefix,
        Some(s)
            if !s.get_ref().is_empty()
                && s.get_ref()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) =>
        {
            s.get_ref().clone()
        }
        Some(s) => {
            return Err(cx.at(
                s,
                "plot.prefix",
                "must be a non-empty file-name prefix of letters, digits, '-' or '_'",
            ));
        }
    };
    Ok(PlotSpec {
        lim,
        grid: int(&p.grid, "plot.grid", 8, 2048, 128)?,
        rows: int(&p.rows, "plot.rows", 1, 20, 5)?,
        cols: int(&p.cols, "plot.cols", 1, 20, 4)?,
        prefix,
    })
}
