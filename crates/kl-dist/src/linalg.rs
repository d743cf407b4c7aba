//! Dense kernels on small row-major matrices: the Cholesky factor and the triangular solves built on it.
//!
//! Matrices are `&[f64]` of length `d * d`, row-major. A block of `ncols` right-hand sides is a
//! row-major `d × ncols` matrix, so the innermost loops run over contiguous columns and vectorize.
//! Nothing here allocates except [`Cholesky::new`].

/// Sizes up to this use the hand-written factorization; larger ones go through faer.
const SMALL: usize = 8;

/// A pivot counts as positive only above `PIVOT_RTOL · d · aᵢᵢ`: the rounding error of computing
/// it (`aᵢᵢ − Σₖ Cᵢₖ²`, plus that of forming `aᵢᵢ` as a Gram entry `Σₖ Lᵢₖ²`) is about
/// `(i + 1) ε aᵢᵢ`, so a pivot below a few `d ε aᵢᵢ` is numerically zero: the matrix is singular to
/// working precision (e.g. `L Lᵀ` of a rank-deficient `L`, whose computed last pivot is rounding
/// noise of either sign). This rejects matrices with condition number ≳ 1/(4 d ε) ≈ 10¹⁴–10¹⁵.
const PIVOT_RTOL: f64 = 4.0 * f64::EPSILON;

/// Whether `s` is an acceptable `i`-th pivot of a `d × d` matrix with diagonal entry `aii`
/// (NaN-safe: a NaN pivot fails).
#[inline]
fn pivot_ok(s: f64, aii: f64, d: usize) -> bool {
    s > 0.0 && s.is_finite() && s > PIVOT_RTOL * d as f64 * aii
}

/// Lanes of the blocked kernels: points are processed `BLOCK` at a time, stored as `d × BLOCK`
/// (the solves have fixed-width kernels for `BLOCK` and 16 columns, the lanes of the density batch
/// kernels).
pub const BLOCK: usize = 8;

/// Lanes of the density batch kernels: 16 points at a time, so that every triangular-solve row
/// carries four independent 4-lane accumulators (a single chain is latency-bound).
pub(crate) const LANES: usize = 16;

/// The lower Cholesky factor `C` of a symmetric positive definite `A = C Cᵀ`, with what every
/// solve needs: the reciprocal diagonal and `log det A`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cholesky {
    d: usize,
    /// Row-major lower triangle; the strict upper triangle is zero.
    l: Vec<f64>,
    /// For `d > 8` only (else empty): `C` column-major (its lower triangle; the strict upper
    /// triangle is unspecified), the layout faer factors in and solves with.
    lc: Vec<f64>,
    inv_diag: Vec<f64>,
    log_det: f64,
}

impl Cholesky {
    /// Factors the symmetric `d × d` matrix `a` (only its lower triangle is read).
    /// On failure returns the 0-based index of the first non-positive (or NaN) pivot.
    ///
    /// # Errors
    /// `Err(k)` with the 0-based index `k` of the first pivot that is not positive (or is NaN,
    /// or numerically zero relative to `aₖₖ`).
    pub fn new(a: &[f64], d: usize) -> Result<Self, usize> {
        let mut c = Cholesky::identity(d);
        c.refactor(a)?;
        Ok(c)
    }

    /// The factor of the `d × d` identity (all buffers allocated: later [`Cholesky::refactor`]
    /// and [`Cholesky::refactor_gram`] calls allocate nothing).
    pub fn identity(d: usize) -> Self {
        let mut l = vec![0.0; d * d];
        for i in 0..d {
            l[i * d + i] = 1.0;
        }
        Cholesky {
            d,
            lc: if d > SMALL { l.clone() } else { Vec::new() },
            l,
            inv_diag: vec![1.0; d],
            log_det: 0.0,
        }
    }

    /// Factors `A = F Fᵀ` for a square, not necessarily triangular, row-major `f` (`d × d`), without
    /// forming `A` outside the factor's buffers (for `d > 8` the lower triangle of `F Fᵀ` is one
    /// faer triangular product, from d ≈ 200 two fixed jobs of equal work). Allocation-free.
    /// On failure the pivot index is returned.
    ///
    /// # Errors
    /// `Err(k)` with the 0-based index `k` of the first pivot of `F Fᵀ` that is numerically zero
    /// (`F` singular or nearly so) or NaN.
    #[track_caller]
    pub fn refactor_gram(&mut self, f: &[f64]) -> Result<(), usize> {
        let d = self.d;
        assert_eq!(f.len(), d * d, "factor must be d × d");
        if d <= SMALL {
            let mut a = [0.0; SMALL * SMALL];
            gram(f, d, &mut a[..d * d]);
            cholesky_small(&a[..d * d], d, &mut self.l)?;
        } else {
            gram_lower(f, &mut self.lc, d);
            self.factor_lc()?;
        }
        self.finish();
        Ok(())
    }

