//! Memory of a fit does not grow with its number of iterations, at a dimension where storing
//! every state would show (d = 200: θ has 40 200 numbers, 320 kB a state). Alone in its test
//! binary, so the process's peak RSS is this fit's.

use kl_fit::kl_dist::Mvn;
use kl_fit::{Fit, Init, StepSize};

/// VmHWM of this process in kB (Linux).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_long_fit_at_d_200_stays_within_a_fixed_memory() {
    let d = 200;
    let mut cov = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            cov[i * d + j] = if i == j { 1.0 } else { 0.2 };
        }
    }
    let p = Mvn::new(&vec![0.5; d], &cov).expect("valid");
    let before = peak_rss_kb().expect("Linux /proc");
    let n_iters = 3000;
    let fit = Fit::reverse_kl(p)
        .n_samples(2)
        .init(Init::Standard)
        .step_size(StepSize::Fixed(1e-3))
        .max_iters(n_iters)
        .diagnostics(200)
        .seed(1)
        .run()
        .expect("the fit runs");
    let after = peak_rss_kb().expect("Linux /proc");
    let state_kb = (d + d * d) as u64 * 8 / 1024;
    let grown = after.saturating_sub(before);
    eprintln!(
        "peak RSS {before} kB → {after} kB (+{grown} kB); {} records kept of {} states of \
         {state_kb} kB each",
        fit.records().len(),
        n_iters + 1
    );
    // Every state kept would be n_iters × 314 kB ≈ 0.94 GB; the records are capped at
    // MAX_RECORD_VALUES numbers (8 MB) and the rest is a few d × d buffers.
    assert!(fit.records().len() <= kl_fit::record_capacity(d + d * d));
    assert!(fit.records().len() * (d + d * d) <= kl_fit::MAX_RECORD_VALUES);
    assert_eq!(fit.records().last().map(|r| r.iteration), Some(n_iters));
    assert!(grown < 150 * 1024, "peak RSS grew by {grown} kB");
}
