//! The figure pipeline end to end: a small experiment → every expected file, decodable, of the
//! expected size, byte-identical on a second run; `check_figures` names a file that went stale.

use std::path::Path;

use forward_backward_kl::app::{self, output::OutputFile};
use forward_backward_kl::figures::{self, MAX_GIF_FRAMES, Style, gif_frames, shown_iterations};
use image::AnimationDecoder;

const SMALL: &str = r#"
name = "tiny-mixture"
seed = 3

[target]
kind = "mixture"
weights = [0.7, 0.3]
components = [
  { mean = [0.5, -0.5], cov = [[1.0, 0.5], [0.5, 1.0]] },
  { mean = [-2.0, 2.0], cov = [[0.4, 0.0], [0.0, 0.4]] },
]

[init]
mean = [1.0, 1.0]
raw = [[1.0, 0.0], [0.3, 1.0]]

[objective]
kind = "reverse-kl"
n_samples = 200

[optimizer]
kind = "sgd"
learning_rate = 0.1
n_iters = 5

[plot]
lim = [-4.0, 4.0, -4.0, 4.0]
grid = 48
rows = 2
cols = 3
prefix = "tiny"
"#;

fn produce(dir: &Path) -> Vec<OutputFile> {
    let file = dir.join("tiny.toml");
    std::fs::write(&file, SMALL).expect("write the experiment");
    let exp = app::load(&file).expect("the experiment is valid");
    let run = forward_backward_kl::engine::run(&exp).expect("the fit runs");
    figures::run_figures(&run, Style::default())
        .expect("the figures draw")
        .into_iter()
        .map(|o| OutputFile {
            name: o.name,
            bytes: o.bytes,
        })
        .collect()
}

#[test]
fn pipeline_writes_every_figure_decodable_and_reproducible() {
    let scratch = kl_testkit::scratch_dir("figures-figures-pipeline-");
    let dir = scratch.path().to_path_buf();
    let outputs = produce(&dir);
    let out = dir.join("figures");
    app::output::write_generated(&out, &outputs).expect("write");

    // name → (width, height, frames): 6 × 6 in and a 3 × 2 grid of 3 in panels at 72 dpi.
    let expected: [(&str, u32, u32, usize); 6] = [
        ("tiny_target.png", 432, 432, 1),
        ("tiny_samples.png", 432, 432, 1),
        ("tiny_mixture_kl.png", 648, 432, 1),
        ("tiny_mixture_kl.gif", 432, 432, 6),
        ("tiny_mixture_kl_curves.png", 460, 345, 1),
        // Written by nobody: checked absent below.
        ("", 0, 0, 0),
    ];
    let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    for (name, w, h, frames) in expected.iter().filter(|e| !e.0.is_empty()) {
        let path = out.join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name} missing: {e}"));
        if name.ends_with(".gif") {
            let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&bytes))
                .expect("GIF header");
            let decoded = decoder
                .into_frames()
                .collect_frames()
                .expect("GIF frames decode");
            assert_eq!(decoded.len(), *frames, "{name}: one frame per iteration");
            let first = decoded[0].buffer();
            assert_eq!((first.width(), first.height()), (*w, *h), "{name}");
        } else {
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
                .expect("PNG decodes");
            assert_eq!((img.width(), img.height()), (*w, *h), "{name}");
        }
    }
    assert!(!out.read_dir().expect("list").any(|e| {
        e.expect("entry")
            .file_name()
            .to_string_lossy()
            .contains(".tmp")
    }));

    // A second run gives the same bytes, and the folder checks clean.
    let again = produce(&dir);
    assert_eq!(outputs, again, "figures are byte-identical from run to run");
    assert!(app::check_figures(&out, &again).expect("check").is_empty());

    // A changed file and a generated file no longer produced are both named (and the manifest).
    std::fs::write(out.join("tiny_samples.png"), b"not a png").expect("overwrite");
    let fewer: Vec<OutputFile> = again
        .iter()
        .filter(|o| o.name != "tiny_target.png")
        .cloned()
        .collect();
    let stale = app::check_figures(&out, &fewer).expect("check");
    let stale: Vec<String> = stale
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        stale,
        ["tiny_samples.png", "tiny_target.png", app::output::MANIFEST]
    );
    // Writing again repairs the first.
    app::output::write_generated(&out, &again).expect("rewrite");
    assert!(app::check_figures(&out, &again).expect("check").is_empty());
}

#[test]
fn grid_panels_show_consecutive_iterations_when_they_fit() {
    // The notebook: 20 updates on 20 panels shows iterations 0..=19 (its titles skipped 4, 9, …).
    assert_eq!(shown_iterations(20, 20), (0..20).collect::<Vec<_>>());
    assert_eq!(shown_iterations(5, 6), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(shown_iterations(3, 6), vec![0, 1, 2, 3]);
    // A long run is sampled evenly from 0.
    assert_eq!(shown_iterations(100, 4), vec![0, 25, 50, 75]);
}

#[test]
fn the_committed_figures_are_what_the_experiments_produce() {
    // What `cargo xtask figures --check` checks, for the notebook's three experiments.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = app::experiment_files(&root.join("experiments")).expect("experiments/");
    assert!(
        files.len() >= 3,
        "the notebook's three experiments are there"
    );
    let outputs =
        app::all_figures(&root.join("experiments"), Style::default(), |_, _, _| {}).expect("run");
    for name in [
        "gaussian_target.png",
        "gaussian_samples.png",
        "gaussian_forward_kl.png",
        "mixture_target.png",
        "mixture_samples.png",
        "mixture_forward_kl.png",
        "mixture_reverse_kl.png",
        "converged.png",
        "bishop_10_2.png",
        "bishop_10_3.png",
        "renyi_mean_field.png",
        "renyi_mixture.png",
    ] {
        let o = outputs
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("{name} is produced"));
        let committed = std::fs::read(root.join("figures").join(name))
            .unwrap_or_else(|e| panic!("figures/{name}: {e}"));
        assert!(
            committed == o.bytes,
            "figures/{name} is stale: run `cargo xtask figures`"
        );
    }
}

#[test]
fn a_long_trace_animates_at_most_the_cap() {
    // 2 000 updates of the tiny experiment: 200 frames, the first and the last among them.
    let scratch = kl_testkit::scratch_dir("figures-figures-long-");
    let dir = scratch.path().to_path_buf();
    let file = dir.join("long.toml");
    std::fs::write(&file, SMALL.replace("n_iters = 5", "n_iters = 2000")).expect("write");
    let exp = app::load(&file).expect("valid");
    let run = forward_backward_kl::engine::run(&exp).expect("the fit runs");
    let outputs = figures::run_figures(&run, Style::default()).expect("draw");
    let gif = outputs
        .iter()
        .find(|o| o.name.ends_with(".gif"))
        .expect("an animation");
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&gif.bytes))
        .expect("GIF header")
        .into_frames()
        .collect_frames()
        .expect("frames decode");
    assert_eq!(frames.len(), MAX_GIF_FRAMES);
    let f = gif_frames(2000);
    assert_eq!((f[0], f[f.len() - 1]), (0, 2000));
}
