//! The notebook's 7 figures for its three experiment files (fits, density grids, contouring,
//! drawing and PNG encoding), as `cargo xtask figures` makes them but without writing files.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use forward_backward_kl::figures::{Style, run_figures};
use forward_backward_kl::{app, engine};

fn figures(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let experiments: Vec<_> = ["gaussian-forward", "mixture-forward", "mixture-reverse"]
        .iter()
        .map(|n| app::load(&dir.join(format!("{n}.toml"))).expect("a notebook experiment"))
        .collect();
    let mut g = c.benchmark_group("figures");
    g.sample_size(10);
    g.bench_function("notebook/3-experiments", |b| {
        b.iter(|| {
            let mut names = Vec::new();
            for exp in &experiments {
                let run = engine::run(black_box(exp)).expect("the fit runs");
                for f in run_figures(&run, Style::notebook()).expect("figures") {
                    if !names.contains(&f.name) {
                        names.push(f.name);
                    }
                }
            }
            assert_eq!(names.len(), 7);
            black_box(names)
        });
    });
    g.finish();
}

criterion_group!(benches, figures);
criterion_main!(benches);
