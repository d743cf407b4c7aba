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