    /// Factors the lower triangle held in `lc` (column-major) in place with faer and copies the
    /// factor to `l`; `inv_diag` is used as scratch for the diagonal of `A`.
    fn factor_lc(&mut self) -> Result<(), usize> {
        let d = self.d;
        for i in 0..d {
            self.inv_diag[i] = self.lc[i * d + i];
        }
        let req = faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
            d,
            faer::Par::Seq,
            llt_params(d),
        );
        const STACK: usize = 4096;
        let mut on_stack = [const { core::mem::MaybeUninit::<f64>::uninit() }; STACK];
        let mut heap;
        let stack = if req.size_bytes() + req.align_bytes() <= STACK * 8 {
            faer::dyn_stack::MemStack::new_any(&mut on_stack)
        } else {
            heap = faer::dyn_stack::MemBuffer::new(req);
            faer::dyn_stack::MemStack::new(&mut heap)
        };
        let m = faer::MatMut::from_column_major_slice_mut(&mut self.lc, d, d);
        faer::linalg::cholesky::llt::factor::cholesky_in_place(
            m,
            Default::default(),
            faer::Par::Seq,
            stack,
            llt_params(d),
        )
        .map_err(|e| match e {
            faer::linalg::solvers::LltError::NonPositivePivot { index } => index,
        })?;
        // faer accepts tiny positive pivots: apply the same test as the hand-written kernel (a
        // NaN anywhere fails it).
        for i in 0..d {
            let lii = self.lc[i * d + i];
            // A NaN lii gives a NaN square, which fails `pivot_ok`.
            if lii <= 0.0 || !pivot_ok(lii * lii, self.inv_diag[i], d) {
                return Err(i);
            }
        }
        // The strict upper triangle of `l` is zero from `identity` on and never written.
        transpose_triangle(&self.lc, &mut self.l, d, Triangle::Lower);
        Ok(())
    }

    /// Reciprocal diagonal and `log det A` from `l`.
    fn finish(&mut self) {
        let d = self.d;
        let mut log_det = 0.0;
        for i in 0..d {
            let lii = self.l[i * d + i];
            self.inv_diag[i] = 1.0 / lii;
            log_det += lii.ln();
        }
        self.log_det = 2.0 * log_det;
    }

    /// `X ← C⁻¹ X` for the `m` points of `x` (row-major `m × d`: point s is `x[s d .. s d + d]`),
    /// i.e. every point whitened. For `d > 8` one faer triangular solve with `m` right-hand sides.
    pub fn solve_lower_points(&self, x: &mut [f64]) {
        let d = self.d;
        assert_eq!(x.len() % d, 0, "x must hold whole points");
        if d <= SMALL {
            x.chunks_exact_mut(d).for_each(|p| self.solve_lower(p));
            return;
        }
        let m = x.len() / d;
        let c = faer::MatRef::from_column_major_slice(&self.lc, d, d);
        let b = faer::MatMut::from_column_major_slice_mut(x, d, m);
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(c, b, faer::Par::Seq);
    }

    /// `X ← C⁻ᵀ X` for the `m` points of `x` (row-major `m × d`), see
    /// [`Cholesky::solve_lower_points`].
    pub fn solve_upper_points(&self, x: &mut [f64]) {
        let d = self.d;
        assert_eq!(x.len() % d, 0, "x must hold whole points");
        if d <= SMALL {
            x.chunks_exact_mut(d).for_each(|p| self.solve_upper(p));
            return;
        }
        let m = x.len() / d;
        // Row-major C read column-major is Cᵀ, upper triangular.
        let ct = faer::MatRef::from_column_major_slice(&self.l, d, d);
        let b = faer::MatMut::from_column_major_slice_mut(x, d, m);
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(ct, b, faer::Par::Seq);
    }

    /// `B ← C⁻¹ B` for a row-major `d × ncols` matrix `b` (its columns are the right-hand sides):
    /// for `d > 8` a faer triangular solve, else [`Cholesky::solve_lower_cols`].
    pub fn solve_lower_matrix(&self, b: &mut [f64], ncols: usize) {
        self.solve_matrix_with(b, ncols, true, false);
    }

    /// `B ← C⁻ᵀ B` for a row-major `d × ncols` matrix `b`, see [`Cholesky::solve_lower_matrix`].
    pub fn solve_upper_matrix(&self, b: &mut [f64], ncols: usize) {
        self.solve_matrix_with(b, ncols, false, true);
    }

    /// `B ← A⁻¹ B` for a row-major `d × ncols` matrix `b` (faer for `d > 8`).
    pub fn solve_matrix(&self, b: &mut [f64], ncols: usize) {
        self.solve_matrix_with(b, ncols, true, true);
    }

    fn solve_matrix_with(&self, b: &mut [f64], ncols: usize, lower: bool, upper: bool) {
        let d = self.d;
        assert_eq!(b.len(), d * ncols, "b must be d × ncols");
        if d <= SMALL {
            if lower {
                self.solve_lower_cols(b, ncols);
            }
            if upper {
                self.solve_upper_cols(b, ncols);
            }
            return;
        }
        use faer::linalg::triangular_solve as ts;
        let mut b = faer::MatMut::from_row_major_slice_mut(b, d, ncols);
        if lower {
            let c = faer::MatRef::from_column_major_slice(&self.lc, d, d);
            ts::solve_lower_triangular_in_place(c, b.as_mut(), faer::Par::Seq);
        }
        if upper {
            // Row-major C read column-major is Cᵀ, upper triangular.
            let ct = faer::MatRef::from_column_major_slice(&self.l, d, d);
            ts::solve_upper_triangular_in_place(ct, b, faer::Par::Seq);
        }
    }

    /// Factors `a` into this factor's buffers (same `d`), without allocating (for `d > 8` by faer's
    /// blocked Cholesky in place, with its scratch on the stack up to `d ≈ 4000`).
    /// On failure the factor's contents are unspecified and the pivot index is returned.
    ///
    /// # Errors
    /// `Err(k)` with the 0-based index `k` of the first pivot that is not positive (or is NaN,
    /// or numerically zero relative to `aₖₖ`).
    #[track_caller]
    pub fn refactor(&mut self, a: &[f64]) -> Result<(), usize> {
        let d = self.d;
        assert_eq!(a.len(), d * d, "matrix must be d × d");
        if d <= SMALL {
            cholesky_small(a, d, &mut self.l)?;
        } else {
            // Column-major lower triangle of `a` (read from its row-major lower triangle).
            transpose_triangle(a, &mut self.lc, d, Triangle::Upper);
            self.factor_lc()?;
        }
        self.finish();
        Ok(())
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// The factor `C`, row-major, zeros above the diagonal.
    pub fn factor(&self) -> &[f64] {
        &self.l
    }

    /// `1 / Cᵢᵢ` for each i.
    #[inline(always)]
    pub(crate) fn inv_diag(&self) -> &[f64] {
        &self.inv_diag
    }

    /// `log det A = 2 Σ ln Cᵢᵢ`.
    pub fn log_det(&self) -> f64 {
        self.log_det
    }

    /// `x ← C⁻¹ x` (forward substitution).
    #[inline]
    pub fn solve_lower(&self, x: &mut [f64]) {
        let d = self.d;
        debug_assert_eq!(x.len(), d);
        for i in 0..d {
            let row = &self.l[i * d..i * d + i];
            let mut acc = x[i];
            for (lij, xj) in row.iter().zip(&x[..i]) {
                acc -= lij * xj;
            }
            x[i] = acc * self.inv_diag[i];
        }
    }

    /// `x ← C⁻ᵀ x` (backward substitution).
    #[inline]
    pub fn solve_upper(&self, x: &mut [f64]) {
        let d = self.d;
        debug_assert_eq!(x.len(), d);
        for i in (0..d).rev() {
            let mut acc = x[i];
            for (j, xj) in x.iter().enumerate().skip(i + 1) {
                acc -= self.l[j * d + i] * xj;
            }
            x[i] = acc * self.inv_diag[i];
        }
    }

    /// `x ← A⁻¹ x`.
    #[inline]
    pub fn solve(&self, x: &mut [f64]) {
        self.solve_lower(x);
        self.solve_upper(x);
    }

    /// `B ← C⁻¹ B` for a row-major `d × ncols` block `b`.
    #[inline(always)]
    pub fn solve_lower_cols(&self, b: &mut [f64], ncols: usize) {
        if ncols == LANES {
            lower_cols::<LANES>(&self.l, &self.inv_diag, self.d, b);
        } else if ncols == BLOCK {
            lower_cols::<BLOCK>(&self.l, &self.inv_diag, self.d, b);
        } else {
            lower_cols_dyn(&self.l, &self.inv_diag, self.d, b, ncols);
        }
    }

    /// `B ← C⁻ᵀ B` for a row-major `d × ncols` block `b`.
    #[inline(always)]
    pub fn solve_upper_cols(&self, b: &mut [f64], ncols: usize) {
        if ncols == LANES {
            upper_cols::<LANES>(&self.l, &self.inv_diag, self.d, b);
        } else if ncols == BLOCK {
            upper_cols::<BLOCK>(&self.l, &self.inv_diag, self.d, b);
        } else {
            upper_cols_dyn(&self.l, &self.inv_diag, self.d, b, ncols);
        }
    }

    /// `B ← A⁻¹ B` for a row-major `d × ncols` block `b`.
    pub fn solve_cols(&self, b: &mut [f64], ncols: usize) {
        self.solve_lower_cols(b, ncols);
        self.solve_upper_cols(b, ncols);
    }

    /// `A = C Cᵀ`, row-major, written into `out` (`d * d`).
    pub fn reconstruct(&self, out: &mut [f64]) {
        let d = self.d;
        for i in 0..d {
            for j in 0..=i {
                let mut s = 0.0;
                for k in 0..=j {
                    s += self.l[i * d + k] * self.l[j * d + k];
                }
                out[i * d + j] = s;
                out[j * d + i] = s;
            }
        }
    }
}

