"""Every experiment file through run_experiment gives the command line's bytes."""

import json
import pathlib
import subprocess

import pytest

import klfit

ROOT = pathlib.Path(__file__).resolve().parents[3]
FILES = sorted((ROOT / "experiments").glob("*.toml")) + sorted(
    (ROOT / "experiments" / "lesson").glob("*.toml")
)


def test_there_are_experiments():
    assert len(FILES) >= 20


# The figures (a GIF of up to 200 frames each) cost most of the time: they are compared for the
# seed notebook's three experiments, the traces for every file.
WITH_FIGURES = {"gaussian-forward.toml", "mixture-forward.toml", "mixture-reverse.toml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT / "experiments")))
def test_trace_identical_to_cli(path, cli, tmp_path):
    # The command line runs beside this process's run.
    proc = subprocess.Popen(
        [str(cli), "fit", str(path), "--out", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    figures = path.name in WITH_FIGURES
    run = klfit.run_experiment(path, figures=figures)
    _, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    out = tmp_path / run.name
    assert run.trace_json == (out / "trace.json").read_bytes()
    assert run.trace == json.loads(run.trace_json)
    if figures:
        written = sorted(p.name for p in out.iterdir() if p.name != "trace.json")
        assert sorted(run.figures) == written and len(written) >= 3
        for name, data in run.figures.items():
            assert data == (out / name).read_bytes(), name
    else:
        assert run.figures == {}


def test_pathlike_and_str_agree():
    path = ROOT / "experiments" / "gaussian-forward.toml"
    assert klfit.run_experiment(str(path)).trace_json == klfit.run_experiment(path).trace_json


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        klfit.run_experiment(tmp_path / "nope.toml")


def test_invalid_file_is_value_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nseed = 1\n[target]\nkind = "nope"\n')
    with pytest.raises(ValueError, match="bad.toml"):
        klfit.run_experiment(bad)
