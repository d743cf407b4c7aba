//! `cargo xtask`: the project's command line inside the workspace — the same implementation as
//! the installable `forward-backward-kl` binary, with the workspace's `experiments/` and
//! `figures/` as the default folders.
//!
//! ```text
//! cargo xtask figures [--check] [--scale S]   run experiments/*.toml, write figures/
//! cargo xtask fit FILE.toml [--out DIR]       run one experiment: DIR/<name>/trace.json and figures
//! cargo xtask serve [--port N] [--open]       the explorer: a local page that runs fits live
//! cargo xtask browser-test                    the explorer in headless Chromium (target/browser-test/)
//! cargo xtask --help                          every flag
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use forward_backward_kl::app::cli::{Defaults, main as cli_main};

mod browser_test;
mod cdp;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.first().map(String::as_str) == Some("browser-test") {
        return match browser_test::main(&root, &args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: browser test: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    cli_main(
        std::env::args_os(),
        &Defaults {
            experiments: root.join("experiments"),
            figures: root.join("figures"),
            bench_medians: Some(root.join("benches").join("medians.json")),
        },
    )
}