/// Hand-written Cholesky–Banachiewicz for small `d`; reads the lower triangle of `a`.
fn cholesky_small(a: &[f64], d: usize, l: &mut [f64]) -> Result<(), usize> {
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if !pivot_ok(s, a[i * d + i], d) {
                    return Err(i);
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
        for j in i + 1..d {
            l[i * d + j] = 0.0;
        }
    }
    Ok(())
}

/// faer's blocked Cholesky for larger `d`.
#[cfg(any(test, feature = "bench"))]
fn cholesky_faer(a: &[f64], d: usize, l: &mut [f64]) -> Result<(), usize> {
    let m = faer::Mat::<f64>::from_fn(
        d,
        d,
        |i, j| if j <= i { a[i * d + j] } else { a[j * d + i] },
    );
    let llt = m.llt(faer::Side::Lower).map_err(|e| match e {
        faer::linalg::solvers::LltError::NonPositivePivot { index } => index,
    })?;
    let f = llt.L();
    for i in 0..d {
        for j in 0..d {
            l[i * d + j] = if j <= i { f[(i, j)] } else { 0.0 };
        }
    }
    // faer accepts tiny positive pivots: apply the same test as the hand-written kernel (a NaN or
    // inf anywhere is a failure too).
    match (0..d).find(|&i| {
        let lii = l[i * d + i];
        // A NaN lii gives a NaN square, which fails `pivot_ok`.
        lii <= 0.0 || !pivot_ok(lii * lii, a[i * d + i], d)
    }) {
        Some(i) => Err(i),
        None => Ok(()),
    }
}

