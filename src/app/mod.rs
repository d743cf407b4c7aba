//! The application layer: the only code that touches files. It reads experiments ([`input`]),
//! runs them (the engine), draws them (the figures) and writes the results ([`output`]), for the
//! command line ([`cli`]) and for callers of the library.

#[cfg(feature = "cli")]
pub mod cli;
pub mod input;
pub mod output;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::config::{self, Experiment};
use rayon::prelude::*;

use crate::engine::{self, Run};
use crate::error::Error;
use crate::figures::{self, Style};
use output::OutputFile;

/// Reads and validates an experiment file from disk.
///
/// # Errors
/// As [`config::load`], and [`Error::Input`] for a file that is not regular or too large.
pub fn load(path: &Path) -> Result<Experiment, Error> {
    config::load(path, &input::Fs)
}

/// The names of the files a fit of `exp` writes (checked against the platform's limits before
/// the fit).
fn output_names(exp: &Experiment) -> Vec<String> {
    let mut names = vec!["trace.json".to_string()];
    names.extend(figures::file_names(exp));
    names
}

/// Runs `file`, draws its figures, and only then writes `out/<name>/` — `trace.json` and the
/// figures — all at once ([`output::write_folder`]), so a failure at any stage leaves the
/// folder as it was. `progress(iteration, n_iters, loss)` is told every iteration. Returns the run
/// and the paths written, the trace first.
///
/// # Errors
/// Any [`Error`]; names and sizes are checked before the fit starts.
pub fn fit_file(
    file: &Path,
    out: &Path,
    style: Style,
    progress: &mut dyn FnMut(usize, usize, f64) -> ControlFlow<()>,
) -> Result<(Run, Vec<PathBuf>), Error> {
    if out.as_os_str().is_empty() {
        return Err(Error::Usage {
            message: "--out is empty (\"\"): give a folder".into(),
        });
    }
    let exp = load(file)?;
    let dest = out.join(&exp.name);
    output::check_names(&dest, output_names(&exp).iter().map(String::as_str))?;
    figures::check_canvas(&exp, style)?;
    let n = exp.n_iters;
    let run = engine::run_observed(&exp, &mut |p| progress(p.iteration, n, p.loss))?;
    let mut files = vec![OutputFile {
        name: "trace.json".into(),
        bytes: engine::trace::trace_json(&run.trace),
    }];
    files.extend(
        figures::run_figures(&run, style)?
            .into_iter()
            .map(|f| OutputFile {
                name: f.name,
                bytes: f.bytes,
            }),
    );
    let written = output::write_folder(&dest, &files)?;
    Ok((run, written))
}

/// The log-log plot of the committed bench medians (`benches/medians.json`).
///
/// # Errors
/// [`Error::Io`]/[`Error::Input`] when the file cannot be read, [`Error::Csv`]-like
/// [`Error::Input`] when it is not the medians' JSON.
pub fn bench_figure(path: &Path, style: Style) -> Result<OutputFile, Error> {
    let bytes = input::read_limited(path, "bench medians file", 1 << 20)?;
    let medians: Vec<crate::zoo::Median> =
        serde_json::from_slice(&bytes).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "not the bench medians' JSON: {}",
                crate::quote(&e.to_string())
            ),
        })?;
    let f = crate::zoo::scale_figure(&medians, style)?;
    Ok(OutputFile {
        name: f.name,
        bytes: f.bytes,
    })
}

/// The experiment files of a folder (`*.toml`), sorted by name.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be listed.
pub fn experiment_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        action: "list the experiments",
        source,
    })?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every experiment of `dir` and the story figures, and collects their figures in file
