//! `klfit.run_experiment(path)`: an experiment file through the root package's engine, exactly
//! as the command line's `fit` runs it — the same trace bytes, the same figures.

use std::path::PathBuf;

use forward_backward_kl::{engine, figures};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::engine_error;
use crate::interrupt::Watch;

/// A finished experiment: its name, its trace (`trace.json`, as bytes and parsed) and its
/// figures by file name.
#[pyclass(frozen, module = "klfit", get_all)]
#[derive(Debug)]
pub struct Experiment {
    /// The experiment's name (its output folder's name).
    name: String,
    /// The trace as the command line writes it to `trace.json`.
    trace_json: Py<PyBytes>,
    /// `json.loads(trace_json)`.
    trace: Py<PyAny>,
    /// `{file name: PNG or GIF bytes}`, what the command line writes beside the trace.
    figures: Py<PyDict>,
}

#[pymethods]
impl Experiment {
    fn __repr__(&self, py: Python<'_>) -> String {
        let names: Vec<String> = self
            .figures
            .bind(py)
            .keys()
            .iter()
            .map(|k| k.to_string())
            .collect();
        format!("<klfit.Experiment {} figures={names:?}>", self.name)
    }
}

/// Runs the experiment file `path` (TOML) with the engine and draws its figures (unless
/// `figures` is false: then `Experiment.figures` is empty).
#[pyfunction]
#[pyo3(signature = (path, figures = true))]
pub(crate) fn run_experiment(py: Python<'_>, path: PathBuf, figures: bool) -> PyResult<Experiment> {
    let draw = figures;
    type Out = (String, Vec<u8>, Vec<figures::Output>);
    let (result, raised) = py.detach(|| {
        let mut watch = Watch::new(None);
        let r = (|| -> Result<Out, forward_backward_kl::Error> {
            let exp = forward_backward_kl::app::load(&path)?;
            let run = engine::run_observed(&exp, &mut |_| watch.check())?;
            let trace = engine::trace::trace_json(&run.trace);
            let figs = if draw {
                figures::run_figures(&run, figures::Style::default())?
            } else {
                Vec::new()
            };
            Ok((exp.name, trace, figs))
        })();
        (r, watch.raised)
    });
    if let Some(e) = raised {
        let at = match &result {
            Err(forward_backward_kl::Error::Fit {
                source: forward_backward_kl::FitError::Interrupted { iteration },
                ..
            }) => Some(*iteration),
            _ => None,
        };
        return Err(crate::interrupt::with_iteration(py, e, at, "experiment"));
    }
    let (name, trace, figs) = match result {
        Ok(r) => r,
        Err(forward_backward_kl::Error::Fit {
            source: forward_backward_kl::FitError::Interrupted { iteration },
            ..
        }) => {
            return Err(PyKeyboardInterrupt::new_err(format!(
                "the experiment was interrupted at iteration {iteration}"
            )));
        }
        Err(e) => return Err(engine_error(e)),
    };
    let trace_json = PyBytes::new(py, &trace);
    let parsed = py
        .import("json")?
        .call_method1("loads", (trace_json.clone(),))?;
    let figures = PyDict::new(py);
    for f in figs {
        figures.set_item(f.name, PyBytes::new(py, &f.bytes))?;
    }
    Ok(Experiment {
        name,
        trace_json: trace_json.unbind(),
        trace: parsed.unbind(),
        figures: figures.unbind(),
    })
}