/// Factors with faer regardless of size (a test oracle for the hand-written path).
///
/// # Errors
/// `Err(k)` with the 0-based index `k` of the first failing pivot, as [`Cholesky::new`].
#[cfg(any(test, feature = "bench"))]
pub fn cholesky_with_faer(a: &[f64], d: usize) -> Result<Vec<f64>, usize> {
    let mut l = vec![0.0; d * d];
    cholesky_faer(a, d, &mut l)?;
    Ok(l)
}

/// Factors with the hand-written kernel regardless of size (tested against faer).
///
/// # Errors
/// `Err(k)` with the 0-based index `k` of the first failing pivot, as [`Cholesky::new`].
#[cfg(any(test, feature = "bench"))]
pub fn cholesky_hand_written(a: &[f64], d: usize) -> Result<Vec<f64>, usize> {
    let mut l = vec![0.0; d * d];
    cholesky_small(a, d, &mut l)?;
    Ok(l)
}

/// Forward substitution on a `d × N` block, two rows at a time: each loaded row `j` updates both
/// accumulators (half the loads, two independent dependency chains). Each row still subtracts
/// its terms in the order j = 0, 1, …, so the result is that of plain forward substitution.
#[inline(always)]
fn lower_cols<const N: usize>(l: &[f64], inv_diag: &[f64], d: usize, b: &mut [f64]) {
    debug_assert_eq!(b.len(), d * N);
    let mut i = 0;
    while i + 1 < d {
        let (done, rest) = b.split_at_mut(i * N);
        let (r0, r1) = rest.split_at_mut(N);
        let mut acc0: [f64; N] = (&*r0).try_into().expect("block row has N lanes");
        let mut acc1: [f64; N] = (&r1[..N]).try_into().expect("block row has N lanes");
        let l0 = &l[i * d..i * d + i];
        let l1 = &l[(i + 1) * d..(i + 1) * d + i + 1];
        for ((bj, a), c) in done.chunks_exact(N).zip(l0).zip(l1) {
            for s in 0..N {
                acc0[s] -= a * bj[s];
                acc1[s] -= c * bj[s];
            }
        }
        let (q0, q1) = (inv_diag[i], inv_diag[i + 1]);
        let c = l1[i];
        for s in 0..N {
            let v = acc0[s] * q0;
            r0[s] = v;
            acc1[s] -= c * v;
        }
        for (v, a) in r1[..N].iter_mut().zip(acc1) {
            *v = a * q1;
        }
        i += 2;
    }
    if i < d {
        let (done, rest) = b.split_at_mut(i * N);
        let bi = &mut rest[..N];
        let mut acc: [f64; N] = (&*bi).try_into().expect("block row has N lanes");
        for (bj, lij) in done.chunks_exact(N).zip(&l[i * d..i * d + i]) {
            for s in 0..N {
                acc[s] -= lij * bj[s];
            }
        }
        let r = inv_diag[i];
        for (v, a) in bi.iter_mut().zip(acc) {
            *v = a * r;
        }
    }
}

