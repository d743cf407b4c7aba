//! The lesson's figures (issue #13), each built from runs of the experiments of
//! `experiments/lesson/` (compiled in, run by the one engine):
//!
//! - `bishop_10_2.png` (Bishop 2006, Figure 10.2): a mean-field q fitted to a correlated Gaussian
//!   p, (a) by the reverse KL — too compact, σᵢ² = 1/Λᵢᵢ — and (b) by the forward KL — too broad,
//!   σᵢ² = Σᵢᵢ; p green, q red, the closed-form optimum dashed.
//! - `bishop_10_3.png` (Figure 10.3): a Gaussian q fitted to a bimodal p, (a) by the forward KL,
//!   covering both modes, (b) and (c) by the reverse KL from two starts, each locking onto a mode.
//! - `renyi_mean_field.png` (after Minka 2005, Figure 1): the mean-field fits to the correlated
//!   Gaussian for several Rényi orders α on one panel, as 2σ ellipses: α → 0 covers, α = 1 is the
//!   reverse KL, α > 1 shrinks further.
//! - `renyi_mixture.png`: the full-rank fits to the notebook's mixture for the same α, one panel
//!   each — sliding from covering to seeking.
//!
//! Every panel of a fit notes Pareto k̂ of its final q (from the trace's diagnostic).
//!
//! The α fits use the engine's Monte Carlo `renyi` objective (the VR bound, Adam, 1000 draws a
//! step): the closed-form `kl_grad::RenyiExact` is not an engine objective (yet).

use kl_dist::Mvn;
use kl_render::{
    Axes, Colormap, ContourStyle, Figure, FigureSpec, HAlign, LineStyle, Rgba, SubplotParams,
    VAlign,
};

use rayon::prelude::*;

use super::{ellipse, final_model, k_hat_note, run_text};
use crate::engine::Run;
use crate::error::{Error, FitError};
use crate::figures::{Output, Style, contour_layer, grid_values, new_figure, png};

/// Bishop's colours: p green, q red.
const P_COLOR: Rgba = Rgba::rgb(0x2c, 0xa0, 0x2c);
const Q_COLOR: Rgba = Rgba::rgb(0xd6, 0x27, 0x28);
const GRID: usize = 128;
/// The α curves' colours: tab10 without its green (p's).
const Q_COLORS: [Rgba; 5] = [
    Rgba::hex(0x1f77b4),
    Rgba::hex(0xff7f0e),
    Rgba::hex(0xd62728),
    Rgba::hex(0x9467bd),
    Rgba::hex(0x8c564b),
];

/// One compiled-in experiment file of `experiments/lesson/`.
struct LessonFile {
    name: &'static str,
    text: &'static str,
}

macro_rules! lesson_files {
    ($($name:literal),* $(,)?) => {
        [$(LessonFile {
            name: $name,
            text: include_str!(concat!("../../experiments/lesson/", $name, ".toml")),
        }),*]
    };
}

/// The lesson's experiments, by file stem (`experiments/lesson/<name>.toml`).
const FILES: [LessonFile; 14] = lesson_files![
    "bishop-10-2-reverse",
    "bishop-10-2-forward",
    "bishop-10-3-forward",
    "bishop-10-3-reverse-a",
    "bishop-10-3-reverse-b",
    "renyi-mean-field-a0p01",
    "renyi-mean-field-a0p5",
    "renyi-mean-field-a2",
    "renyi-mean-field-a5",
    "renyi-mixture-a0p01",
    "renyi-mixture-a0p5",
    "renyi-mixture-a1",
    "renyi-mixture-a2",
    "renyi-mixture-a5",
];

/// The orders α of the Rényi figures, with the mean-field run of each (α = 1 is the reverse-KL
/// fit of Bishop 10.2(a)) and the mixture run.
pub const ALPHAS: [(f64, &str, &str); 5] = [
    (0.01, "renyi-mean-field-a0p01", "renyi-mixture-a0p01"),
    (0.5, "renyi-mean-field-a0p5", "renyi-mixture-a0p5"),
    (1.0, "bishop-10-2-reverse", "renyi-mixture-a1"),
    (2.0, "renyi-mean-field-a2", "renyi-mixture-a2"),
    (5.0, "renyi-mean-field-a5", "renyi-mixture-a5"),
];

