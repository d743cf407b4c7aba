//! A user's log density as a Python callable, vectorized: `f(X: (n, d)) -> (log_p: (n,),
//! grad: (n, d))`, called once per batch with the GIL taken inside. The first Python error (an
//! exception, a wrong shape, a NaN) is kept in the density's [`ErrorSlot`]; from then on every
//! evaluation returns NaN without calling Python, so the Rust fit stops, and the caller raises
//! the kept error.

use std::sync::{Arc, Mutex};

use kl_dist::LogDensity;
use numpy::PyUntypedArrayMethods;
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The first error a callable raised during one fit (shared by the density and the caller).
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorSlot(Arc<Mutex<Option<PyErr>>>);

impl ErrorSlot {
    pub(crate) fn failed(&self) -> bool {
        self.0.lock().map_or(true, |e| e.is_some())
    }

    fn set(&self, err: PyErr) {
        if let Ok(mut e) = self.0.lock()
            && e.is_none()
        {
            *e = Some(err);
        }
    }

    /// The kept error, if any (taken: a second call gives `None`).
    pub(crate) fn take(&self) -> Option<PyErr> {
        self.0.lock().ok().and_then(|mut e| e.take())
    }
}

/// The callable as a [`LogDensity`] of dimension `d`.
#[derive(Debug)]
pub(crate) struct PyDensity {
    f: Py<PyAny>,
    d: usize,
    slot: ErrorSlot,
}

impl PyDensity {
    pub(crate) fn new(f: Py<PyAny>, d: usize, slot: ErrorSlot) -> PyDensity {
        PyDensity { f, d, slot }
    }

    /// Calls the function on the `n = log_prob.len()` points; on any failure keeps the error and
    /// fills the outputs with NaN.
    fn eval(&self, points: &[f64], log_prob: &mut [f64], grad: Option<&mut [f64]>) {
        let n = log_prob.len();
        let ok = !self.slot.failed()
            && Python::attach(|py| match self.call(py, points, n, log_prob, grad) {
                Ok(()) => true,
                Err(e) => {
                    self.slot.set(e);
                    false
                }
            });
        if !ok {
            log_prob.fill(f64::NAN);
        }
    }

    fn call<'py>(
        &self,
        py: Python<'py>,
        points: &[f64],
        n: usize,
        log_prob: &mut [f64],
        grad: Option<&mut [f64]>,
    ) -> PyResult<()> {
        let d = self.d;
        let x = crate::arrays::array2(py, points.to_vec(), n, d)?;
        let out = self.f.bind(py).call1((x,))?;
        let (lp, g): (Bound<'py, PyAny>, Bound<'py, PyAny>) = out.extract().map_err(|_| {
            PyValueError::new_err(format!(
                "the log density must return a tuple (log_p, grad) of arrays of shapes ({n},) \
                 and ({n}, {d}), got {}",
                type_name(&out)
            ))
        })?;
        let np = py.import("numpy")?;
        let as_f64 = |a: &Bound<'py, PyAny>| -> PyResult<Bound<'py, PyAny>> {
            np.call_method1("ascontiguousarray", (a, "float64"))
        };
        let lp = as_f64(&lp)?;
        let lp = lp.cast::<PyArray1<f64>>().map_err(|_| {
            PyValueError::new_err(format!(
                "the log density returned log_p of shape {}, expected ({n},)",
                shape_of(&lp)
            ))
        })?;
        let lp = lp.readonly();
        let lp = lp
            .as_slice()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        if lp.len() != n {
            return Err(PyValueError::new_err(format!(
                "the log density returned log_p of shape ({},), expected ({n},)",
                lp.len()
            )));
        }
        if let Some(i) = lp.iter().position(|v| v.is_nan()) {
            return Err(PyValueError::new_err(format!(
                "the log density returned log_p = nan at row {i} of {n}: x = {:?}",
                &points[i * d..(i + 1) * d]
            )));
        }
        if let Some(grad) = grad {
            let g = as_f64(&g)?;
            let g2 = g
                .cast::<PyArray2<f64>>()
                .ok()
                .filter(|a| a.shape() == [n, d]);
            let Some(g2) = g2 else {
                return Err(PyValueError::new_err(format!(
                    "the log density returned grad of shape {}, expected ({n}, {d})",
                    shape_of(&g)
                )));
            };
            let g2 = g2.readonly();
            let gs = g2
                .as_slice()
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            if let Some(i) = gs.iter().position(|v| !v.is_finite()) {
                return Err(PyValueError::new_err(format!(
                    "the log density returned grad[{}, {}] = {} (gradients must be finite)",
                    i / d,
                    i % d,
                    crate::arrays::py_float(gs[i])
                )));
            }
            grad.copy_from_slice(gs);
        }
        log_prob.copy_from_slice(lp);
        Ok(())
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "an object".into(), |n| n.to_string())
}

fn shape_of(obj: &Bound<'_, PyAny>) -> String {
    obj.getattr("shape")
        .and_then(|s| s.str().map(|s| s.to_string()))
        .unwrap_or_else(|_| "()".into())
}

impl LogDensity for PyDensity {
    fn dim(&self) -> usize {
        self.d
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        let mut out = [0.0];
        self.log_prob_batch(x, &mut out);
        out[0]
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut out = [0.0];
        self.grad_log_prob_batch(x, &mut out, grad);
        out[0]
    }

    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        assert_eq!(points.len(), out.len() * self.d, "points of dimension d");
        if !out.is_empty() {
            self.eval(points, out, None);
        }
    }

    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        assert_eq!(
            points.len(),
            log_prob.len() * self.d,
            "points of dimension d"
        );
        assert_eq!(grad.len(), points.len(), "grad has the shape of points");
        if !log_prob.is_empty() {
            self.eval(points, log_prob, Some(grad));
            if self.slot.failed() {
                grad.fill(f64::NAN);
            }
        }
    }
}