/// Backward substitution `B ← C⁻ᵀ B` on a `d × N` block, two rows at a time (see
/// [`lower_cols`]). Row i + 1 sums its terms j = i + 2, …, d − 1 in order; row i sums the same
/// terms, then its j = i + 1 term (which needs row i + 1 final) last.
#[inline(always)]
fn upper_cols<const N: usize>(l: &[f64], inv_diag: &[f64], d: usize, b: &mut [f64]) {
    debug_assert_eq!(b.len(), d * N);
    let mut top = d; // rows top.. are final
    while top >= 2 {
        let (i0, i1) = (top - 2, top - 1);
        let (head, done) = b.split_at_mut(top * N);
        let (r0, r1) = head[i0 * N..].split_at_mut(N);
        let mut acc0: [f64; N] = (&*r0).try_into().expect("block row has N lanes");
        let mut acc1: [f64; N] = (&*r1).try_into().expect("block row has N lanes");
        for (jj, bj) in done.chunks_exact(N).enumerate() {
            let j = top + jj;
            let (a, c) = (l[j * d + i0], l[j * d + i1]);
            for s in 0..N {
                acc0[s] -= a * bj[s];
                acc1[s] -= c * bj[s];
            }
        }
        let (q0, q1) = (inv_diag[i0], inv_diag[i1]);
        let c = l[i1 * d + i0];
        for s in 0..N {
            let x1 = acc1[s] * q1;
            r1[s] = x1;
            r0[s] = (acc0[s] - c * x1) * q0;
        }
        top -= 2;
    }
    if top == 1 {
        let (head, done) = b.split_at_mut(N);
        let mut acc: [f64; N] = (&*head).try_into().expect("block row has N lanes");
        for (jj, bj) in done.chunks_exact(N).enumerate() {
            let lji = l[(1 + jj) * d];
            for s in 0..N {
                acc[s] -= lji * bj[s];
            }
        }
        let r = inv_diag[0];
        for (v, a) in head.iter_mut().zip(acc) {
            *v = a * r;
        }
    }
}

fn lower_cols_dyn(l: &[f64], inv_diag: &[f64], d: usize, b: &mut [f64], n: usize) {
    debug_assert_eq!(b.len(), d * n);
    for i in 0..d {
        let (done, rest) = b.split_at_mut(i * n);
        let bi = &mut rest[..n];
        for j in 0..i {
            let lij = l[i * d + j];
            for (v, w) in bi.iter_mut().zip(&done[j * n..j * n + n]) {
                *v -= lij * w;
            }
        }
        let r = inv_diag[i];
        bi.iter_mut().for_each(|v| *v *= r);
    }
}

fn upper_cols_dyn(l: &[f64], inv_diag: &[f64], d: usize, b: &mut [f64], n: usize) {
    debug_assert_eq!(b.len(), d * n);
    for i in (0..d).rev() {
        let (head, done) = b.split_at_mut((i + 1) * n);
        let bi = &mut head[i * n..];
        for j in i + 1..d {
            let lji = l[j * d + i];
            for (v, w) in bi.iter_mut().zip(&done[(j - i - 1) * n..(j - i) * n]) {
                *v -= lji * w;
            }
        }
        let r = inv_diag[i];
        bi.iter_mut().for_each(|v| *v *= r);
    }
}