/// The names of the lesson's experiments (`experiments/lesson/<name>.toml`).
pub fn lesson_names() -> Vec<&'static str> {
    FILES.iter().map(|f| f.name).collect()
}

/// Runs the lesson experiment `name` (a file stem of `experiments/lesson/`).
///
/// # Errors
/// [`Error::Usage`] for an unknown name; the run's errors otherwise.
pub fn lesson_run(name: &str) -> Result<Run, Error> {
    let file = FILES
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| Error::Usage {
            message: format!(
                "no lesson experiment {name:?}: expected one of {:?}",
                lesson_names()
            ),
        })?;
    run_text(file.text, &format!("experiments/lesson/{name}.toml"))
}

/// Every lesson experiment, run once, in [`FILES`] order.
struct Runs(Vec<Run>);

impl Runs {
    fn all() -> Result<Runs, Error> {
        // On rayon's pool: the jobs are deterministic each and `collect` keeps their order, so
        // the bytes do not depend on the schedule.
        let runs: Result<Vec<Run>, Error> =
            lesson_names().into_par_iter().map(lesson_run).collect();
        Ok(Runs(runs?))
    }

    fn get(&self, name: &str) -> &Run {
        self.0
            .iter()
            .find(|r| r.experiment.name == name)
            .expect("every lesson name is run")
    }
}

/// The lesson's four figures.
pub fn lesson_figures(style: Style) -> Result<Vec<Output>, Error> {
    let runs = Runs::all()?;
    Ok(vec![
        bishop_10_2(&runs, style)?,
        bishop_10_3(&runs, style)?,
        renyi_mean_field(&runs, style)?,
        renyi_mixture(&runs, style)?,
    ])
}

/// The target of a lesson run (every lesson target has a density).
fn target(run: &Run) -> Result<&kl_dist::AnyDensity, Error> {
    run.target.as_ref().ok_or_else(|| Error::Usage {
        message: format!("lesson run {} has no target density", run.experiment.name),
    })
}

/// The target of a run as a normal (Bishop 10.2's p).
fn gaussian_target(run: &Run) -> Result<Mvn, Error> {
    match target(run)? {
        kl_dist::AnyDensity::Mvn(p) => Ok(p.clone()),
        _ => Err(Error::Usage {
            message: format!("lesson run {} needs a Gaussian target", run.experiment.name),
        }),
    }
}

/// A diagonal normal with the given means and variances.
fn diagonal(mean: &[f64], var: &[f64]) -> Result<Mvn, Error> {
    let d = mean.len();
    let mut cov = vec![0.0; d * d];
    for (i, v) in var.iter().enumerate() {
        cov[i * d + i] = *v;
    }
    Mvn::new(mean, &cov).map_err(|source| Error::Fit {
        experiment: "the closed-form optimum".into(),
        source: FitError::Model {
            iteration: 0,
            source,
        },
    })
}

/// The 1σ and 2σ ellipses of a normal.
fn ellipses(panel: &mut kl_render::Panel, q: &Mvn, style: LineStyle) {
    for r in [1.0, 2.0] {
        panel.polyline(&ellipse(q, r), style.clone());
    }
}

/// Lines of text centred under a panel whose limits are `lim`.
fn notes(panel: &mut kl_render::Panel, lim: [f64; 4], lines: &[String]) {
    let step = 0.06 * (lim[3] - lim[2]);
    for (i, line) in lines.iter().enumerate() {
        panel.text_aligned(
            [
                0.5 * (lim[0] + lim[1]),
                lim[2] - 0.03 * (lim[3] - lim[2]) - step * i as f64,
            ],
            line,
            11.0,
            Rgba::BLACK,
            HAlign::Center,
            VAlign::Top,
        );
    }
}

