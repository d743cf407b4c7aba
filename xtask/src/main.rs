//! `cargo xtask`: the project's command line inside the workspace — the same implementation as
//! the installable `forward-backward-kl` binary, with the workspace's `experiments/` and
//! `figures/` as the default folders.
//!
//! ```text
//! cargo xtask figures [--check] [--scale S]   run experiments/*.toml, write figures/
//! cargo xtask fit FILE.toml [--out DIR]       run one experiment: DIR/<name>/trace.json and figures
//! cargo xtask --help                          every flag
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use forward_backward_kl::app::cli::{Defaults, main as cli_main};

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    cli_main(
        std::env::args_os(),
        &Defaults {
            experiments: root.join("experiments"),
            figures: root.join("figures"),
            bench_medians: Some(root.join("benches").join("medians.json")),
        },
    )
}
