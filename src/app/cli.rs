//! The command line, shared by the installable binary (`forward-backward-kl …`, from
//! `cargo install --path .`) and `cargo xtask …`: the same subcommands and flags, only the default
//! folders differ (the binary's are relative to the current folder, xtask's to the workspace).

use std::ffi::OsString;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, report};
use crate::figures::Style;

/// Fit a Gaussian to a target by forward and reverse KL, and draw what happens.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every experiments/*.toml (and the story figures) and write figures/.
    Figures {
        /// Regenerate in memory and fail naming each file of the figures folder that differs.
        #[arg(long)]
        check: bool,
        /// Pixel scale on top of the notebook's 72 dpi, in (0, 8].
        #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
        scale: f64,
        /// The folder of experiment files [default: experiments/ of the workspace for xtask,
        /// ./experiments otherwise].
        #[arg(long, value_name = "DIR")]
        experiments: Option<PathBuf>,
        /// The figures folder [default: figures/ of the workspace for xtask, ./figures
        /// otherwise].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Run one experiment: write DIR/<name>/trace.json and its figures (all or nothing).
    Fit {
        /// The experiment file (TOML).
        file: PathBuf,
        /// The folder that receives <name>/.
        #[arg(long, value_name = "DIR", default_value = "out")]
        out: PathBuf,
        /// Pixel scale on top of the notebook's 72 dpi, in (0, 8].
        #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
        scale: f64,
    },
    /// Start the explorer: a local web page that sets up fits and shows them live (Ctrl-C stops
    /// it).
    #[cfg(feature = "serve")]
    Serve {
        /// The port (0: any free one).
        #[arg(long, default_value_t = 8737)]
        port: u16,
        /// Open the page in the desktop's browser.
        #[arg(long)]
        open: bool,
        /// The address to bind. Anything but a loopback address lets others on the network run
        /// fits on this machine.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// The most fits that run at once (one more is refused with 503).
        #[arg(long, default_value_t = crate::serve::DEFAULT_MAX_FITS, value_parser = parse_max_fits)]
        max_fits: usize,
    },
}

#[cfg(feature = "serve")]
fn parse_max_fits(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("must be an integer in 1..=64, got `{s}`")),
    }
}

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !(v > 0.0 && v <= 8.0) {
        return Err(format!("must be in (0, 8], got {v}"));
    }
    Ok(v)
}

/// The folders `figures` uses when none are given.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Where the experiment files are.
    pub experiments: PathBuf,
    /// Where the figures go.
    pub figures: PathBuf,
    /// The committed bench medians to plot (`bench_scale.png`), if any.
    pub bench_medians: Option<PathBuf>,
}

impl Defaults {
    /// `./experiments` and `./figures`.
    pub fn current_dir() -> Defaults {
        Defaults {
            experiments: PathBuf::from("experiments"),
            figures: PathBuf::from("figures"),
            bench_medians: None,
        }
    }
}

/// Runs the command line `args` (the program name first, as from `std::env::args_os`): prints
/// what it did on stderr, or one `error: …` line with the cause chain, and returns the exit code
/// (0 on success, 1 on an error, 2 on a usage error).
pub fn main(args: impl IntoIterator<Item = OsString>, defaults: &Defaults) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // A write past a file-size limit (`ulimit -f`) raises SIGXFSZ, whose default action kills
    // the process mid-write, leaving its temporary folder behind. With a handler installed the
    // write fails with EFBIG instead: an error like any other, and the folder is removed.
    #[cfg(unix)]
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
    match execute(cli.command, defaults) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command, defaults: &Defaults) -> Result<(), Error> {
    match command {
        Command::Figures {
            check,
            scale,
            experiments,
            out,
        } => {
            let style = Style {
                scale,
                ..Style::default()
            };
            let experiments = experiments.unwrap_or_else(|| defaults.experiments.clone());
            let out = out.unwrap_or_else(|| defaults.figures.clone());
            figures(
                &experiments,
                &out,
                style,
                check,
                defaults.bench_medians.as_deref(),
            )
        }
        Command::Fit { file, out, scale } => {
            let style = Style {
                scale,
                ..Style::default()
            };
            fit(&file, &out, style)
        }
        #[cfg(feature = "serve")]
        Command::Serve {
            port,
            open,
            host,
            max_fits,
        } => serve(
            crate::serve::Options {
                host,
                port,
                max_fits,
            },
            open,
        ),
    }
}

/// `serve`: the explorer until Ctrl-C, with a warning when it is reachable from the network.
#[cfg(feature = "serve")]
fn serve(options: crate::serve::Options, open: bool) -> Result<(), Error> {
    if !options.host.is_loopback() {
        eprintln!(
            "warning: serving on {}, not a loopback address: anyone who can reach it can run fits \
             on this machine",
            options.host
        );
    }
    crate::serve::run(options, |addr| {
        let url = format!("http://{addr}/");
        eprintln!("the explorer is at {url} (Ctrl-C stops it)");
        if open {
            open_browser(&url);
        }
    })
    .map_err(|source| Error::Io {
        path: PathBuf::from(format!("{}:{}", options.host, options.port)),
        action: "serve the explorer",
        source,
    })
}