/// A row of `cols` square panels (circles stay round) from 5 in of width each, with 0.8 in under
/// them for two lines of notes and 0.6 in above for the titles.
fn square_panels(name: &str, cols: usize, style: Style) -> Result<Figure, Error> {
    let params = SubplotParams::default();
    let width_in = 5.0 * cols as f64;
    let c = cols as f64;
    let side = (params.right - params.left) * width_in / (c + params.wspace * (c - 1.0));
    let (below, above) = (0.8, 0.6);
    let height_in = side + below + above;
    let mut fig = new_figure(
        name,
        FigureSpec {
            rows: 1,
            cols,
            width_in,
            height_in,
            dpi: 72.0,
            scale: style.scale,
        },
    )?;
    fig.set_subplot_params(SubplotParams {
        bottom: below / height_in,
        top: 1.0 - above / height_in,
        ..params
    });
    Ok(fig)
}

/// The diagonal of the precision Λ = Σ⁻¹ = L⁻ᵀ L⁻¹ without forming it: Λᵢᵢ = ‖L⁻¹ eᵢ‖², one
/// triangular solve per coordinate.
fn precision_diagonal(p: &Mvn) -> Vec<f64> {
    let d = p.dim();
    let mut e = vec![0.0; d];
    (0..d)
        .map(|i| {
            e.fill(0.0);
            e[i] = 1.0;
            p.cholesky().solve_lower(&mut e);
            e.iter().map(|x| x * x).sum()
        })
        .collect()
}

/// The variances of q's coordinates.
fn variances(q: &Mvn) -> Vec<f64> {
    let (d, cov) = (q.dim(), q.covariance());
    (0..d).map(|i| cov[i * d + i]).collect()
}

fn fmt_list(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
    format!("({})", parts.join(", "))
}

fn bishop_10_2(runs: &Runs, style: Style) -> Result<Output, Error> {
    let name = "bishop_10_2.png";
    let lim = [-2.5, 2.5, -2.5, 2.5];
    let reverse = runs.get("bishop-10-2-reverse");
    let forward = runs.get("bishop-10-2-forward");
    let p = gaussian_target(reverse)?;
    let (d, sigma) = (p.dim(), p.covariance());
    // The closed-form optima: mean-field reverse σᵢ² = 1/Λᵢᵢ, forward σᵢ² = Σᵢᵢ (Bishop §10.1.2).
    let reverse_var: Vec<f64> = precision_diagonal(&p).iter().map(|l| 1.0 / l).collect();
    let forward_var: Vec<f64> = (0..d).map(|i| sigma[i * d + i]).collect();
    let mut fig = square_panels(name, 2, style)?;
    for (col, run, var, title, rule) in [
        (
            0,
            reverse,
            &reverse_var,
            "(a) reverse KL D(q‖p), mean field",
            "1/Λᵢᵢ",
        ),
        (
            1,
            forward,
            &forward_var,
            "(b) forward KL D(p‖q), mean field",
            "Σᵢᵢ",
        ),
    ] {
        let q = final_model(run)?;
        let optimum = diagonal(p.mean(), var)?;
        let panel = fig.panel_mut(0, col);
        ellipses(panel, &p, LineStyle::solid(P_COLOR, 2.0));
        ellipses(panel, &q, LineStyle::solid(Q_COLOR, 2.0));
        ellipses(panel, &optimum, LineStyle::dashed(Rgba::BLACK, 1.2));
        panel.limits(lim);
        panel.title(title);
        notes(
            panel,
            lim,
            &[
                format!(
                    "σ² = {}, {rule} = {}",
                    fmt_list(&variances(&q)),
                    fmt_list(var)
                ),
                k_hat_note(&run.fit),
            ],
        );
    }
    png(name, &fig)
}

fn bishop_10_3(runs: &Runs, style: Style) -> Result<Output, Error> {
    let name = "bishop_10_3.png";
    let lim = [-4.0, 4.0, -4.0, 4.0];
    let forward = runs.get("bishop-10-3-forward");
    let p_grid = grid_values(target(forward)?, lim, GRID);
    let mut fig = square_panels(name, 3, style)?;
    for (col, run, title) in [
        (0, forward, "(a) forward KL D(p‖q): covers both modes"),
        (
            1,
            runs.get("bishop-10-3-reverse-a"),
            "(b) reverse KL D(q‖p): one mode",
        ),
        (
            2,
            runs.get("bishop-10-3-reverse-b"),
            "(c) reverse KL D(q‖p): the other",
        ),
    ] {
        fit_panel(fig.panel_mut(0, col), run, &p_grid, lim, title)?;
    }
    png(name, &fig)
}

