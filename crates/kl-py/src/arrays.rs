//! numpy at the edge: inputs checked once (dtype float64, the expected shape, every entry
//! finite) and copied once, in C order, into the Rust side — so a strided view (a column
//! `a[:, j]`, a Fortran-ordered array) is read like its contiguous copy; outputs built as new
//! arrays. No silent cast: an int or float32 array is a `ValueError` saying what to pass
//! instead. Plain Python sequences (lists, tuples) of numbers are converted.

use numpy::ndarray::{Array2, Array3};
use numpy::prelude::*;
use numpy::{PyArray1, PyArray2, PyArray3, PyArrayDyn, PyUntypedArray, dtype};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A checked input array: its values row-major and its shape.
pub(crate) struct Dense {
    pub values: Vec<f64>,
    pub shape: Vec<usize>,
}

fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn nested(obj: &Bound<'_, PyAny>, ndim: usize, what: &str) -> PyResult<Dense> {
    let bad = || {
        PyValueError::new_err(format!(
            "{what}: expected a {ndim}-D float64 array (or nested lists of numbers), got {}",
            obj.get_type()
                .name()
                .map_or_else(|_| "an object".into(), |n| n.to_string())
        ))
    };
    match ndim {
        0 => Ok(Dense {
            values: vec![obj.extract::<f64>().map_err(|_| bad())?],
            shape: vec![],
        }),
        1 => {
            let v: Vec<f64> = obj.extract().map_err(|_| bad())?;
            Ok(Dense {
                shape: vec![v.len()],
                values: v,
            })
        }
        _ => {
            let rows: Vec<Bound<'_, PyAny>> = obj.extract().map_err(|_| bad())?;
            let mut values = Vec::new();
            let mut inner: Option<Vec<usize>> = None;
            for (i, r) in rows.iter().enumerate() {
                let d = nested(r, ndim - 1, &format!("{what}[{i}]"))?;
                match &inner {
                    Some(s) if *s != d.shape => {
                        return Err(PyValueError::new_err(format!(
                            "{what}: ragged rows (row 0 has shape {}, row {i} {})",
                            shape_text(s),
                            shape_text(&d.shape)
                        )));
                    }
                    _ => inner = Some(d.shape.clone()),
                }
                values.extend(d.values);
            }
            let mut shape = vec![rows.len()];
            shape.extend(inner.unwrap_or_else(|| vec![0; ndim - 1]));
            Ok(Dense { values, shape })
        }
    }
}

/// `obj` as an `ndim`-D array of finite float64 values.
pub(crate) fn dense(obj: &Bound<'_, PyAny>, ndim: usize, what: &str) -> PyResult<Dense> {
    let d = if let Ok(arr) = obj.cast::<PyUntypedArray>() {
        let py = obj.py();
        let dt = arr.dtype();
        if !dt.is_equiv_to(&dtype::<f64>(py)) {
            return Err(PyValueError::new_err(format!(
                "{what}: expected dtype float64, got {} (convert with .astype(np.float64))",
                dt.str()
                    .map_or_else(|_| "another dtype".into(), |s| s.to_string())
            )));
        }
        if arr.ndim() != ndim {
            return Err(PyValueError::new_err(format!(
                "{what}: expected a {ndim}-D array, got shape {}",
                shape_text(arr.shape())
            )));
        }
        let c_order = arr.is_c_contiguous();
        let arr = obj.cast::<PyArrayDyn<f64>>()?.readonly();
        // C-contiguous: one memcpy. Anything else (a strided view, a Fortran-ordered array,
        // whose `as_slice` would be in memory order): the elements in C (logical) order.
        let values = match arr.as_slice() {
            Ok(v) if c_order => v.to_vec(),
            _ => arr.as_array().iter().copied().collect(),
        };
        Dense {
            values,
            shape: arr.shape().to_vec(),
        }
    } else {
        nested(obj, ndim, what)?
    };
    if let Some(i) = d.values.iter().position(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{what}: entry {} is {} (every entry must be finite)",
            index_text(i, &d.shape),
            py_float(d.values[i])
        )));
    }
    Ok(d)
}

/// `v` as Python writes it (`nan`, `inf`, `-inf`).
pub(crate) fn py_float(v: f64) -> String {
    match v {
        v if v.is_nan() => "nan".into(),
        f64::INFINITY => "inf".into(),
        f64::NEG_INFINITY => "-inf".into(),
        v => format!("{v:?}"),
    }
}

/// The multi-index of flat index `i` in `shape`, as `(i, j)`.
fn index_text(mut i: usize, shape: &[usize]) -> String {
    let mut idx = vec![0; shape.len()];
    for (k, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            idx[k] = i % n;
            i /= n;
        }
    }
    match idx.as_slice() {
        [] => "0".into(),
        [a] => a.to_string(),
        _ => format!(
            "({})",
            idx.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A vector of length `n` (when given).
pub(crate) fn vector(obj: &Bound<'_, PyAny>, n: Option<usize>, what: &str) -> PyResult<Vec<f64>> {
    let d = dense(obj, 1, what)?;
    if let Some(n) = n
        && d.values.len() != n
    {
        return Err(PyValueError::new_err(format!(
            "{what}: expected shape ({n},), got {}",
            shape_text(&d.shape)
        )));
    }
    Ok(d.values)
}

/// A `rows × cols` matrix (each when given), row-major, with its shape.
pub(crate) fn matrix(
    obj: &Bound<'_, PyAny>,
    rows: Option<usize>,
    cols: Option<usize>,
    what: &str,
) -> PyResult<(Vec<f64>, usize, usize)> {
    let d = dense(obj, 2, what)?;
    let (r, c) = (d.shape[0], d.shape[1]);
    if rows.is_some_and(|n| n != r) || cols.is_some_and(|n| n != c) {
        let want = |v: Option<usize>| v.map_or("n".to_string(), |v| v.to_string());
        return Err(PyValueError::new_err(format!(
            "{what}: expected shape ({}, {}), got {}",
            want(rows),
            want(cols),
            shape_text(&d.shape)
        )));
    }
    Ok((d.values, r, c))
}

/// Points of dimension `d`: an `(n, d)` array, or one point `(d,)` (then `single` is true).
pub(crate) fn points(obj: &Bound<'_, PyAny>, d: usize, what: &str) -> PyResult<(Vec<f64>, bool)> {
    let ndim = match obj.cast::<PyUntypedArray>() {
        Ok(a) => a.ndim(),
        Err(_) => match obj.extract::<Vec<f64>>() {
            Ok(_) => 1,
            Err(_) => 2,
        },
    };
    if ndim == 1 {
        Ok((vector(obj, Some(d), what)?, true))
    } else {
        Ok((matrix(obj, None, Some(d), what)?.0, false))
    }
}

pub(crate) fn array1<'py>(py: Python<'py>, v: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_vec(py, v)
}

pub(crate) fn array2<'py>(
    py: Python<'py>,
    v: Vec<f64>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let a = Array2::from_shape_vec((rows, cols), v)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py))
}

pub(crate) fn array3<'py>(
    py: Python<'py>,
    v: Vec<f64>,
    shape: (usize, usize, usize),
) -> PyResult<Bound<'py, PyArray3<f64>>> {
    let a = Array3::from_shape_vec(shape, v).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py))
}
