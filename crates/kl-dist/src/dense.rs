//! The dense kernels and the threading controls that `kl-grad` builds its objectives on: the
//! [`Cholesky`] factor, small row-major matrix products and a deterministic chunked parallel loop.
//!
//! Matrices are flat row-major `&[f64]`: an `m × n` matrix has length `m * n`, entry `(i, j)` at
//! `i * n + j`. Everything else of the crate's linear algebra is private.
//!
//! # Invariants
//! - Shapes are programming errors, not input errors: a slice of the wrong length panics with a
//!   message (these kernels sit in hot loops behind objectives that check their inputs once).
//! - Products write into caller slices. Allocation happens only in [`Cholesky::new`] and
//!   [`Cholesky::identity`] and, above the threading threshold, in [`matmul_tn_acc`] (its
//!   per-chunk partial sums); [`Cholesky::refactor`] and [`Cholesky::refactor_gram`] reuse the
//!   factor's buffers.
//! - No result depends on the thread count ([`threads`], [`set_threads`]): products above the
//!   threading threshold sum fixed chunks in chunk order, and [`for_each_chunk2`] cuts its chunks
//!   the same way for every count.
//! - Points are processed in blocks of [`BLOCK`] by the batch kernels.
//!
//! # Example
//! ```
//! use kl_dist::dense::{Cholesky, gram, matmul};
//!
//! // Σ = L Lᵀ from a square factor, then its Cholesky factor and a solve Σ x = b.
//! let l = [2.0, 0.0, 1.0, 3.0];
//! let mut sigma = [0.0; 4];
//! gram(&l, 2, &mut sigma);
//! assert_eq!(sigma, [4.0, 2.0, 2.0, 10.0]);
//! let c = Cholesky::new(&sigma, 2).expect("Σ is positive definite");
//! assert!((c.log_det() - (36.0f64).ln()).abs() < 1e-12);
//! let mut x = [1.0, 1.0];
//! c.solve(&mut x);
//! let mut back = [0.0; 2];
//! matmul(&sigma, &x, 2, 2, 1, &mut back);
//! assert!((back[0] - 1.0).abs() < 1e-12 && (back[1] - 1.0).abs() < 1e-12);
//! ```

pub use crate::linalg::{BLOCK, Cholesky, gemm, gemm_tn, gram, lanes_sum, matmul, matmul_tn_acc};
pub use crate::par::{for_each_chunk2, set_threads, threads};
