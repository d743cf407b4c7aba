//! Ctrl-C during a fit: while Rust works the GIL is released, so Python's signal handler only
//! sets a flag. The fit's observer re-attaches briefly every [`CHECK_EVERY`] of wall time and
//! asks Python to run its handlers (`Python::check_signals`); a `KeyboardInterrupt` (or any
//! exception a handler raises) is kept and the fit is broken off, and the caller raises it.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

use crate::callable::ErrorSlot;

/// How often the observer checks for signals.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(50);

/// The state of the checks during one fit.
#[derive(Debug)]
pub(crate) struct Watch {
    last: Instant,
    /// The exception a signal handler raised.
    pub(crate) raised: Option<PyErr>,
    /// The error slot of a callable target: a failed callable also breaks the fit off.
    slot: Option<ErrorSlot>,
}

impl Watch {
    pub(crate) fn new(slot: Option<ErrorSlot>) -> Watch {
        Watch {
            last: Instant::now(),
            raised: None,
            slot,
        }
    }

    /// Called after every iteration.
    pub(crate) fn check(&mut self) -> ControlFlow<()> {
        if self.slot.as_ref().is_some_and(ErrorSlot::failed) {
            return ControlFlow::Break(());
        }
        if self.last.elapsed() >= CHECK_EVERY {
            self.last = Instant::now();
            if let Err(e) = Python::attach(|py| py.check_signals()) {
                self.raised = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

/// The exception a signal handler raised, as the caller raises it: a bare `KeyboardInterrupt`
/// that broke off a run at iteration `at` says so ("the fit was interrupted at iteration 1234",
/// chained to the handler's); any other exception is raised as it is.
pub(crate) fn with_iteration(
    py: Python<'_>,
    raised: PyErr,
    at: Option<usize>,
    what: &str,
) -> PyErr {
    match at {
        Some(at) if raised.is_instance_of::<PyKeyboardInterrupt>(py) => {
            let e = PyKeyboardInterrupt::new_err(format!(
                "the {what} was interrupted at iteration {at}"
            ));
            e.set_cause(py, Some(raised));
            e
        }
        _ => raised,
    }
}