/// Σ `v` in a fixed order without one long chain of dependent additions: eight running sums
/// (lane t takes the values t, t + 8, …), the lanes added pairwise, then the tail (the last
/// `len % 8` values, in order).
pub fn lanes_sum(v: &[f64]) -> f64 {
    let mut part = [0.0; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for t in 0..8 {
            part[t] += c[t];
        }
    }
    let tail: f64 = chunks.remainder().iter().sum();
    (((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7])))
        + tail
}

/// `out = a b` for row-major `a` (`m × k`) and `b` (`k × n`).
pub fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize, out: &mut [f64]) {
    debug_assert_eq!(a.len(), m * k);
    debug_assert_eq!(b.len(), k * n);
    debug_assert_eq!(out.len(), m * n);
    struct Op<'a>(&'a [f64], &'a [f64], usize, usize, usize, &'a mut [f64]);
    impl crate::par::Kernel for Op<'_> {
        #[inline(always)]
        fn run(self) {
            let Op(a, b, m, k, n, out) = self;
            out.fill(0.0);
            for (ai, oi) in a.chunks_exact(k).zip(out.chunks_exact_mut(n)).take(m) {
                for (aip, bp) in ai.iter().zip(b.chunks_exact(n)) {
                    for (o, bv) in oi.iter_mut().zip(bp) {
                        *o += aip * bv;
                    }
                }
            }
        }
    }
    if m * k * n < 256 {
        return crate::par::Kernel::run(Op(a, b, m, k, n, out));
    }
    // Rows are independent: split them over threads when large (same results either way).
    crate::par::par_chunks(m * k * n, a, k, out, n, |a, o| {
        crate::par::vectorized(Op(a, b, o.len() / n, k, n, o));
    });
}

/// `out += aᵀ b` for row-major `a` (`r × m`) and `b` (`r × n`): `out[i][j] += Σₛ a[s][i] b[s][j]`
/// (a sum of outer products; `out` is `m × n`), summed over the rows in order; above
/// `r m n ≥ 2²¹` as partial sums over fixed chunks of 1024 rows, on threads, added in chunk order
/// (the result depends on the sizes only, not on the thread count).
pub fn matmul_tn_acc(a: &[f64], b: &[f64], m: usize, n: usize, out: &mut [f64]) {
    debug_assert_eq!(a.len() / m, b.len() / n);
    debug_assert_eq!(out.len(), m * n);
    struct Op<'a>(&'a [f64], &'a [f64], usize, usize, &'a mut [f64]);
    impl crate::par::Kernel for Op<'_> {
        #[inline(always)]
        fn run(self) {
            let Op(a, b, m, n, out) = self;
            for (ar, br) in a.chunks_exact(m).zip(b.chunks_exact(n)) {
                for (ari, oi) in ar.iter().zip(out.chunks_exact_mut(n)) {
                    for (o, bv) in oi.iter_mut().zip(br) {
                        *o += ari * bv;
                    }
                }
            }
        }
    }
    let rows = a.len() / m;
    if rows * m * n < crate::par::PAR_WORK || crate::par::threads() < 2 {
        return crate::par::vectorized(Op(a, b, m, n, out));
    }
    // Large: partial sums over fixed chunks of rows, added in chunk order, so that the result
    // depends on the sizes only, never on the number of threads.
    const CHUNK: usize = 1024;
    let n_chunks = rows.div_ceil(CHUNK);
    let mut partial = vec![0.0; n_chunks * m * n];
    let per_thread = n_chunks.div_ceil(crate::par::threads());
    let jobs = partial
        .chunks_mut(per_thread * m * n)
        .zip(a.chunks(per_thread * CHUNK * m))
        .zip(b.chunks(per_thread * CHUNK * n));
    crate::par::run_jobs(jobs, |((p, a), b)| {
        for ((pc, ac), bc) in p
            .chunks_mut(m * n)
            .zip(a.chunks(CHUNK * m))
            .zip(b.chunks(CHUNK * n))
        {
            crate::par::vectorized(Op(ac, bc, m, n, pc));
        }
    });
    for pc in partial.chunks_exact(m * n) {
        out.iter_mut().zip(pc).for_each(|(o, p)| *o += p);
    }
}