/// p's contours, the fitted q's ellipses, the title, and both KLs and k_hat under the panel.
fn fit_panel(
    panel: &mut kl_render::Panel,
    run: &Run,
    p_grid: &[f64],
    lim: [f64; 4],
    title: &str,
) -> Result<(), Error> {
    let q = final_model(run)?;
    contour_layer(
        panel,
        p_grid,
        GRID,
        lim,
        Colormap::Solid(P_COLOR),
        ContourStyle {
            width: 1.5,
            halo: None,
        },
    );
    ellipses(panel, &q, LineStyle::solid(Q_COLOR, 2.0));
    panel.title(title);
    let (kl_forward, kl_reverse) = run.trace.answer_kl();
    notes(
        panel,
        lim,
        &[
            format!(
                "D(p‖q) = {:.3}    D(q‖p) = {:.3}",
                kl_forward.unwrap_or(f64::NAN),
                kl_reverse.unwrap_or(f64::NAN),
            ),
            k_hat_note(&run.fit),
        ],
    );
    Ok(())
}

fn alpha_label(alpha: f64) -> String {
    if alpha == 1.0 {
        "α = 1 (reverse KL)".to_string()
    } else {
        format!("α = {alpha}")
    }
}

fn renyi_mean_field(runs: &Runs, style: Style) -> Result<Output, Error> {
    let name = "renyi_mean_field.png";
    let lim = [-2.5, 2.5, -2.5, 2.5];
    let p = gaussian_target(runs.get("bishop-10-2-reverse"))?;
    let mut fig = new_figure(
        name,
        FigureSpec {
            rows: 1,
            cols: 1,
            width_in: 7.0,
            height_in: 7.0,
            dpi: 72.0,
            scale: style.scale,
        },
    )?;
    let panel = fig.panel_mut(0, 0);
    panel.series(&ellipse(&p, 2.0), LineStyle::solid(P_COLOR, 2.5), "p (2σ)");
    for (k, (alpha, mean_field, _)) in ALPHAS.iter().enumerate() {
        let run = runs.get(mean_field);
        let q = final_model(run)?;
        let sd: Vec<f64> = variances(&q).iter().map(|v| v.sqrt()).collect();
        panel.series(
            &ellipse(&q, 2.0),
            LineStyle::solid(Q_COLORS[k], 1.8),
            &format!("{}: σ = {}", alpha_label(*alpha), fmt_list(&sd)),
        );
    }
    panel.limits(lim);
    panel.axes(Axes {
        legend: true,
        ..Axes::default()
    });
    panel.title("mean-field q minimizing D_α(q‖p): 2σ ellipses");
    png(name, &fig)
}

fn renyi_mixture(runs: &Runs, style: Style) -> Result<Output, Error> {
    let name = "renyi_mixture.png";
    let lim = [-4.0, 4.0, -4.0, 4.0];
    let first = runs.get(ALPHAS[0].2);
    let p_grid = grid_values(target(first)?, lim, GRID);
    let mut fig = square_panels(name, ALPHAS.len(), style)?;
    for (col, (alpha, _, mixture)) in ALPHAS.iter().enumerate() {
        let run = runs.get(mixture);
        fit_panel(
            fig.panel_mut(0, col),
            run,
            &p_grid,
            lim,
            &alpha_label(*alpha),
        )?;
    }
    png(name, &fig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_diagonal_of_the_correlated_gaussian_is_one_over_one_minus_rho_squared() {
        // Σ = [[1, ρ], [ρ, 1]] ⇒ Σ⁻¹ = [[1, −ρ], [−ρ, 1]] / (1 − ρ²).
        let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.9, 0.9, 1.0]).expect("valid");
        for l in precision_diagonal(&p) {
            assert!((l - 1.0 / 0.19).abs() < 1e-12, "{l}");
        }
    }

    #[test]
    fn every_lesson_file_parses_as_a_2d_experiment() {
        for name in lesson_names() {
            let file = FILES.iter().find(|f| f.name == name).expect("listed");
            let exp = crate::config::parse(
                file.text,
                std::path::Path::new(name),
                &super::super::NoFiles,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(exp.name, name, "the file's name key is its stem");
            assert_eq!(exp.target.dim(), 2);
        }
    }
}
