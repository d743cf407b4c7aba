"""Ctrl-C ends a fit cleanly; the GIL is released while Rust works."""

import _thread
import os
import signal
import threading
import time

import numpy as np
import pytest

import klfit


def test_interrupt_main_during_a_long_rust_fit():
    # 10⁹ iterations would take hours: raising KeyboardInterrupt at all is the proof.
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted at iteration"):
            klfit.fit(klfit.Banana(), n_iters=10**9, learning_rate=0.01, diagnostics=0)
    finally:
        timer.cancel()
    # The module still works afterwards.
    assert klfit.fit(klfit.Banana(), n_iters=5, learning_rate=0.01).n_iters == 5


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
@pytest.mark.parametrize("callable_target", [False, True], ids=["rust", "callable"])
def test_sigint_to_own_process_interrupts_a_fit(callable_target):
    """A real SIGINT (what Ctrl-C in a terminal or a notebook's "interrupt kernel" sends)."""
    if callable_target:
        target = klfit.LogDensity(lambda X: (-0.5 * (X * X).sum(axis=1), -X), 2)
    else:
        target = klfit.Banana()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match=None if callable_target else "at iteration"):
            klfit.fit(target, n_iters=10**9, learning_rate=0.01, diagnostics=0)
    finally:
        timer.cancel()
        timer.join()
    assert klfit.fit(target, n_iters=3, learning_rate=0.01, diagnostics=0).n_iters == 3


def test_interrupt_main_during_a_long_experiment(tmp_path):
    exp = tmp_path / "long.toml"
    exp.write_text(
        'name = "long"\nseed = 1\n[target]\nkind = "banana"\nscale = 1.0\ncurvature = 0.8\n'
        '[init]\nmean = [0.3, 0.3]\nraw = [[1.0, 0.0], [0.0, 1.0]]\n'
        '[objective]\nkind = "reverse-kl"\nn_samples = 100\n'
        '[optimizer]\nkind = "adam"\nlearning_rate = 0.01\nn_iters = 1000000\n'
    )
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="experiment was interrupted at iteration"):
            klfit.run_experiment(exp)
    finally:
        timer.cancel()


def test_callable_raising_keyboard_interrupt():
    calls = []

    def f(X):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return -0.5 * (X * X).sum(axis=1), -X

    with pytest.raises(KeyboardInterrupt):
        klfit.fit(klfit.LogDensity(f, 2), n_iters=10**9, learning_rate=0.01)
    assert len(calls) == 5


def test_gil_is_released_during_a_fit():
    """Another thread runs Python code while a fit works; it then interrupts the fit.

    Were the GIL held, the thread could not run until the fit had made its 2·10⁶ iterations,
    and the fit would return normally instead of raising KeyboardInterrupt.
    """
    ran = []
    started = threading.Event()

    def other():
        started.wait()
        time.sleep(0.05)  # sequencing only (let the main thread enter the fit), not a timing
        ran.append(sum(range(1000)))  # Python bytecode: needs the GIL
        _thread.interrupt_main()

    t = threading.Thread(target=other)
    t.start()
    started.set()
    try:
        # The message is the fit's: the interrupt came during the fit, not before it.
        with pytest.raises(KeyboardInterrupt, match="fit was interrupted at iteration"):
            klfit.fit(klfit.Funnel(dim=10), n_iters=2 * 10**6, learning_rate=0.01,
                      diagnostics=0, exact_kl=False)
    finally:
        t.join()
    assert ran == [499500]


def test_many_threads_fit_callables_at_once():
    def f(X):
        return -0.5 * (X * X).sum(axis=1), -X

    out = [None] * 4

    def work(i):
        out[i] = klfit.fit(klfit.LogDensity(f, 3), n_iters=200, seed=i, learning_rate=0.02)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for fit in out:
        np.testing.assert_allclose(fit.mean, 0, atol=0.2)
