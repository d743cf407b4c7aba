//! The notebook's 7 figures for the three experiment files (fits, density grids, contouring,
//! drawing and PNG encoding), as `cargo xtask figures` makes them but without writing files.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use forward_backward_kl::figures::{Style, all_figures, experiment_files};

fn figures(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let files = experiment_files(&dir).expect("experiments/");
    let mut g = c.benchmark_group("figures");
    g.sample_size(10);
    g.bench_function("notebook/3-experiments", |b| {
        b.iter(|| {
            let out =
                all_figures(black_box(&files), Style::notebook(), false, |_| {}).expect("figures");
            assert_eq!(out.len(), 7);
            black_box(out)
        });
    });
    g.finish();
}

criterion_group!(benches, figures);
criterion_main!(benches);