/// `out = a b` (`accumulate = false`) or `out += a b` (`true`) by faer's GEMM on the calling
/// thread, for row-major `a` (`m × k`), `b` (`k × n`) and `out` (`m × n`).
pub fn gemm(out: &mut [f64], accumulate: bool, a: &[f64], b: &[f64], m: usize, k: usize, n: usize) {
    assert_eq!(a.len(), m * k, "a must be m × k");
    assert_eq!(b.len(), k * n, "b must be k × n");
    assert_eq!(out.len(), m * n, "out must be m × n");
    faer::linalg::matmul::matmul(
        faer::MatMut::from_row_major_slice_mut(out, m, n),
        if accumulate {
            faer::Accum::Add
        } else {
            faer::Accum::Replace
        },
        faer::MatRef::from_row_major_slice(a, m, k),
        faer::MatRef::from_row_major_slice(b, k, n),
        1.0,
        faer::Par::Seq,
    );
}

/// From this many multiply-adds on, [`gram_lower`] splits its product into two jobs (d ≈ 200):
/// below it, waking a second thread (≈ 20 µs on the 2-core VM) costs more than it saves.
const GRAM_SPLIT_WORK: usize = 1 << 23;

/// The lower triangle of `F Fᵀ` (row-major `f`, `d × d`) into the column-major `dst` by faer's
/// triangular product. Above [`GRAM_SPLIT_WORK`] as two fixed jobs of equal work, with `F = [F₁; F₂]`
/// split at row `h = ⌈d/2⌉`: the diagonal blocks `F₁F₁ᵀ`, `F₂F₂ᵀ` (lower triangles), and the
/// off-diagonal block `F₂F₁ᵀ`. The split is a function of `d` only (same bits for every thread
/// count).
fn gram_lower(f: &[f64], dst: &mut [f64], d: usize) {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let fv = faer::MatRef::from_row_major_slice(f, d, d);
    let dst = faer::MatMut::from_column_major_slice_mut(dst, d, d);
    let tri = |dst: faer::MatMut<'_, f64>, a: faer::MatRef<'_, f64>| {
        matmul(
            dst,
            BlockStructure::TriangularLower,
            faer::Accum::Replace,
            a,
            BlockStructure::Rectangular,
            a.transpose(),
            BlockStructure::Rectangular,
            1.0,
            faer::Par::Seq,
        );
    };
    if d * d * d < GRAM_SPLIT_WORK {
        return tri(dst, fv);
    }
    let h = d.div_ceil(2);
    let (f1, f2) = fv.split_at_row(h);
    let (d11, _, d21, d22) = dst.split_at_mut(h, h);
    enum Job<'a> {
        Diagonal(faer::MatMut<'a, f64>, faer::MatMut<'a, f64>),
        OffDiagonal(faer::MatMut<'a, f64>),
    }
    let jobs = [Job::Diagonal(d11, d22), Job::OffDiagonal(d21)];
    let run = |job: Job<'_>| match job {
        Job::Diagonal(d11, d22) => {
            tri(d11, f1);
            tri(d22, f2);
        }
        Job::OffDiagonal(d21) => {
            faer::linalg::matmul::matmul(
                d21,
                faer::Accum::Replace,
                f2,
                f1.transpose(),
                1.0,
                faer::Par::Seq,
            );
        }
    };
    if crate::par::threads() < 2 {
        jobs.into_iter().for_each(run);
    } else {
        crate::par::run_jobs(jobs, run);
    }
}

/// `out = aᵀ b` (`accumulate = false`) or `out += aᵀ b` by faer's GEMM on the calling thread, for
/// row-major `a` (`r × m`), `b` (`r × n`) and `out` (`m × n`): a sum of the rows' outer products.
pub fn gemm_tn(out: &mut [f64], accumulate: bool, a: &[f64], b: &[f64], m: usize, n: usize) {
    let r = a.len() / m.max(1);
    assert_eq!(a.len(), r * m, "a must be r × m");
    assert_eq!(b.len(), r * n, "b must be r × n");
    assert_eq!(out.len(), m * n, "out must be m × n");
    faer::linalg::matmul::matmul(
        faer::MatMut::from_row_major_slice_mut(out, m, n),
        if accumulate {
            faer::Accum::Add
        } else {
            faer::Accum::Replace
        },
        faer::MatRef::from_row_major_slice(a, r, m).transpose(),
        faer::MatRef::from_row_major_slice(b, r, n),
        1.0,
        faer::Par::Seq,
    );
}

/// faer's Cholesky parameters for a `d × d` matrix: its defaults up to d = 64 (there one unblocked
/// SIMD factorization), above that diagonal blocks of at most 64 factored recursively down to 32
/// (faer's default of 64-wide unblocked leaves is 25 % slower at d = 128 and 256 on the 2-core
/// VM). A function of `d` only, so the bits are too.
fn llt_params(d: usize) -> faer::Spec<faer::linalg::cholesky::llt::factor::LltParams, f64> {
    let mut p: faer::linalg::cholesky::llt::factor::LltParams = faer::Auto::<f64>::auto();
    if d > 64 {
        p.recursion_threshold = 32;
        p.block_size = 64;
    }
    p.into()
}

