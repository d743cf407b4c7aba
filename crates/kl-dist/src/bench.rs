//! Hooks for the workspace's criterion benches (feature `bench`): the kernels the benches time
//! directly, so that [`crate::linalg`] and [`crate::fastmath`] can become private without the
//! benches losing them. Nothing here is needed to use the crate.

pub use crate::fastmath::{exp, ln};
pub use crate::linalg::{Cholesky, gemm, gemm_tn, gram, matmul, set_threads, threads};
