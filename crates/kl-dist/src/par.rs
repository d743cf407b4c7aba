//! Splitting large batches over threads. Batch outputs are per point, so how the points are split
//! cannot change any result: the pieces are only a matter of speed.
//!
//! The pieces run as jobs of rayon's global pool (`rayon::in_place_scope`: the calling thread
//! takes the first piece, pool threads the others), not on threads started per call: a scoped OS
//! thread costs ~35 µs to start on the 2-core VM, which was a quarter of a d = 32 reverse-KL step.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::linalg::BLOCK;

/// Below this many `n · K · d²` units of work a batch runs on the calling thread (handing work to
/// another thread and waking it costs microseconds).
pub(crate) const PAR_WORK: usize = 1 << 21;

/// A process-wide override of the thread count (0: none), set by [`set_threads`].
static OVERRIDE: AtomicUsize = AtomicUsize::new(0);

/// The number of threads to use (at least 1): the last [`set_threads`], else the environment
/// variable `KL_THREADS` (a positive integer), else the machine's available parallelism; the
/// latter two looked up once.
///
/// No result depends on it: batch outputs are per point, and every reduction over points sums
/// fixed chunks (their size depends on the problem only) in chunk order.
pub fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    match OVERRIDE.load(Ordering::Relaxed) {
        0 => *THREADS.get_or_init(|| {
            std::env::var("KL_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        }),
        n => n,
    }
}

/// Sets the number of threads of every batch kernel of this process (`0` restores the default of
/// [`threads`]). Only speed changes: results are the same bits for every thread count (tests
/// compare 1 and 2 threads).
pub fn set_threads(n: usize) {
    OVERRIDE.store(n, Ordering::Relaxed);
}

/// Runs `f(c0, a_run, b_run)` over fixed chunks of two slices — `a` cut into pieces of `a_len`,
/// `b` into pieces of `b_len`, the same number of pieces (the last ones may be short) — where each
/// call gets a run of consecutive whole chunks starting at chunk `c0`. Runs are spread over up to
/// [`threads`] threads when `work` (floating-point operations, roughly) is at least 2²¹, else
/// there is one run. The chunks are the same whatever the thread count, so results that depend
/// only on each chunk's inputs (the caller processes chunk by chunk) are the same bits for every
/// count. A run is a natural unit for scratch space: one buffer per run, not per chunk.
pub fn for_each_chunk2<F>(
    work: usize,
    a: &mut [f64],
    a_len: usize,
    b: &mut [f64],
    b_len: usize,
    f: F,
) where
    F: Fn(usize, &mut [f64], &mut [f64]) + Sync,
{
    assert!(a_len > 0 && b_len > 0, "chunk lengths must be positive");
    let n_chunks = a.len().div_ceil(a_len);
    assert_eq!(
        n_chunks,
        b.len().div_ceil(b_len),
        "both slices must have the same number of chunks"
    );
    let parts = threads().min(n_chunks);
    if work < PAR_WORK || parts < 2 {
        return f(0, a, b);
    }
    let per = n_chunks.div_ceil(parts);
    let jobs = a
        .chunks_mut(per * a_len)
        .zip(b.chunks_mut(per * b_len))
        .enumerate();
    run_jobs(jobs, |(t, (x, y))| f(t * per, x, y));
}

/// Runs `f` on every job: the first on the calling thread, the others as jobs of rayon's pool,
/// and returns when all are done (the one place the batch kernels hand work to threads).
pub(crate) fn run_jobs<J, I, F>(jobs: I, f: F)
where
    I: IntoIterator<Item = J>,
    J: Send,
    F: Fn(J) + Sync,
{
    let mut jobs = jobs.into_iter().peekable();
    let Some(first) = jobs.next() else {
        return;
    };
    if jobs.peek().is_none() {
        return f(first);
    }
    let f = &f;
    rayon::in_place_scope(|s| {
        for job in jobs {
            s.spawn(move |_| f(job));
        }
        f(first);
    });
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
    run_jobs(points.chunks(m * d).zip(out.chunks_mut(m * w)), |(p, o)| {
        f(p, o)
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
    let jobs = points
        .chunks(m * d)
        .zip(a.chunks_mut(m))
        .zip(b.chunks_mut(m * d));
    run_jobs(jobs, |((p, x), y)| f(p, x, y));
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