/// Opens `url` in the desktop's browser, best effort (a note on stderr when it cannot).
#[cfg(feature = "serve")]
fn open_browser(url: &str) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_err()
    {
        eprintln!("note: could not start {program}: open {url} yourself");
    }
}

fn figures(
    experiments: &std::path::Path,
    out: &std::path::Path,
    style: Style,
    check: bool,
    bench_medians: Option<&std::path::Path>,
) -> Result<(), Error> {
    let start = Instant::now();
    eprintln!(
        "{} {} from {}",
        if check { "checking" } else { "regenerating" },
        out.display(),
        experiments.display()
    );
    let bar = Progress::new();
    let mut outputs = super::all_figures(experiments, style, |label, done, total| {
        bar.jobs(label, done, total);
    })?;
    if let Some(path) = bench_medians {
        outputs.push(super::bench_figure(path, style)?);
    }
    bar.finish();
    if check {
        let differ = super::check_figures(out, &outputs)?;
        if !differ.is_empty() {
            return Err(Error::Stale { files: differ });
        }
        eprintln!(
            "{} is up to date: {} files checked in {:.3} s",
            out.display(),
            outputs.len(),
            start.elapsed().as_secs_f64()
        );
    } else {
        super::output::write_generated(out, &outputs)?;
        eprintln!(
            "wrote {} files to {} in {:.3} s",
            outputs.len(),
            out.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn fit(file: &std::path::Path, out: &std::path::Path, style: Style) -> Result<(), Error> {
    let start = Instant::now();
    let bar = Progress::new();
    let (run, written) = super::fit_file(file, out, style, &mut |k, n, loss| {
        bar.iteration(k, n, loss);
        ControlFlow::Continue(())
    })?;
    bar.finish();
    eprintln!(
        "{}; wrote {} in {:.3} s",
        summary(&run),
        written_summary(&written),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The one line a fit ends with: iterations and why it stopped, the loss, the answer's exact KL,
/// the gradient evaluations, and the k̂ verdict (said once, in words).
fn summary(run: &crate::engine::Run) -> String {
    let t = &run.trace;
    let mut line = format!(
        "{}: {} iterations",
        run.experiment.name,
        t.iterations.last().map_or(0, |l| l.iteration)
    );
    match (t.termination, t.convergence.as_ref()) {
        (kl_fit::Termination::Converged { at, .. }, Some(c)) => {
            line.push_str(&format!(
                " (converged at {at}, tol_rel_obj {})",
                c.tol_rel_obj
            ));
        }
        (_, Some(_)) => line.push_str(" (did not converge: reached n_iters)"),
        _ => {}
    }
    if let Some(l) = t.iterations.last() {
        line.push_str(&format!(", final loss {:.6}", l.loss));
    }
    if let (Some(f), Some(r)) = t.answer_kl() {
        let which = if t.answer.is_some() {
            " (averaged q)"
        } else {
            ""
        };
        line.push_str(&format!(", D(p‖q) = {f:.6}, D(q‖p) = {r:.6}{which}"));
    }
    if t.n_grad_evals > 0 {
        line.push_str(&format!(", {} gradient evaluations", t.n_grad_evals));
    }
    if let Some(d) = t.final_diagnostic() {
        if d.exact {
            line.push_str(&format!(
                "; Pareto k̂ = {}: good (every importance weight is the same: q = p)",
                d.k_hat
            ));
        } else {
            line.push_str(&format!(
                "; Pareto k̂ = {:.2}: {}, ESS = {:.0} of {} draws of q",
                d.k_hat, d.verdict, d.ess, t.diagnostic_draws
            ));
        }
    }
    line
}

/// "out/x/trace.json and 5 figures" (singular for one).
fn written_summary(written: &[std::path::PathBuf]) -> String {
    let trace = written
        .first()
        .map_or_else(String::new, |p| p.display().to_string());
    match written.len().saturating_sub(1) {
        0 => trace,
        1 => format!("{trace} and 1 figure"),
        n => format!("{trace} and {n} figures"),
    }
}

/// A progress bar on stderr that appears only after a second of work, and never when stderr is
/// not a terminal (indicatif hides itself then).
struct Progress {
    bar: ProgressBar,
    start: Instant,
    shown: std::cell::Cell<bool>,
}

impl Progress {
    fn new() -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} (eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress {
            bar,
            start: Instant::now(),
            shown: std::cell::Cell::new(false),
        }
    }

    fn show_if_slow(&self) {
        if !self.shown.get() && self.start.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown.set(true);
        }
    }

    fn iteration(&self, k: usize, n: usize, loss: f64) {
        self.bar.set_length(n as u64);
        self.bar.set_position(k as u64);
        if k.is_multiple_of(64) {
            self.bar.set_message(format!("loss {loss:.6}"));
            self.show_if_slow();
        }
    }

    fn jobs(&self, label: &str, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        self.bar.set_message(format!("done: {label}"));
        self.show_if_slow();
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
