//! Stage 3 of 3: every value checked once, against its range and the [`limits`](super::limits);
//! the result is an [`Experiment`] that the engine runs without further checks.

use std::ops::Range;
use std::path::Path;

use kl_dist::{Mixture, Mvn};
use kl_grad::Estimator;
use toml::Spanned;

use super::limits::{
    MAX_COMPONENTS, MAX_CSV_BYTES, MAX_DIM, MAX_ITERS, MAX_STEP_WORK, MAX_TOTAL_WORK, MAX_VALUES,
};
use super::locate::{Ctx, toml_error};
use super::schema::*;
use super::{
    DEFAULT_N_SAMPLES, DiagnosticsSpec, Experiment, Family, Files, InitSpec, LearningRate,
    LogisticSpec, ObjectiveKind, ObjectiveSpec, OptimizerSpec, PlotSpec, Stopping, TargetSpec,
};
use crate::error::{Error, quote};

/// The whole file.
pub(super) fn experiment(text: &str, path: &Path, files: &dyn Files) -> Result<Experiment, Error> {
    let cx = Ctx { path, text };
    let raw: RawExperiment = toml::from_str(text).map_err(|e| toml_error(&cx, &e))?;

    let name = raw.name.get_ref().clone();
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || name.starts_with('.')
    {
        return Err(cx.at(
            &raw.name,
            "name",
            format!(
                "must be a folder name of 1 to {MAX_NAME_BYTES} letters, digits, '-', '_' or '.', \
                 not starting with '.'"
            ),
        ));
    }
    let seed = seed(&cx, &raw.seed)?;
    let target = target(&cx, &raw.target, files)?;
    let family = match &raw.model {
        None => Family::FullRank,
        Some(m) => match m.get_ref().family.get_ref().as_str() {
            "full-rank" => Family::FullRank,
            "mean-field" => Family::MeanField,
            other => {
                return Err(cx.at(
                    &m.get_ref().family,
                    "model.family",
                    format!(
                        "unknown family \"{}\": expected \"full-rank\" or \"mean-field\"",
                        quote(other)
                    ),
                ));
            }
        },
    };
    let init = init(&cx, &raw.init, &target, family)?;
    let (objective, vi_iters) = objective(&cx, &raw.objective, &target, family)?;
    let (optimizer, n_iters, stopping) = match (vi_iters, &raw.optimizer) {
        (Some(_), Some(o)) => {
            return Err(cx.at(
                o,
                "optimizer",
                format!(
                    "is not used by objective.kind = \"{}\": it makes its own updates (set \
                     objective.n_iters); remove the [optimizer] section",
                    objective.kind.name()
                ),
            ));
        }
        // Pathfinder, GSM and BaM have no optimizer: the placeholder is never used.
        (Some(n), None) => (OptimizerSpec::adam(), n, None),
        (None, Some(o)) => optimizer(&cx, o)?,
        (None, None) => {
            return Err(cx.at(
                &raw.objective.get_ref().kind,
                "optimizer",
                format!(
                    "objective.kind = \"{}\" needs an [optimizer] section (kind, \
                     learning_rate, n_iters)",
                    objective.kind.name()
                ),
            ));
        }
    };
    let diagnostics = diagnostics(&cx, raw.diagnostics.as_ref(), target.dim())?;
    check_work(
        &cx,
        &raw,
        &target,
        &objective,
        family,
        &optimizer,
        n_iters,
        &diagnostics,
    )?;
    let plot = plot(&cx, raw.plot.as_ref().map(Spanned::get_ref), &name)?;
    Ok(Experiment {
        path: path.to_path_buf(),
        name,
        seed,
        target,
        family,
        init,
        objective,
        optimizer,
        n_iters,
        stopping,
        diagnostics,
        plot,
    })
}

/// The largest dimension of the notebook's random Gaussian: a lower triangle of N(0, 1) entries has
/// a condition number growing like 2ᵈ, so beyond this its covariance is numerically singular for
/// many seeds.
pub const MAX_RANDOM_MVN_DIM: usize = 8;

/// The longest experiment name: it names a folder and, with suffixes such as `_kl_curves.png`,
/// files — well inside the 255-byte file-name limit of every common file system.
pub const MAX_NAME_BYTES: usize = 200;

