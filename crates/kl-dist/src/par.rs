//! Splitting large batches over threads. Batch outputs are per point, so how the points are split
//! cannot change any result: the pieces are only a matter of speed.

use std::sync::OnceLock;

use crate::linalg::BLOCK;

/// Below this many `n · K · d²` units of work a batch runs on the calling thread (a thread costs
/// tens of microseconds to start).
pub(crate) const PAR_WORK: usize = 1 << 21;

/// The number of threads to use (at least 1), looked up once.
pub(crate) fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Points per piece when a batch of `n` points is split `parts` ways (whole blocks).
fn piece(n: usize, parts: usize) -> usize {
    n.div_ceil(parts).div_ceil(BLOCK) * BLOCK
}

/// Runs `f(points, out)` over `points` (`n × d`) and `out` (`n × w`), split over threads when the
/// batch is large.
pub(crate) fn par_chunks<F>(work: usize, points: &[f64], d: usize, out: &mut [f64], w: usize, f: F)
where
    F: Fn(&[f64], &mut [f64]) + Sync,
{
    let n = out.len() / w;
    let parts = threads();
    if work < PAR_WORK || parts < 2 || n < 2 * BLOCK {
        return f(points, out);
    }
    let m = piece(n, parts);
    std::thread::scope(|s| {
        let mut pieces = points.chunks(m * d).zip(out.chunks_mut(m * w));
        let first = pieces.next();
        for (p, o) in pieces {
            let f = &f;
            s.spawn(move || f(p, o));
        }
        if let Some((p, o)) = first {
            f(p, o);
        }
    });
}

/// As [`par_chunks`] with two outputs: `a` (`n` values) and `b` (`n × d`).
pub(crate) fn par_chunks2<F>(
    work: usize,
    points: &[f64],
    d: usize,
    a: &mut [f64],
    b: &mut [f64],
    f: F,
) where
    F: Fn(&[f64], &mut [f64], &mut [f64]) + Sync,
{
    let n = a.len();
    let parts = threads();
    if work < PAR_WORK || parts < 2 || n < 2 * BLOCK {
        return f(points, a, b);
    }
    let m = piece(n, parts);
    std::thread::scope(|s| {
        let mut pieces = points
            .chunks(m * d)
            .zip(a.chunks_mut(m))
            .zip(b.chunks_mut(m * d));
        let first = pieces.next();
        for ((p, x), y) in pieces {
            let f = &f;
            s.spawn(move || f(p, x, y));
        }
        if let Some(((p, x), y)) = first {
            f(p, x, y);
        }
    });
}

/// The batch kernels that run under [`vectorized`]: implemented with `#[inline(always)]` bodies
/// so that they are compiled for the instruction set chosen at run time.
pub(crate) trait Kernel {
    fn run(self);
}

/// Runs `k` compiled for the best instruction set of this machine (AVX2, AVX-512 or baseline; the
/// arithmetic is the same IEEE operations in the same order, so the results are identical).
#[inline(always)]
pub(crate) fn vectorized<K: Kernel>(k: K) {
    struct Op<K>(K);
    impl<K: Kernel> pulp::WithSimd for Op<K> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _simd: S) {
            self.0.run();
        }
    }
    pulp::Arch::new().dispatch(Op(k));
}

/// The single-threaded batch bodies of a density. [`log_prob_batch`] and [`grad_log_prob_batch`]
/// check the shapes, split the points into fixed chunks for threads and run these per chunk,
/// compiled for the instruction set chosen at run time.
pub(crate) trait BatchKernels: crate::LogDensity + Sync {
    /// Rough floating-point work per point, to decide whether threads pay off.
    fn work_per_point(&self) -> usize;
    /// `log p` of each point of one chunk.
    fn log_prob_batch_impl(&self, points: &[f64], out: &mut [f64]);
    /// `log p` and its gradient for each point of one chunk.
    fn grad_log_prob_batch_impl(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]);
}

struct LogProbKernel<'a, D>(&'a D, &'a [f64], &'a mut [f64]);

impl<D: BatchKernels> Kernel for LogProbKernel<'_, D> {
    #[inline(always)]
    fn run(self) {
        self.0.log_prob_batch_impl(self.1, self.2);
    }
}

struct GradKernel<'a, D>(&'a D, &'a [f64], &'a mut [f64], &'a mut [f64]);

impl<D: BatchKernels> Kernel for GradKernel<'_, D> {
    #[inline(always)]
    fn run(self) {
        self.0.grad_log_prob_batch_impl(self.1, self.2, self.3);
    }
}

/// `LogDensity::log_prob_batch` for a density with [`BatchKernels`].
pub(crate) fn log_prob_batch<D: BatchKernels>(density: &D, points: &[f64], out: &mut [f64]) {
    let d = density.dim();
    assert_eq!(
        points.len(),
        out.len() * d,
        "points must hold out.len() points of dimension d"
    );
    let work = out.len() * density.work_per_point();
    par_chunks(work, points, d, out, 1, |p, o| {
        vectorized(LogProbKernel(density, p, o))
    });
}

/// `LogDensity::grad_log_prob_batch` for a density with [`BatchKernels`].
pub(crate) fn grad_log_prob_batch<D: BatchKernels>(
    density: &D,
    points: &[f64],
    log_prob: &mut [f64],
    grad: &mut [f64],
) {
    let d = density.dim();
    assert_eq!(
        points.len(),
        log_prob.len() * d,
        "points must hold log_prob.len() points"
    );
    assert_eq!(
        grad.len(),
        points.len(),
        "grad must have the shape of points"
    );
    let work = log_prob.len() * density.work_per_point();
    par_chunks2(work, points, d, log_prob, grad, |p, l, g| {
        vectorized(GradKernel(density, p, l, g))
    });
}
