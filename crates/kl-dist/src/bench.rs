//! Hooks for the workspace's criterion benches and for this crate's own tests (feature `bench`):
//! the private kernels they time or check directly. Nothing here is needed to use the crate; the
//! public linear algebra is [`crate::dense`].

pub use crate::fastmath::{exp, ln};
pub use crate::linalg::{cholesky_hand_written, cholesky_with_faer};