fn seed(cx: &Ctx, s: &Spanned<RawSeed>) -> Result<u64, Error> {
    match s.get_ref() {
        RawSeed::Int(v) => u64::try_from(*v).map_err(|_| {
            cx.at(
                s,
                "seed",
                format!("must be ≥ 0, got {v} (seeds ≥ 2⁶³ may be given as a string)"),
            )
        }),
        RawSeed::TooBig(v) => Err(cx.at(
            s,
            "seed",
            format!(
                "{v} is beyond TOML's integers (signed 64-bit): write seeds ≥ 2⁶³ as a string, \
                 seed = \"{v}\""
            ),
        )),
        RawSeed::Text(t) => t.trim().parse::<u64>().map_err(|_| {
            cx.at(
                s,
                "seed",
                format!(
                    "\"{}\" is not an integer in 0..=18446744073709551615",
                    quote(t)
                ),
            )
        }),
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
fn square(
    cx: &Ctx,
    rows: &[Spanned<Vec<Num>>],
    span: Range<usize>,
    key: &str,
    d: usize,
) -> Result<Vec<f64>, Error> {
    if rows.len() != d {
        return Err(cx.err(
            Some(span),
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

fn square_mat(cx: &Ctx, m: &SMat, key: &str, d: usize) -> Result<Vec<f64>, Error> {
    square(cx, m.get_ref(), m.span(), key, d)
}

fn span<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
    v.as_ref().map(Spanned::span)
}

/// Refuses the first key present in `present` that `kind` does not use.
fn only(
    cx: &Ctx,
    kind: &str,
    section: &str,
    present: &[(&str, Option<Range<usize>>)],
    allowed: &[&str],
) -> Result<(), Error> {
    for (key, span) in present {
        if let Some(span) = span
            && !allowed.contains(key)
        {
            return Err(cx.err(
                Some(span.clone()),
                &format!("{section}.{key}"),
                format!("is not used by kind = \"{kind}\""),
            ));
        }
    }
    Ok(())
}

/// A required key of `kind`.
fn need<'a, T>(
    cx: &Ctx,
    v: &'a Option<Spanned<T>>,
    kind: &SStr,
    section: &str,
    key: &str,
) -> Result<&'a Spanned<T>, Error> {
    v.as_ref().ok_or_else(|| {
        cx.at(
            kind,
            &format!("{section}.{key}"),
            format!("kind = \"{}\" needs `{key}`", kind.get_ref()),
        )
    })
}

fn positive(cx: &Ctx, v: &SNum, key: &str) -> Result<f64, Error> {
    let x = v.get_ref().0;
    if !(x > 0.0 && x.is_finite()) {
        return Err(cx.at(v, key, format!("must be a finite number > 0, got {x}")));
    }
    Ok(x)
}

fn finite(cx: &Ctx, v: &SNum, key: &str) -> Result<f64, Error> {
    let x = v.get_ref().0;
    if !x.is_finite() {
        return Err(cx.at(v, key, format!("must be a finite number, got {x}")));
    }
    Ok(x)
}

fn int_in(cx: &Ctx, v: &SInt, key: &str, lo: i64, hi: i64) -> Result<usize, Error> {
    let x = *v.get_ref();
    if !(lo..=hi).contains(&x) {
        return Err(cx.at(v, key, format!("must be between {lo} and {hi}, got {x}")));
    }
    Ok(x as usize)
}

fn dim(cx: &Ctx, v: &SInt, key: &str, lo: i64) -> Result<usize, Error> {
    int_in(cx, v, key, lo, MAX_DIM as i64)
}

fn unit_interval(cx: &Ctx, v: &Option<SNum>, key: &str, default: f64) -> Result<f64, Error> {
    let Some(v) = v else { return Ok(default) };
    let x = v.get_ref().0;
    if !(0.0..1.0).contains(&x) {
        return Err(cx.at(v, key, format!("must be in [0, 1), got {x}")));
    }
    Ok(x)
}

const TARGET_KINDS: &str = "\"mvn\", \"mixture\", \"random-mvn\", \"samples\", \"banana\", \
                            \"funnel\", \"student-t\", \"ring\" or \"logistic-regression\"";

fn target(cx: &Ctx, t: &Spanned<RawTarget>, files: &dyn Files) -> Result<TargetSpec, Error> {
    let t = t.get_ref();
    let kind = t.kind.get_ref().as_str();
    let present = [
        ("mean", span(&t.mean)),
        ("cov", span(&t.cov)),
        ("weights", span(&t.weights)),
        (
            "components",
            t.components
                .as_ref()
                .and_then(|c| c.first().map(Spanned::span)),
        ),
        ("dim", span(&t.dim)),
        ("shift", span(&t.shift)),
        ("path", span(&t.path)),
        ("scale", span(&t.scale)),
        ("curvature", span(&t.curvature)),
        ("df", span(&t.df)),
        ("radius", span(&t.radius)),
        ("width", span(&t.width)),
        ("label", span(&t.label)),
        ("prior_scale", span(&t.prior_scale)),
        ("intercept", span(&t.intercept)),
        ("standardize", span(&t.standardize)),
    ];
    let allowed: &[&str] = match kind {
        "mvn" => &["mean", "cov"],
        "mixture" => &["weights", "components"],
        "random-mvn" => &["dim", "shift"],
        "samples" => &["path"],
        "banana" => &["scale", "curvature"],
        "funnel" => &["dim", "scale"],
        "student-t" => &["df", "mean", "scale"],
        "ring" => &["dim", "radius", "width"],
        "logistic-regression" => &["path", "label", "prior_scale", "intercept", "standardize"],
        other => {
            return Err(cx.at(
                &t.kind,
                "target.kind",
                format!("unknown kind \"{}\": expected {TARGET_KINDS}", quote(other)),
            ));
        }
    };
    only(cx, kind, "target", &present, allowed)?;
    let scale_num = |key: &str| -> Result<Option<f64>, Error> {
        match &t.scale {
            None => Ok(None),
            Some(s) => match s.get_ref() {
                RawScale::Num(n) if n.0 > 0.0 && n.0.is_finite() => Ok(Some(n.0)),
                RawScale::Num(n) => {
                    Err(cx.at(s, key, format!("must be a finite number > 0, got {}", n.0)))
                }
                RawScale::Mat(_) => Err(cx.at(s, key, "must be a number here")),
            },
        }
    };
    match kind {
        "mvn" => {
            let mean = need(cx, &t.mean, &t.kind, "target", "mean")?;
            let cov = need(cx, &t.cov, &t.kind, "target", "cov")?;
            mvn(cx, mean, cov, "target.mean", "target.cov").map(TargetSpec::Mvn)
        }
        "mixture" => {
            let weights = need(cx, &t.weights, &t.kind, "target", "weights")?;
            let Some(components) = &t.components else {
                return Err(cx.at(
                    &t.kind,
                    "target.components",
                    "kind = \"mixture\" needs `components`",
                ));
            };
            if components.len() > MAX_COMPONENTS {
                return Err(cx.at(
                    weights,
                    "target.components",
                    format!(
                        "{} components: more than the limit of {MAX_COMPONENTS}",
                        components.len()
                    ),
                ));
            }
            let w = nums(weights);
            if w.len() != components.len() {
                return Err(cx.at(
                    weights,
                    "target.weights",
                    format!("{} weights for {} components", w.len(), components.len()),
                ));
            }
            let mut comps = Vec::with_capacity(components.len());
            for (k, c) in components.iter().enumerate() {
                let c = c.get_ref();
                let m = mvn(
                    cx,
                    &c.mean,
                    &c.cov,
                    &format!("target.components[{k}].mean"),
                    &format!("target.components[{k}].cov"),
                )?;
                if let Some(first) = comps.first().map(Mvn::dim)
                    && m.dim() != first
                {
                    return Err(cx.at(
                        &c.mean,
                        &format!("target.components[{k}].mean"),
                        format!("has dimension {}, component 0 has {first}", m.dim()),
                    ));
                }
                comps.push(m);
            }
            Mixture::new(&w, comps)
                .map(TargetSpec::Mixture)
                .map_err(|e| cx.at(weights, "target.weights", e.to_string()))
        }
        "random-mvn" => {
            let d_key = need(cx, &t.dim, &t.kind, "target", "dim")?;
            let d = int_in(cx, d_key, "target.dim", 1, MAX_RANDOM_MVN_DIM as i64).map_err(|_| {
                cx.at(
                    d_key,
                    "target.dim",
                    format!(
                        "must be between 1 and {MAX_RANDOM_MVN_DIM}, got {}: the notebook's random \
                         factor (a triangle of N(0, 1) entries) is ill-conditioned beyond that, its \
                         covariance numerically singular; give `mean` and `cov` (kind = \"mvn\")",
                        d_key.get_ref()
                    ),
                )
            })?;
            let shift = match &t.shift {
                Some(s) => finite(cx, s, "target.shift")?,
                None => 0.0,
            };
            Ok(TargetSpec::RandomMvn { dim: d, shift })
        }
        "samples" => {
            let p = need(cx, &t.path, &t.kind, "target", "path")?;
            let (csv, table) = read_table(cx, p, "target.path", "samples file", files)?;
            // The CSV parser checked that every row (and the header) has n_cols fields.
            if table.n_cols > MAX_DIM {
                return Err(cx.at(
                    p,
                    "target.path",
                    format!(
                        "the samples have {} columns: more than the limit of {MAX_DIM} dimensions",
                        table.n_cols
                    ),
                ));
            }
            Ok(TargetSpec::Samples {
                path: csv,
                dim: table.n_cols,
                data: table.data,
            })
        }
        "banana" => {
            let scale = scale_num("target.scale")?.unwrap_or(1.0);
            let curvature = match &t.curvature {
                Some(c) => finite(cx, c, "target.curvature")?,
                None => 1.0,
            };
            kl_dist::Banana::new(scale, curvature)
                .map(TargetSpec::Banana)
                .map_err(|e| cx.at(&t.kind, "target", e.to_string()))
        }
        "funnel" => {
            let d = match &t.dim {
                Some(d) => dim(cx, d, "target.dim", 2)?,
                None => 2,
            };
            let scale = scale_num("target.scale")?.unwrap_or(3.0);
            kl_dist::Funnel::new(d, scale)
                .map(TargetSpec::Funnel)
                .map_err(|e| cx.at(&t.kind, "target", e.to_string()))
        }
        "student-t" => {
            let df = positive(cx, need(cx, &t.df, &t.kind, "target", "df")?, "target.df")?;
            let mean = finite_vec(
                cx,
                need(cx, &t.mean, &t.kind, "target", "mean")?,
                "target.mean",
            )?;
            if mean.is_empty() || mean.len() > MAX_DIM {
                return Err(cx.err(
                    span(&t.mean),
                    "target.mean",
                    format!("must have 1 to {MAX_DIM} entries, has {}", mean.len()),
                ));
            }
            let s = need(cx, &t.scale, &t.kind, "target", "scale")?;
            let RawScale::Mat(rows) = s.get_ref() else {
                return Err(cx.at(
                    s,
                    "target.scale",
                    "must be the shape matrix, as rows (like `cov`)",
                ));
            };
            let d = mean.len();
            if rows.len() != d || rows.iter().any(|r| r.len() != d) {
                return Err(cx.at(
                    s,
                    "target.scale",
                    format!("must be {d} × {d} (the dimension of the mean), as rows"),
                ));
            }
            let scale: Vec<f64> = rows.iter().flatten().map(|x| x.0).collect();
            if let Some(k) = scale.iter().position(|x| !x.is_finite()) {
                return Err(cx.at(
                    s,
                    "target.scale",
                    format!("entry [{}][{}] is not a finite number", k / d, k % d),
                ));
            }
            // The shape matrix must be a valid covariance: the normal's checks say where not.
            Mvn::new(&mean, &scale).map_err(|e| cx.at(s, "target.scale", e.to_string()))?;
            kl_dist::StudentT::new(df, &mean, &scale)
                .map(TargetSpec::StudentT)
                .map_err(|e| cx.at(s, "target.scale", e.to_string()))
        }
        "ring" => {
            let d = match &t.dim {
                Some(d) => dim(cx, d, "target.dim", 1)?,
                None => 2,
            };
            let radius = match &t.radius {
                Some(r) => {
                    let r0 = finite(cx, r, "target.radius")?;
                    if r0 < 0.0 {
                        return Err(cx.at(r, "target.radius", format!("must be ≥ 0, got {r0}")));
                    }
                    r0
                }
                None => 2.0,
            };
            let width = match &t.width {
                Some(w) => positive(cx, w, "target.width")?,
                None => 0.3,
            };
            kl_dist::Ring::with_dim(d, radius, width)
                .map(TargetSpec::Ring)
                .map_err(|e| cx.at(&t.kind, "target", e.to_string()))
        }
        "logistic-regression" => logistic(cx, t, files).map(TargetSpec::LogisticRegression),
        _ => unreachable!("kinds are matched above"),
    }
}

/// Reads and parses a CSV that the experiment names, relative to the experiment file.
fn read_table(
    cx: &Ctx,
    p: &SStr,
    key: &str,
    what: &'static str,
    files: &dyn Files,
) -> Result<(std::path::PathBuf, super::Table), Error> {
    if p.get_ref().is_empty() {
        return Err(cx.at(p, key, "is empty"));
    }
    let csv = cx.path.parent().unwrap_or(Path::new(".")).join(p.get_ref());
    let bytes = files.read(&csv, what, MAX_CSV_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Input {
        path: csv.clone(),
        message: format!(
            "the {what} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let table = super::parse_table(&text, &csv)?;
    Ok((csv, table))
}

fn logistic(cx: &Ctx, t: &RawTarget, files: &dyn Files) -> Result<LogisticSpec, Error> {
    let p = need(cx, &t.path, &t.kind, "target", "path")?;
    let label_key = need(cx, &t.label, &t.kind, "target", "label")?;
    let label = label_key.get_ref().clone();
    let (path, table) = read_table(cx, p, "target.path", "data file", files)?;
    let Some(columns) = table.columns.clone() else {
        return Err(Error::Csv {
            path,
            line: Some(1),
            message: "needs a header line naming the columns (the label column is found by name)"
                .into(),
        });
    };
    let Some(li) = columns.iter().position(|c| *c == label) else {
        return Err(cx.at(
            label_key,
            "target.label",
            format!(
                "no column \"{}\" in {} (columns: {})",
                quote(&label),
                path.display(),
                quote(&columns.join(", "))
            ),
        ));
    };
    let k = table.n_cols;
    let n = table.n_rows();
    let mut x = Vec::with_capacity(n * (k - 1));
    let mut y = Vec::with_capacity(n);
    for (r, row) in table.data.chunks_exact(k).enumerate() {
        let v = row[li];
        if v != 0.0 && v != 1.0 {
            return Err(Error::Csv {
                path,
                // Data rows start after the header, at line 2 (blank lines aside).
                line: None,
                message: format!(
                    "the label column \"{}\" must be 0 or 1: data row {} has {v}",
                    quote(&label),
                    r + 1
                ),
            });
        }
        y.push(v);
        x.extend(
            row.iter()
                .enumerate()
                .filter(|(j, _)| *j != li)
                .map(|(_, v)| *v),
        );
    }
    let features: Vec<String> = columns
        .into_iter()
        .enumerate()
        .filter(|(j, _)| *j != li)
        .map(|(_, c)| c)
        .collect();
    let intercept = t.intercept.as_ref().is_none_or(|b| *b.get_ref());
    if features.is_empty() && !intercept {
        return Err(cx.at(
            label_key,
            "target.label",
            "no feature columns and no intercept: nothing to fit",
        ));
    }
    let prior_scale = match &t.prior_scale {
        Some(s) => positive(cx, s, "target.prior_scale")?,
        None => 2.5,
    };
    let standardize = t.standardize.as_ref().is_none_or(|b| *b.get_ref());
    let density = kl_dist::LogisticRegression::new(
        &x,
        features.len(),
        &y,
        kl_dist::LogisticOptions {
            prior_scale,
            intercept,
            standardize,
        },
    )
    .map_err(|e| cx.at(label_key, "target", e.to_string()))?;
    Ok(LogisticSpec {
        path,
        label,
        features,
        x,
        y,
        prior_scale,
        intercept,
        standardize,
        density,
    })
}

fn mvn(cx: &Ctx, mean: &SVec, cov: &SMat, mean_key: &str, cov_key: &str) -> Result<Mvn, Error> {
    let m = finite_vec(cx, mean, mean_key)?;
    if m.is_empty() {
        return Err(cx.at(mean, mean_key, "is empty"));
    }
    if m.len() > MAX_DIM {
        return Err(cx.at(
            mean,
            mean_key,
            format!(
                "has {} entries: more than the limit of {MAX_DIM} dimensions",
                m.len()
            ),
        ));
    }
    let c = square_mat(cx, cov, cov_key, m.len())?;
    Mvn::new(&m, &c).map_err(|e| cx.at(cov, cov_key, e.to_string()))
}

fn init(
    cx: &Ctx,
    init: &Spanned<RawInit>,
    target: &TargetSpec,
    family: Family,
) -> Result<InitSpec, Error> {
    let dim = target.dim();
    let i = init.get_ref();
    let random = i.random.as_ref().is_some_and(|r| *r.get_ref());
    let given = |key: &str, v: Option<Range<usize>>| -> Result<(), Error> {
        match (random, v) {
            (true, Some(s)) => Err(cx.err(
                Some(s),
                &format!("init.{key}"),
                "give either `random = true` or the parameters, not both",
            )),
            _ => Ok(()),
        }
    };
    given("mean", span(&i.mean))?;
    given("raw", span(&i.raw))?;
    given("sd", span(&i.sd))?;
    // The computed starts: the Laplace approximation, Pathfinder's Gaussian. One at most, and
    // no parameters beside it.
    let laplace = i.laplace.as_ref().filter(|l| *l.get_ref());
    let pathfinder = i.pathfinder.as_ref().filter(|p| *p.get_ref());
    if random
        && let Some((flag, key)) = laplace
            .map(|l| (l, "init.laplace"))
            .or(pathfinder.map(|p| (p, "init.pathfinder")))
    {
        return Err(cx.at(
            flag,
            key,
            "give either `random = true` or this start, not both",
        ));
    }
    if random {
        return Ok(InitSpec::Random);
    }
    if let (Some(_), Some(p)) = (laplace, pathfinder) {
        return Err(cx.at(
            p,
            "init.pathfinder",
            "give either `laplace = true` or `pathfinder = true`, not both",
        ));
    }
    if let Some((flag, key)) = laplace
        .map(|l| (l, "laplace"))
        .or(pathfinder.map(|p| (p, "pathfinder")))
    {
        if key == "laplace" && !matches!(target, TargetSpec::LogisticRegression(_)) {
            return Err(cx.at(
                flag,
                "init.laplace",
                "the Laplace start is for kind = \"logistic-regression\" targets",
            ));
        }
        for (param, s) in [
            ("mean", span(&i.mean)),
            ("raw", span(&i.raw)),
            ("sd", span(&i.sd)),
        ] {
            if let Some(s) = s {
                return Err(cx.err(
                    Some(s),
                    &format!("init.{param}"),
                    format!("give either `{key} = true` or the parameters, not both"),
                ));
            }
        }
        return Ok(if key == "laplace" {
            InitSpec::Laplace
        } else {
            InitSpec::Pathfinder(kl_fit::PathfinderOptions::default())
        });
    }
    let (needed, other, other_span) = match family {
        Family::FullRank if i.raw.is_some() => ("`mean` and `raw` (or `sd`)", "sd", span(&i.sd)),
        Family::FullRank => ("`mean` and `raw` (or `sd`)", "raw", None),
        Family::MeanField => ("`mean` and `sd`", "raw", span(&i.raw)),
    };
    if let Some(s) = other_span {
        return Err(cx.err(
            Some(s),
            &format!("init.{other}"),
            format!(
                "is not used by model.family = \"{}\" (it needs {needed})",
                family.name()
            ),
        ));
    }
    let Some(mean) = &i.mean else {
        return Err(cx.at(init, "init", format!("needs {needed}, or `random = true`")));
    };
    let m = finite_vec(cx, mean, "init.mean")?;
    if m.len() != dim {
        return Err(cx.at(
            mean,
            "init.mean",
            format!(
                "has {} entries but the target (kind = \"{}\") has dimension {dim}",
                m.len(),
                target.kind()
            ),
        ));
    }
    match family {
        Family::FullRank if i.raw.is_some() || i.sd.is_none() => {
            let Some(raw) = &i.raw else {
                return Err(cx.at(init, "init.raw", format!("needs {needed}")));
            };
            let r = square_mat(cx, raw, "init.raw", dim)?;
            Ok(InitSpec::Explicit { mean: m, raw: r })
        }
        Family::FullRank => {
            // `sd` for a full-rank model: the diagonal factor L = diag(σ).
            let sd = positive_vec(cx, i.sd.as_ref().expect("checked above"), dim)?;
            let mut raw = vec![0.0; dim * dim];
            for (k, s) in sd.iter().enumerate() {
                raw[k * dim + k] = *s;
            }
            Ok(InitSpec::Explicit { mean: m, raw })
        }
        Family::MeanField => {
            let Some(sd) = &i.sd else {
                return Err(cx.at(init, "init.sd", format!("needs {needed}")));
            };
            let s = positive_vec(cx, sd, dim)?;
            Ok(InitSpec::MeanField { mean: m, sd: s })
        }
    }
}

/// `init.sd`: `dim` finite numbers > 0.
fn positive_vec(cx: &Ctx, sd: &SVec, dim: usize) -> Result<Vec<f64>, Error> {
    let s = finite_vec(cx, sd, "init.sd")?;
    if s.len() != dim {
        return Err(cx.at(
            sd,
            "init.sd",
            format!("has {} entries, expected {dim}", s.len()),
        ));
    }
    // Finite already (finite_vec): only the sign is left to check.
    if let Some(j) = s.iter().position(|v| *v <= 0.0) {
        return Err(cx.at(sd, "init.sd", format!("entry {j} is {}, not > 0", s[j])));
    }
    Ok(s)
}

const OBJECTIVE_KINDS: &str = "\"forward-kl-exact\", \"forward-kl-samples\", \"forward-kl-is\", \
                               \"reverse-kl\", \"reverse-kl-exact\", \"renyi\", \"pathfinder\", \
                               \"gsm\" or \"bam\"";

/// The objective and, for Pathfinder, GSM and BaM (which take their iterations from
/// `objective.n_iters`), the number of iterations.
fn objective(
    cx: &Ctx,
    o: &Spanned<RawObjective>,
    target: &TargetSpec,
    family: Family,
) -> Result<(ObjectiveSpec, Option<usize>), Error> {
    let r = o.get_ref();
    let kind_name = r.kind.get_ref().as_str();
    let kind_err = |message: String| Err(cx.at(&r.kind, "objective.kind", message));
    match kind_name {
        "forward-kl-exact" | "reverse-kl-exact" | "forward-kl-samples" | "forward-kl-is"
        | "reverse-kl" | "renyi" | "pathfinder" | "gsm" | "bam" => {}
        other => {
            return kind_err(format!(
                "unknown kind \"{}\": expected {OBJECTIVE_KINDS}",
                quote(other)
            ));
        }
    }
    if kind_name.ends_with("-exact") && !target.is_gaussian() {
        return kind_err(format!(
            "\"{kind_name}\" needs a Gaussian target (kind = \"mvn\" or \"random-mvn\"), got \
             kind = \"{}\"",
            target.kind()
        ));
    }
    if !target.has_density() && kind_name != "forward-kl-samples" {
        return kind_err(format!(
            "a samples target has no density: only \"forward-kl-samples\" applies, got \
             \"{kind_name}\""
        ));
    }
    if kind_name == "forward-kl-samples" && !target.can_sample() {
        return kind_err(format!(
            "kind = \"{}\" has no exact sampler: use \"forward-kl-is\" (importance sampling \
             from q) for the forward KL",
            target.kind()
        ));
    }
    let estimator = match (&r.estimator, kind_name) {
        (None, _) => Estimator::Total,
        (Some(e), "reverse-kl") => match e.get_ref().as_str() {
            "total" => Estimator::Total,
            "stl" => Estimator::Stl,
            other => {
                return Err(cx.at(
                    e,
                    "objective.estimator",
                    format!(
                        "unknown estimator \"{}\": expected \"total\" or \"stl\"",
                        quote(other)
                    ),
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
    let alpha = match (&r.alpha, kind_name) {
        (Some(a), "renyi") => {
            let v = finite(cx, a, "objective.alpha")?;
            if v == 1.0 {
                return Err(cx.at(
                    a,
                    "objective.alpha",
                    "α = 1 is the reverse KL: use kind = \"reverse-kl\"",
                ));
            }
            v
        }
        (None, "renyi") => {
            return Err(cx.at(&r.kind, "objective.alpha", "kind = \"renyi\" needs `alpha`"));
        }
        (Some(a), kind) => {
            return Err(cx.at(
                a,
                "objective.alpha",
                format!("is not used by kind = \"{kind}\" (only \"renyi\" has it)"),
            ));
        }
        (None, _) => 0.0,
    };
    let d = target.dim();
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
            let v = int_in(cx, n, "objective.n_samples", 1, MAX_VALUES as i64)?;
            if v.saturating_mul(d) > MAX_VALUES {
                return Err(cx.at(
                    n,
                    "objective.n_samples",
                    format!(
                        "{v} samples × {d} dimensions = {} numbers: more than the limit of \
                         {MAX_VALUES}",
                        v.saturating_mul(d)
                    ),
                ));
            }
            v
        }
        (None, TargetSpec::Samples { data, dim, .. }) => data.len() / dim,
        (None, _) => DEFAULT_N_SAMPLES.min(MAX_VALUES / d.max(1)).max(1),
    };
    let (kind, vi_iters) = match kind_name {
        "forward-kl-exact" => (ObjectiveKind::ForwardKlExact, None),
        "forward-kl-samples" => (ObjectiveKind::ForwardKlSamples, None),
        "forward-kl-is" => (ObjectiveKind::ForwardKlIs, None),
        "reverse-kl" => (ObjectiveKind::ReverseKl(estimator), None),
        "renyi" => (ObjectiveKind::Renyi { alpha }, None),
        "pathfinder" | "gsm" | "bam" => {
            let (kind, n) = vi_algorithm(cx, r, kind_name, family, d)?;
            (kind, Some(n))
        }
        _ => (ObjectiveKind::ReverseKlExact, None),
    };
    if vi_iters.is_none() {
        only(cx, kind_name, "objective", &vi_keys(r), &[])?;
    }
    Ok((ObjectiveSpec { kind, n_samples }, vi_iters))
}

/// The keys of Pathfinder, GSM and BaM in `[objective]`, with their spans.
fn vi_keys(r: &RawObjective) -> [(&'static str, Option<Range<usize>>); 11] {
    [
        ("n_iters", span(&r.n_iters)),
        ("batch_size", span(&r.batch_size)),
        ("schedule", span(&r.schedule)),
        ("lambda", span(&r.lambda)),
        ("lambda_scale", span(&r.lambda_scale)),
        ("history", span(&r.history)),
        ("elbo_draws", span(&r.elbo_draws)),
        ("n_paths", span(&r.n_paths)),
        ("draws_per_path", span(&r.draws_per_path)),
        ("n_draws", span(&r.n_draws)),
        ("init_radius", span(&r.init_radius)),
    ]
}

/// The most paths of a Pathfinder fit, and the longest L-BFGS history.
pub const MAX_PATHS: usize = 64;

/// `[objective]` of Pathfinder, GSM or BaM: the kind with its settings, and `n_iters`.
fn vi_algorithm(
    cx: &Ctx,
    r: &RawObjective,
    kind: &str,
    family: Family,
    d: usize,
) -> Result<(ObjectiveKind, usize), Error> {
    if family != Family::FullRank {
        return Err(cx.at(
            &r.kind,
            "model.family",
            format!(
                "kind = \"{kind}\" fits a full-rank Gaussian: remove model.family = \"mean-field\""
            ),
        ));
    }
    let allowed: &[&str] = match kind {
        "gsm" => &["n_iters", "batch_size"],
        "bam" => &[
            "n_iters",
            "batch_size",
            "schedule",
            "lambda",
            "lambda_scale",
        ],
        _ => &[
            "n_iters",
            "history",
            "elbo_draws",
            "n_paths",
            "draws_per_path",
            "n_draws",
            "init_radius",
        ],
    };
    only(cx, kind, "objective", &vi_keys(r), allowed)?;
    let n_iters = int_in(
        cx,
        need(cx, &r.n_iters, &r.kind, "objective", "n_iters")?,
        "objective.n_iters",
        1,
        MAX_ITERS as i64,
    )?;
    // A count of draws (of d numbers each) within the limit on stored numbers.
    let draws = |v: &Option<SInt>, key: &str, default: usize, per: usize| -> Result<usize, Error> {
        let Some(v) = v else { return Ok(default) };
        let n = int_in(cx, v, key, 1, MAX_VALUES as i64)?;
        if n.saturating_mul(d).saturating_mul(per) > MAX_VALUES {
            return Err(cx.at(
                v,
                key,
                format!("{n} draws × {d} dimensions: more than the limit of {MAX_VALUES} numbers"),
            ));
        }
        Ok(n)
    };
    let kind = match kind {
        "gsm" => ObjectiveKind::Gsm {
            batch_size: draws(&r.batch_size, "objective.batch_size", 2, 1)?,
        },
        "bam" => {
            let batch_size = draws(&r.batch_size, "objective.batch_size", 10, 1)?;
            // λ ≤ 0 would make Σ' of Σ' U Σ' + Σ' = V indefinite: refused here.
            let lambda_key = |v: &SNum, key: &str| -> Result<f64, Error> {
                let x = v.get_ref().0;
                if !(x > 0.0 && x.is_finite()) {
                    return Err(cx.at(
                        v,
                        key,
                        format!(
                            "must be a finite number > 0, got {x} (λ ≤ 0 makes BaM's Σ' \
                             indefinite)"
                        ),
                    ));
                }
                Ok(x)
            };
            let schedule = match r.schedule.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("decaying") => {
                    if let Some(l) = &r.lambda {
                        return Err(cx.at(
                            l,
                            "objective.lambda",
                            "is the constant schedule's λ: set schedule = \"constant\", or \
                             lambda_scale for the decaying λₜ = lambda_scale · B d / (t + 1)",
                        ));
                    }
                    kl_fit::Schedule::Decaying {
                        scale: match &r.lambda_scale {
                            Some(v) => lambda_key(v, "objective.lambda_scale")?,
                            None => 1.0,
                        },
                    }
                }
                Some("constant") => {
                    if let Some(l) = &r.lambda_scale {
                        return Err(cx.at(
                            l,
                            "objective.lambda_scale",
                            "is the decaying schedule's factor: schedule = \"constant\" takes \
                             `lambda`",
                        ));
                    }
                    let l = need(cx, &r.lambda, &r.kind, "objective", "lambda")?;
                    kl_fit::Schedule::Constant(lambda_key(l, "objective.lambda")?)
                }
                Some(other) => {
                    return Err(cx.at(
                        r.schedule.as_ref().expect("matched Some"),
                        "objective.schedule",
                        format!(
                            "unknown schedule \"{}\": expected \"decaying\" or \"constant\"",
                            quote(other)
                        ),
                    ));
                }
            };
            ObjectiveKind::Bam {
                batch_size,
                schedule,
            }
        }
        _ => {
            let default = kl_fit::PathfinderOptions::default();
            let count = |v: &Option<SInt>, key: &str, default: usize, hi: usize| match v {
                Some(v) => int_in(cx, v, key, 1, hi as i64),
                None => Ok(default),
            };
            let n_paths = count(&r.n_paths, "objective.n_paths", default.n_paths, MAX_PATHS)?;
            ObjectiveKind::Pathfinder(kl_fit::PathfinderOptions {
                history: count(&r.history, "objective.history", default.history, MAX_DIM)?,
                elbo_draws: draws(&r.elbo_draws, "objective.elbo_draws", default.elbo_draws, 1)?,
                n_paths,
                draws_per_path: draws(
                    &r.draws_per_path,
                    "objective.draws_per_path",
                    default
                        .draws_per_path
                        .min(MAX_VALUES / (d * n_paths).max(1))
                        .max(1),
                    n_paths,
                )?,
                n_draws: draws(
                    &r.n_draws,
                    "objective.n_draws",
                    default.n_draws.min(MAX_VALUES / d.max(1)).max(1),
                    1,
                )?,
                init_radius: match &r.init_radius {
                    Some(v) => {
                        let x = finite(cx, v, "objective.init_radius")?;
                        if x < 0.0 {
                            return Err(cx.at(
                                v,
                                "objective.init_radius",
                                format!("must be ≥ 0, got {x}"),
                            ));
                        }
                        x
                    }
                    None => default.init_radius,
                },
            })
        }
    };
    Ok((kind, n_iters))
}

fn optimizer(
    cx: &Ctx,
    o: &Spanned<RawOptimizer>,
) -> Result<(OptimizerSpec, usize, Option<Stopping>), Error> {
    let o = o.get_ref();
    let learning_rate = match o.learning_rate.get_ref() {
        RawRate::Num(x) if *x > 0.0 && x.is_finite() => LearningRate::Fixed(*x),
        RawRate::Num(x) => {
            return Err(cx.at(
                &o.learning_rate,
                "optimizer.learning_rate",
                format!("must be a finite number > 0 or \"auto\", got {x}"),
            ));
        }
        RawRate::Text(t) if t == "auto" => LearningRate::Auto,
        RawRate::Text(t) => {
            return Err(cx.at(
                &o.learning_rate,
                "optimizer.learning_rate",
                format!("must be a number or \"auto\", got \"{}\"", quote(t)),
            ));
        }
    };
    let n = int_in(cx, &o.n_iters, "optimizer.n_iters", 1, MAX_ITERS as i64)?;
    let kind = o.kind.get_ref().as_str();
    let present = [
        ("momentum", span(&o.momentum)),
        ("beta1", span(&o.beta1)),
        ("beta2", span(&o.beta2)),
        ("eps", span(&o.eps)),
    ];
    let spec = match kind {
        "sgd" => {
            only(cx, kind, "optimizer", &present, &["momentum"])?;
            OptimizerSpec::Sgd {
                learning_rate,
                momentum: unit_interval(cx, &o.momentum, "optimizer.momentum", 0.0)?,
            }
        }
        "adam" => {
            only(cx, kind, "optimizer", &present, &["beta1", "beta2", "eps"])?;
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
                format!(
                    "unknown kind \"{}\": expected \"sgd\" or \"adam\"",
                    quote(other)
                ),
            ));
        }
    };
    let stopping = match (&o.tol_rel_obj, &o.eval_every) {
        (None, None) => None,
        (None, Some(e)) => {
            return Err(cx.at(
                e,
                "optimizer.eval_every",
                "is the period of the stopping rule: set optimizer.tol_rel_obj too",
            ));
        }
        (Some(t), e) => Some(Stopping {
            tol_rel_obj: positive(cx, t, "optimizer.tol_rel_obj")?,
            eval_every: match e {
                Some(e) => int_in(cx, e, "optimizer.eval_every", 1, MAX_ITERS as i64)?,
                None => 100,
            },
        }),
    };
    Ok((spec, n, stopping))
}

fn diagnostics(
    cx: &Ctx,
    d: Option<&Spanned<RawDiagnostics>>,
    dim: usize,
) -> Result<DiagnosticsSpec, Error> {
    let default_draws = 4000.min(MAX_VALUES / dim.max(1)).max(1);
    let Some(d) = d else {
        return Ok(DiagnosticsSpec {
            n_draws: default_draws,
            every: None,
        });
    };
    let d = d.get_ref();
    let n_draws = match &d.n_draws {
        Some(n) => {
            let v = int_in(cx, n, "diagnostics.n_draws", 10, MAX_VALUES as i64)?;
            if v.saturating_mul(dim) > MAX_VALUES {
                return Err(cx.at(
                    n,
                    "diagnostics.n_draws",
                    format!(
                        "{v} draws × {dim} dimensions: more than the limit of {MAX_VALUES} numbers"
                    ),
                ));
            }
            v
        }
        None => default_draws,
    };
    let every = match &d.every {
        Some(e) => Some(int_in(cx, e, "diagnostics.every", 1, MAX_ITERS as i64)?),
        None => None,
    };
    Ok(DiagnosticsSpec { n_draws, every })
}

/// The work of one step and of the whole fit, against the limits: the steps, the `"auto"`
/// search's adaptation runs, the exact KL at every recorded state (at most
/// [`kl_fit::record_capacity`] of them: what the fit stores is bounded by
/// [`kl_fit::MAX_RECORD_VALUES`] whatever `n_iters` is) and the diagnostics.
#[allow(clippy::too_many_arguments)]
fn check_work(
    cx: &Ctx,
    raw: &RawExperiment,
    target: &TargetSpec,
    objective: &ObjectiveSpec,
    family: kl_grad::Family,
    optimizer: &super::OptimizerSpec,
    n_iters: usize,
    diagnostics: &DiagnosticsSpec,
) -> Result<(), Error> {
    let d = target.dim() as f64;
    let k = match target {
        TargetSpec::Mixture(m) => m.n_components() as f64,
        TargetSpec::LogisticRegression(l) => (l.y.len() as f64 / d).max(1.0),
        _ => 1.0,
    };
    let n = match objective.kind {
        ObjectiveKind::Gsm { batch_size } | ObjectiveKind::Bam { batch_size, .. } => {
            batch_size as f64
        }
        // Per L-BFGS iterate: K draws, on every path.
        ObjectiveKind::Pathfinder(p) => (p.elbo_draws * p.n_paths) as f64,
        kind if kind.is_deterministic() => 1.0,
        _ => objective.n_samples as f64,
    };
    let step = n * k * d * d + d * d * d;
    let key_span = raw.objective.get_ref().kind.span();
    if step > MAX_STEP_WORK {
        return Err(cx.err(
            Some(key_span),
            "objective",
            format!(
                "one step would take about {step:.1e} floating-point operations (n_samples × \
                 components × d²): more than the limit of {MAX_STEP_WORK:.0e}; use fewer \
                 samples or a smaller target"
            ),
        ));
    }
    let search = match optimizer.learning_rate() {
        _ if objective.kind.is_vi_algorithm() => 0.0,
        super::LearningRate::Auto => (kl_fit::AUTO_RATES.len() * kl_fit::ADAPT_ITERS) as f64,
        super::LearningRate::Fixed(_) => 0.0,
    };
    // Pathfinder's pooled draws, evaluated once.
    let pooled = match objective.kind {
        ObjectiveKind::Pathfinder(p) => (p.n_paths * p.draws_per_path) as f64 * k * d * d,
        _ => 0.0,
    };
    let recorded = kl_fit::record_capacity(family.n_params(target.dim())).min(n_iters + 1);
    let kl_eval = kl_fit::exact_kl::ZOO_Q_SAMPLES as f64 * k * d * d + d * d * d;
    let diagnosed = 1 + diagnostics
        .every
        .map_or(0, |e| recorded.min(n_iters / e + 1));
    let diag = diagnosed as f64 * diagnostics.n_draws as f64 * k * d * d;
    let total = step * (n_iters as f64 + 1.0 + search) + recorded as f64 * kl_eval + diag + pooled;
    if total > MAX_TOTAL_WORK {
        let (span, key) = match (&raw.optimizer, &raw.objective.get_ref().n_iters) {
            (Some(o), _) => (o.get_ref().n_iters.span(), "optimizer.n_iters"),
            (None, Some(n)) => (n.span(), "objective.n_iters"),
            (None, None) => (key_span.clone(), "objective"),
        };
        return Err(cx.err(
            Some(span),
            key,
            format!(
                "the fit would take about {total:.1e} floating-point operations ({n_iters} \
                 iterations × {step:.1e}, the step-size search, the exact KL at {recorded} \
                 recorded states and {diagnosed} diagnoses): more than the limit of \
                 {MAX_TOTAL_WORK:.0e}"
            ),
        ));
    }
    Ok(())
}

fn plot(cx: &Ctx, p: Option<&RawPlot>, name: &str) -> Result<PlotSpec, Error> {
    let default_prefix = name.replace('-', "_");
    let Some(p) = p else {
        return Ok(PlotSpec {
            lim: [-4.0, 4.0, -4.0, 4.0],
            grid: 128,
            rows: 5,
            cols: 4,
            prefix: default_prefix,
            standard: true,
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
            if !((lim[1] - lim[0]).is_finite() && (lim[3] - lim[2]).is_finite()) {
                return Err(cx.at(
                    l,
                    "plot.lim",
                    "the width or height overflows: keep the limits within ±1e300",
                ));
            }
            lim
        }
    };
    let int = |v: &Option<SInt>, key: &str, lo: i64, hi: i64, default: usize| match v {
        None => Ok(default),
        Some(s) => int_in(cx, s, key, lo, hi),
    };
    let prefix = match &p.prefix {
        None => default_prefix,
        Some(s)
            if !s.get_ref().is_empty()
                && s.get_ref().len() <= MAX_NAME_BYTES
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
                format!(
                    "must be a file-name prefix of 1 to {MAX_NAME_BYTES} letters, digits, '-' \
                     or '_'"
                ),
            ));
        }
    };
    Ok(PlotSpec {
        lim,
        grid: int(&p.grid, "plot.grid", 8, 2048, 128)?,
        rows: int(&p.rows, "plot.rows", 1, 20, 5)?,
        cols: int(&p.cols, "plot.cols", 1, 20, 4)?,
        prefix,
        standard: p.standard.as_ref().is_none_or(|b| *b.get_ref()),
    })
}
