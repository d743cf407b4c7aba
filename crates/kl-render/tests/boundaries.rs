//! The layering of the crate as a checked fact (rust-analyzer style): the scene, layout and
//! geometry modules know nothing of tiny-skia or of the drawing module, and nothing writes
//! files.

use std::path::{Path, PathBuf};

fn src(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ lists") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn scene_layout_and_geometry_know_no_pixels() {
    for file in ["scene.rs", "layout.rs", "contour.rs", "colormap.rs"] {
        let s = src(file);
        for banned in [
            "tiny_skia",
            "crate::draw",
            "super::draw",
            "crate::canvas",
            "Pixmap",
        ] {
            assert!(!s.contains(banned), "src/{file} mentions {banned}");
        }
    }
    // Layout uses the scene, the scene does not use layout.
    assert!(!src("scene.rs").contains("crate::layout"));
}

#[test]
fn only_the_drawing_module_and_the_canvas_use_tiny_skia_and_nothing_writes_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        let rel = f.strip_prefix(&root).expect("under src/");
        let s = std::fs::read_to_string(&f).expect("readable");
        let drawing = rel.starts_with("draw") || rel == Path::new("canvas.rs");
        if !drawing {
            assert!(!s.contains("tiny_skia"), "{} uses tiny-skia", rel.display());
        }
        for banned in ["std::fs", "File::create", "fs::write", "fs::rename"] {
            assert!(
                !s.contains(banned),
                "{} writes files ({banned})",
                rel.display()
            );
        }
    }
}
