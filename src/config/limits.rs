//! The documented limits on every size that drives memory or time. An experiment beyond any of
//! them is refused before anything is allocated or run, with the key, the size and the limit.
//!
//! | limit | value | what it bounds |
//! |---|---|---|
//! | [`MAX_EXPERIMENT_BYTES`] | 1 MiB | the experiment file |
//! | [`MAX_CSV_BYTES`] | 256 MiB | a samples or data CSV file |
//! | [`MAX_DIM`] | 512 | the dimension d (θ has d + d² entries) |
//! | [`MAX_VALUES`] | 10⁷ | n × d of any sample set: `n_samples`, a CSV's rows × columns, `diagnostics.n_draws` |
//! | [`MAX_COMPONENTS`] | 256 | the components of a mixture |
//! | [`MAX_ITERS`] | 10⁶ | `optimizer.n_iters` |
//! | [`MAX_STEP_WORK`] | 10¹⁰ | floating-point work of one step, n · K · d² (K = components) |
//! | [`MAX_TOTAL_WORK`] | 10¹³ | the whole fit: its steps, the `"auto"` search, the exact KL at the recorded states, the diagnostics (about an hour here) |
//! | `kl_fit::MAX_RECORD_VALUES` | 10⁶ | the numbers the recorded states of one fit hold (thinned evenly beyond), so a fit's memory and its trace do not grow with `n_iters` |
//!
//! The figures have their own limit on the canvas (`kl_render`'s), checked before the fit from
//! `plot.rows`, `plot.cols` and `--scale`.

/// The largest experiment file read.
pub const MAX_EXPERIMENT_BYTES: u64 = 1 << 20;
/// The largest CSV file read.
pub const MAX_CSV_BYTES: u64 = 256 << 20;
/// The largest dimension.
pub const MAX_DIM: usize = 512;
/// The most numbers in one sample set (n × d).
pub const MAX_VALUES: usize = 10_000_000;
/// The most mixture components.
pub const MAX_COMPONENTS: usize = 256;
/// The most iterations.
pub const MAX_ITERS: usize = 1_000_000;
/// The most work per step, n · K · d².
pub const MAX_STEP_WORK: f64 = 1e10;
/// The most work per fit, n_iters · n · K · d².
pub const MAX_TOTAL_WORK: f64 = 1e13;