/// Which triangle of the destination [`transpose_triangle`] writes (diagonal included).
#[derive(Clone, Copy, PartialEq)]
enum Triangle {
    Lower,
    Upper,
}

/// `dst[r d + c] = src[c d + r]` for the `r ≥ c` (`Lower`) or `r ≤ c` (`Upper`) entries of the
/// `d × d` matrices, by 16 × 16 tiles: an element-wise transpose strides through memory by whole
/// rows, and at d = 128 (rows 1 KiB apart, every fourth one on the same cache sets) it cost twice
/// faer's whole Cholesky.
fn transpose_triangle(src: &[f64], dst: &mut [f64], d: usize, part: Triangle) {
    const TILE: usize = 16;
    debug_assert!(src.len() >= d * d && dst.len() >= d * d);
    for r0 in (0..d).step_by(TILE) {
        let (c_lo, c_hi) = match part {
            Triangle::Lower => (0, r0 + TILE),
            Triangle::Upper => (r0, d),
        };
        for c0 in (c_lo..c_hi.min(d)).step_by(TILE) {
            for r in r0..(r0 + TILE).min(d) {
                let (lo, hi) = match part {
                    Triangle::Lower => (c0, (c0 + TILE).min(r + 1)),
                    Triangle::Upper => (c0.max(r), (c0 + TILE).min(d)),
                };
                for c in lo..hi {
                    dst[r * d + c] = src[c * d + r];
                }
            }
        }
    }
}

/// `out = a aᵀ` for a row-major square `a` (`d × d`).
pub fn gram(a: &[f64], d: usize, out: &mut [f64]) {
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = a[i * d..i * d + d]
                .iter()
                .zip(&a[j * d..j * d + d])
                .map(|(x, y)| x * y)
                .sum();
            out[i * d + j] = s;
            out[j * d + i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(d: usize, seed: u64) -> Vec<f64> {
        // A deterministic well-conditioned SPD matrix: B Bᵀ + d I with B from a small LCG.
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        let b: Vec<f64> = (0..d * d).map(|_| next()).collect();
        let mut a = vec![0.0; d * d];
        gram(&b, d, &mut a);
        for i in 0..d {
            a[i * d + i] += d as f64;
        }
        a
    }

    #[test]
    fn factor_reconstructs_and_solves() {
        for d in [1, 2, 3, 5, 8, 9, 17] {
            let a = spd(d, d as u64);
            let c = Cholesky::new(&a, d).expect("spd");
            let mut back = vec![0.0; d * d];
            c.reconstruct(&mut back);
            for (x, y) in a.iter().zip(&back) {
                assert!((x - y).abs() < 1e-12 * (1.0 + x.abs()), "d = {d}");
            }
            // A (A⁻¹ e) = e, and the block solve agrees with the vector solve.
            let e: Vec<f64> = (0..d).map(|i| (i as f64 + 1.0).sin()).collect();
            let mut x = e.clone();
            c.solve(&mut x);
            let mut ax = vec![0.0; d];
            matmul(&a, &x, d, d, 1, &mut ax);
            for (u, v) in ax.iter().zip(&e) {
                assert!((u - v).abs() < 1e-11, "d = {d}");
            }
            for ncols in [1, 3, BLOCK] {
                let mut blk: Vec<f64> = (0..d * ncols).map(|k| (k as f64 * 0.37).cos()).collect();
                let orig = blk.clone();
                c.solve_cols(&mut blk, ncols);
                for col in 0..ncols {
                    let mut v: Vec<f64> = (0..d).map(|i| orig[i * ncols + col]).collect();
                    c.solve(&mut v);
                    for i in 0..d {
                        assert!((v[i] - blk[i * ncols + col]).abs() < 1e-12);
                    }
                }
            }
        }
    }

    #[test]
    fn failing_pivot_is_reported() {
        // [[1, 2], [2, 1]] has a negative second pivot.
        assert_eq!(Cholesky::new(&[1.0, 2.0, 2.0, 1.0], 2), Err(1));
        assert_eq!(Cholesky::new(&[-1.0, 0.0, 0.0, 1.0], 2), Err(0));
        assert_eq!(Cholesky::new(&[f64::NAN, 0.0, 0.0, 1.0], 2), Err(0));
        let mut big = spd(12, 3);
        big[5 * 12 + 5] = -100.0;
        assert_eq!(Cholesky::new(&big, 12).err(), Some(5));
    }
}
