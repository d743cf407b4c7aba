//! Each Rust error type mapped to one Python exception: bad input is a `ValueError`, a fit that
//! fails a `FitError` (a `RuntimeError`), a file that cannot be read an `OSError`; the message
//! is the engine's, with its chain of causes (what the command line prints).

use pyo3::create_exception;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    klfit,
    FitError,
    PyRuntimeError,
    "A fit that failed: it diverged, blew up, turned non-finite, or found no step size."
);

fn report(e: &(dyn std::error::Error + 'static)) -> String {
    forward_backward_kl::report(e)
}

/// A target's parameters refused by its constructor.
pub(crate) fn value_error(e: kl_dist::Error) -> PyErr {
    PyValueError::new_err(report(&e))
}

/// A fit's error: a setting out of range is a `ValueError`, anything else a `FitError`.
pub(crate) fn fit_error(e: kl_fit::Error) -> PyErr {
    match e {
        kl_fit::Error::Setting { .. } => PyValueError::new_err(report(&e)),
        _ => FitError::new_err(report(&e)),
    }
}

/// The experiment engine's error.
pub(crate) fn engine_error(e: forward_backward_kl::Error) -> PyErr {
    use forward_backward_kl::Error as E;
    let msg = report(&e);
    match &e {
        E::Config { .. } | E::Csv { .. } | E::Input { .. } | E::Usage { .. } => {
            PyValueError::new_err(msg)
        }
        E::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        E::Io { .. } => PyOSError::new_err(msg),
        _ => FitError::new_err(msg),
    }
}
