"""examples/notebook.py runs as a script (without JAX its JAX cell is skipped) and draws PNGs."""

import os
import pathlib
import subprocess
import sys

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "examples" / "notebook.py"


def test_notebook_runs_and_writes_its_figures(tmp_path):
    env = dict(os.environ, KLFIT_FIGURES=str(tmp_path / "figures"))
    out = subprocess.run(
        [sys.executable, str(NOTEBOOK)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in (tmp_path / "figures").iterdir())
    for name in ["gaussian_forward.png", "mixture_forward.png", "mixture_reverse.png",
                 "mixture_reverse_kl.png"]:
        assert name in names, (name, names, out.stdout)
    for p in (tmp_path / "figures").iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p.name
    assert "forward: mean" in out.stdout and "reverse: mean" in out.stdout
    assert "JAX banana" in out.stdout or "jax is not installed" in out.stdout
