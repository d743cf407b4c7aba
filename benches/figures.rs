//! Every figure of `cargo xtask figures` at the notebook's style (the experiments' fits, density
//! grids, contouring, drawing and PNG encoding, and the story's and the lesson's figures), as it
//! makes them but without writing files.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use forward_backward_kl::app::all_figures;
use forward_backward_kl::figures::Style;

fn figures(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut g = c.benchmark_group("figures");
    g.sample_size(10);
    g.bench_function("notebook/all", |b| {
        b.iter(|| {
            let out =
                all_figures(black_box(&dir), Style::notebook(), |_, _, _| {}).expect("figures");
            assert!(out.iter().any(|o| o.name == "mixture_reverse_kl.png"));
            black_box(out)
        });
    });
    g.finish();
}

criterion_group!(benches, figures);
criterion_main!(benches);