/// order. The jobs run on scoped threads; each is deterministic on its own, so the bytes do not
/// depend on the thread count. Two experiments may not share a name, and may write the same file
/// name only with identical bytes. `progress(label, done, total)` is told each job as it
/// finishes.
///
/// # Errors
/// The first job's error, in file order.
pub fn all_figures(
    dir: &Path,
    style: Style,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<Vec<OutputFile>, Error> {
    let files = experiment_files(dir)?;
    let experiments: Vec<Experiment> = files.iter().map(|f| load(f)).collect::<Result<_, _>>()?;
    for (i, a) in experiments.iter().enumerate() {
        if let Some(b) = experiments[..i].iter().find(|b| b.name == a.name) {
            return Err(Error::Usage {
                message: format!(
                    "{} and {} both have name = \"{}\": give each experiment its own name (it \
                     names its output folder and its figures)",
                    b.path.display(),
                    a.path.display(),
                    a.name
                ),
            });
        }
    }
    for exp in &experiments {
        figures::check_canvas(exp, style)?;
    }
    let total = experiments.len() + 1;
    type Job = Result<(String, Option<Run>, Vec<figures::Output>), Error>;
    // Every experiment and the story figures as jobs on rayon's pool: each is deterministic on
    // its own, and `collect` keeps their order, so the bytes do not depend on the schedule. The
    // jobs name themselves on a channel as they finish; this thread reports them.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let job = |i: usize| -> Job {
        let Some(exp) = experiments.get(i) else {
            return Ok((
                "story".to_string(),
                None,
                crate::story::story_figures(style)?,
            ));
        };
        let run = engine::run(exp)?;
        let own = if exp.plot.standard {
            figures::run_figures(&run, style)?
        } else {
            Vec::new()
        };
        Ok((exp.name.clone(), Some(run), own))
    };
    let label = |i: usize| {
        experiments.get(i).map_or("story figures".to_string(), |e| {
            e.path.display().to_string()
        })
    };
    let results: Vec<Job> = std::thread::scope(|s| {
        let jobs = s.spawn(move || {
            (0..total)
                .into_par_iter()
                .map(|i| {
                    let r = job(i);
                    let _ = tx.send(label(i));
                    r
                })
                .collect::<Vec<Job>>()
        });
        for (k, done) in rx.iter().enumerate() {
            progress(&done, k + 1, total);
        }
        jobs.join().unwrap_or_else(|_| {
            vec![Err(Error::Usage {
                message: "internal error: a figure job panicked".into(),
            })]
        })
    });
    let mut runs = Vec::new();
    let mut produced_all = Vec::new();
    for result in results {
        let (who, run, produced) = result?;
        runs.extend(run);
        produced_all.push((who, produced));
    }
    // Figures of several runs.
    let multi: Vec<figures::Output> = [
        crate::zoo::zoo_figure(&runs, style)?,
        crate::zoo::logistic_figure(&runs, style)?,
    ]
    .into_iter()
    .flatten()
    .collect();
    produced_all.push(("the multi-run figures".to_string(), multi));
    let mut outputs: Vec<OutputFile> = Vec::new();
    let mut owner: Vec<String> = Vec::new();
    for (who, produced) in produced_all {
        for o in produced {
            match outputs.iter().position(|x| x.name == o.name) {
                Some(i) if outputs[i].bytes == o.bytes => {}
                Some(i) => {
                    return Err(Error::Usage {
                        message: format!(
                            "{}: experiments {} and {who} both draw this file, differently: give \
                             them different plot.prefix values",
                            o.name, owner[i]
                        ),
                    });
                }
                None => {
                    owner.push(who.clone());
                    outputs.push(OutputFile {
                        name: o.name,
                        bytes: o.bytes,
                    });
                }
            }
        }
    }
    Ok(outputs)
}

/// Compares `outputs` with the generated files of `dir`: the files that differ, are missing, or
/// were generated before (listed in its manifest) and are no longer produced. Empty means up to
/// date.
///
/// # Errors
/// Never at present; reading failures count as differences.
pub fn check_figures(dir: &Path, outputs: &[OutputFile]) -> Result<Vec<PathBuf>, Error> {
    let mut differ = Vec::new();
    for o in outputs {
        let path = dir.join(&o.name);
        match std::fs::read(&path) {
            Ok(bytes) if bytes == o.bytes => {}
            _ => differ.push(path),
        }
    }
    let mut listed: Vec<String> = output::read_manifest(dir);
    listed.sort();
    for name in listed {
        if !outputs.iter().any(|o| o.name == name) && dir.join(&name).exists() {
            differ.push(dir.join(name));
        }
    }
    let mut expected: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
    expected.sort_unstable();
    if output::read_manifest(dir) != expected {
        differ.push(dir.join(output::MANIFEST));
    }
    Ok(differ)
}
