//! The installable binary `forward-backward-kl` (from `cargo install --path .`): the same command
//! line as `cargo xtask`, with the current folder's `experiments/`, `figures/` and `out/` as
//! defaults. (The flags and the bad-input tables are tested through xtask in
//! `xtask/tests/cli.rs`.)

use std::path::Path;
use std::process::{Command, Output};

use kl_testkit::experiment::GAUSS_2D;

fn bin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forward-backward-kl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run the forward-backward-kl binary")
}

#[test]
fn the_binary_uses_the_current_folder_by_default() {
    let s = kl_testkit::scratch_dir("fbkl-bin");
    let dir = s.path();
    std::fs::create_dir_all(dir.join("experiments")).expect("experiments/");
    std::fs::write(dir.join("experiments/g.toml"), GAUSS_2D).expect("an experiment");

    let o = bin(dir, &["fit", "experiments/g.toml"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.join("out/cli-gauss/trace.json").is_file());

    let o = bin(dir, &["figures"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("regenerating figures from experiments"),
        "{stderr}"
    );
    assert!(dir.join("figures/cli_gauss_kl.png").is_file());
    let o = bin(dir, &["figures", "--check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(dir.join("figures/cli_gauss_kl.png"), b"stale").expect("spoil a figure");
    let o = bin(dir, &["figures", "--check"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cli_gauss_kl.png"), "{stderr}");
}

#[test]
fn the_binary_has_the_same_flags_and_exit_codes() {
    let s = kl_testkit::scratch_dir("fbkl-bin-flags");
    let o = bin(s.path(), &["--version"]);
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with("forward-backward-kl ") && stdout.contains(env!("CARGO_PKG_VERSION")),
        "{stdout}"
    );
    let o = bin(s.path(), &["fit", "--help"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && stdout.contains("--out") && stdout.contains("--scale"));
    for args in [
        &["fit"][..],
        &["--bogus"][..],
        &["figures", "--scale", "0"][..],
    ] {
        let o = bin(s.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    let o = bin(s.path(), &["fit", "nope.toml"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: nope.toml: "), "{stderr}");
    // `figures` with no experiments/ folder: an error naming it.
    let o = bin(s.path(), &["figures"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("experiments"), "{stderr}");
}

/// A write past the file-size limit (`ulimit -f`, SIGXFSZ) is a clean error: exit code 1, one
/// `error:` line naming the folder and EFBIG, and no temporary folder (or partial output) left.
#[test]
fn a_file_size_limit_is_a_clean_error_and_leaves_no_temporary_folder() {
    let s = kl_testkit::scratch_dir("fbkl-bin-xfsz");
    let dir = s.path();
    std::fs::write(dir.join("g.toml"), GAUSS_2D).expect("an experiment");
    // 8 blocks of 512 bytes: trace.json fits, the first figure does not.
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 8 && exec '{}' fit g.toml --out out",
            env!("CARGO_BIN_EXE_forward-backward-kl")
        ))
        .current_dir(dir)
        .output()
        .expect("run the binary under sh");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "killed or wrong code: {:?} {stderr}",
        o.status
    );
    assert!(
        stderr.starts_with("error: ") && stderr.contains("File too large"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.join("out"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}
