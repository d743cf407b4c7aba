//! `cargo xtask`: the project's command line, a thin layer over the `forward-backward-kl` package.
//!
//! ```text
//! cargo xtask figures [--check] [--scale S]   run experiments/*.toml, write figures/
//! cargo xtask fit FILE.toml [--out DIR]       run one experiment: DIR/<name>/trace.json and figures
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use forward_backward_kl::figures::{self, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const USAGE: &str = "usage:
  cargo xtask figures [--check] [--scale S]   run every experiments/*.toml and write figures/
                                              (--check: regenerate in memory and fail naming each
                                              file of figures/ that differs)
  cargo xtask fit FILE.toml [--out DIR]       run one experiment; write DIR/<name>/trace.json and
                                              its figures (DIR defaults to out/)";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn run(args: Vec<String>) -> Result<()> {
    let mut args = args.into_iter();
    let command = args.next();
    let rest: Vec<String> = args.collect();
    match command.as_deref() {
        Some("figures") => figures_cmd(&rest),
        Some("fit") => fit_cmd(&rest),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n{USAGE}"),
        None => bail!("no command given\n{USAGE}"),
    }
}

fn take_value(rest: &[String], i: &mut usize, flag: &str) -> Result<String> {
    *i += 1;
    rest.get(*i)
        .cloned()
        .with_context(|| format!("{flag} needs a value"))
}

fn parse_scale(s: &str) -> Result<f64> {
    let v: f64 = s
        .parse()
        .with_context(|| format!("--scale: `{s}` is not a number"))?;
    if !(v > 0.0 && v <= 8.0) {
        bail!("--scale must be in (0, 8], got {v}");
    }
    Ok(v)
}

fn progress_bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn figures_cmd(rest: &[String]) -> Result<()> {
    let (mut check, mut style) = (false, Style::default());
    let mut i = 0;
    while i < rest.len() {
        match rest[i].as_str() {
            "--check" => check = true,
            "--scale" => style.scale = parse_scale(&take_value(rest, &mut i, "--scale")?)?,
            other => bail!("figures: unknown argument `{other}`\n{USAGE}"),
        }
        i += 1;
    }
    let start = Instant::now();
    let root = root();
    let files = figures::experiment_files(&root.join("experiments"))?;
    let bar = progress_bar(files.len() + 1);
    let outputs = figures::all_figures(&files, style, true, |f| {
        bar.set_message(format!("done: {f}"));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let dir = root.join("figures");
    if check {
        let differ = figures::check_all(&dir, &outputs)?;
        if !differ.is_empty() {
            return Err(forward_backward_kl::Error::Stale { files: differ }.into());
        }
        eprintln!(
            "figures/ is up to date: {} files checked in {:.3} s",
            outputs.len(),
            start.elapsed().as_secs_f64()
        );
    } else {
        figures::write_all(&dir, &outputs)?;
        eprintln!(
            "wrote {} files to {} in {:.3} s",
            outputs.len(),
            dir.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn fit_cmd(rest: &[String]) -> Result<()> {
    let (mut file, mut out, mut style) = (None, PathBuf::from("out"), Style::default());
    let mut i = 0;
    while i < rest.len() {
        match rest[i].as_str() {
            "--out" => out = PathBuf::from(take_value(rest, &mut i, "--out")?),
            "--scale" => style.scale = parse_scale(&take_value(rest, &mut i, "--scale")?)?,
            f if !f.starts_with("--") && file.is_none() => file = Some(PathBuf::from(f)),
            other => bail!("fit: unexpected argument `{other}`\n{USAGE}"),
        }
        i += 1;
    }
    let Some(file) = file else {
        bail!("fit: no experiment file given\n{USAGE}")
    };
    let start = Instant::now();
    let (run, written) = forward_backward_kl::run::fit_file(&file, &out, style)?;
    let last = run
        .trace
        .iterations
        .last()
        .context("a trace has n_iters + 1 states")?;
    eprintln!(
        "{}: {} iterations, final loss {:.6}{}; wrote {} and {} figures in {:.3} s",
        run.experiment.name,
        run.trace.n_iters,
        last.loss,
        match (last.kl_forward, last.kl_reverse) {
            (Some(f), Some(r)) => format!(", D(p‖q) = {f:.6}, D(q‖p) = {r:.6}"),
            _ => String::new(),
        },
        written[0].display(),
        written.len() - 1,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
