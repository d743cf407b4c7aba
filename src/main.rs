//! `forward-backward-kl`: the installable command line (`cargo install --path .`); the same
//! implementation as `cargo xtask`, with folders relative to the current one.

use std::process::ExitCode;

fn main() -> ExitCode {
    forward_backward_kl::app::cli::main(
        std::env::args_os(),
        &forward_backward_kl::app::cli::Defaults::current_dir(),
    )
}
