//! The Python package `klfit`: fit a Gaussian q to a target p by forward or reverse KL (or
//! Rényi α) from a notebook, numpy in and numpy out, over the workspace's Rust crates.
//!
//! A thin binding: arrays are checked and converted at the edge (`arrays`), the fit is the
//! library builder `kl_fit::Fit` (`fit`), experiment files go through the root package's
//! engine (`experiment`), figures through kl-render (`figure`); no numerics live here. A
//! user's log density is a vectorized Python callable (`callable`), called once per batch.
//!
//! # Invariants
//! - The GIL is released while Rust works and taken back only inside a user's callable and
//!   every ~50 ms to let Python run its signal handlers (`interrupt`): Ctrl-C ends a fit with
//!   `KeyboardInterrupt`.
//! - Every error is a Python exception with the engine's message (`errors`): `ValueError` for
//!   bad input, `FitError` (a `RuntimeError`) for a fit that fails; nothing panics on user input.
//! - Python tests only (`tests/test_*.py`): the crate has no Rust test or doc-test targets, so
//!   `cargo test --workspace` never links libpython.

mod arrays;
mod callable;
mod errors;
mod experiment;
mod figure;
mod fit;
mod interrupt;
mod targets;

use pyo3::prelude::*;

/// The native module, re-exported by `klfit/__init__.py`.
#[pymodule]
fn _klfit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FitError", py.get_type::<errors::FitError>())?;
    m.add_class::<targets::Target>()?;
    m.add_class::<targets::Mvn>()?;
    m.add_class::<targets::Mixture>()?;
    m.add_class::<targets::Banana>()?;
    m.add_class::<targets::Funnel>()?;
    m.add_class::<targets::StudentT>()?;
    m.add_class::<targets::Ring>()?;
    m.add_class::<targets::LogisticRegression>()?;
    m.add_class::<targets::LogDensity>()?;
    m.add_class::<fit::Fit>()?;
    m.add_class::<experiment::Experiment>()?;
    m.add_function(wrap_pyfunction!(fit::fit, m)?)?;
    m.add_function(wrap_pyfunction!(experiment::run_experiment, m)?)?;
    Ok(())
}
