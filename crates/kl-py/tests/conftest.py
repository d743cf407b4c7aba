"""Shared fixtures: the workspace root and the command line, built once per session."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    """The `forward-backward-kl` binary: $KLFIT_CLI, or `cargo build --release` once."""
    given = os.environ.get("KLFIT_CLI")
    if given:
        return pathlib.Path(given)
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "forward-backward-kl"],
        cwd=ROOT,
        check=True,
    )
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "forward-backward-kl"
