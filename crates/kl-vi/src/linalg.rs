//! Small dense kernels on row-major matrices (the sizes here are d × d with d in the tens or
//! hundreds): products, and the symmetric eigendecomposition through faer.

use crate::Error;

/// `out = a b` for row-major `a` (m × k) and `b` (k × n).
pub(crate) fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize, out: &mut [f64]) {
    debug_assert_eq!(a.len(), m * k);
    debug_assert_eq!(b.len(), k * n);
    debug_assert_eq!(out.len(), m * n);
    out.iter_mut().for_each(|v| *v = 0.0);
    for i in 0..m {
        let row = &mut out[i * n..(i + 1) * n];
        for (p, &aip) in a[i * k..(i + 1) * k].iter().enumerate() {
            if aip != 0.0 {
                for (o, &bpj) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                    *o += aip * bpj;
                }
            }
        }
    }
}

/// `out = aᵀ b` for row-major `a` (k × m) and `b` (k × n): out is m × n.
pub(crate) fn matmul_tn(a: &[f64], b: &[f64], k: usize, m: usize, n: usize, out: &mut [f64]) {
    debug_assert_eq!(a.len(), k * m);
    debug_assert_eq!(b.len(), k * n);
    debug_assert_eq!(out.len(), m * n);
    out.iter_mut().for_each(|v| *v = 0.0);
    for p in 0..k {
        let brow = &b[p * n..(p + 1) * n];
        for (i, &api) in a[p * m..(p + 1) * m].iter().enumerate() {
            if api != 0.0 {
                for (o, &bpj) in out[i * n..(i + 1) * n].iter_mut().zip(brow) {
                    *o += api * bpj;
                }
            }
        }
    }
}

/// `y = a x` for row-major `a` (m × n).
pub(crate) fn matvec(a: &[f64], x: &[f64], m: usize, n: usize, y: &mut [f64]) {
    for (i, yi) in y.iter_mut().enumerate().take(m) {
        *yi = dot(&a[i * n..(i + 1) * n], x);
    }
}

/// `aᵀ b`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `m ← m + s a bᵀ` for a d × d row-major `m`.
pub(crate) fn add_outer(m: &mut [f64], a: &[f64], b: &[f64], s: f64) {
    let d = a.len();
    for i in 0..d {
        let sa = s * a[i];
        for (mij, bj) in m[i * d..(i + 1) * d].iter_mut().zip(b) {
            *mij += sa * bj;
        }
    }
}

/// `m ← (m + mᵀ) / 2`.
pub(crate) fn symmetrize(m: &mut [f64], d: usize) {
    for i in 0..d {
        for j in 0..i {
            let v = 0.5 * (m[i * d + j] + m[j * d + i]);
            m[i * d + j] = v;
            m[j * d + i] = v;
        }
    }
}

/// The eigendecomposition `m = Q diag(λ) Qᵀ` of a symmetric d × d row-major `m` (faer's
/// `self_adjoint_eigen`, reading the lower triangle): eigenvalues ascending, `Q` row-major
/// (column j is the j-th eigenvector).
pub(crate) fn sym_eigen(
    m: &[f64],
    d: usize,
    what: &'static str,
) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let a = faer::MatRef::from_row_major_slice(m, d, d);
    let evd = a
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|_| Error::EigenFailed { what })?;
    let s = evd.S().column_vector();
    let u = evd.U();
    let values: Vec<f64> = (0..d).map(|i| s[i]).collect();
    let mut vectors = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            vectors[i * d + j] = u[(i, j)];
        }
    }
    if values.iter().chain(&vectors).any(|v| !v.is_finite()) {
        return Err(Error::EigenFailed { what });
    }
    Ok((values, vectors))
}
