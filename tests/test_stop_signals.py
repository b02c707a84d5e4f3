"""SIGTERM inside :func:`ssnenas.stop_signals.sigterm_stops_like_ctrl_c` does what SIGINT would do, once;
then, and after the block, the handler from before it answers."""

from __future__ import annotations

import os
import signal

import pytest

from ssnenas.stop_signals import say_if_sigint_ignored, sigint_ignored, sigterm_stops_like_ctrl_c


@pytest.fixture
def term_handler():
    """A recording SIGTERM handler in place of the default for the test (and SIGINT restored after)."""
    seen: list[int] = []
    old_term = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    old_int = signal.getsignal(signal.SIGINT)
    yield seen
    signal.signal(signal.SIGTERM, old_term)
    signal.signal(signal.SIGINT, old_int)


@pytest.mark.parametrize("sigint", [signal.default_int_handler, signal.SIG_IGN])
def test_the_first_sigterm_raises_keyboard_interrupt_and_a_second_gets_the_old_handler(term_handler, sigint):
    signal.signal(signal.SIGINT, sigint)
    assert sigint_ignored() == (sigint is signal.SIG_IGN)
    with pytest.raises(KeyboardInterrupt), sigterm_stops_like_ctrl_c():
        os.kill(os.getpid(), signal.SIGTERM)
    assert term_handler == []
    os.kill(os.getpid(), signal.SIGTERM)
    assert term_handler == [signal.SIGTERM]


def test_a_sigint_handler_of_its_own_is_called_instead(term_handler):
    """Ray Tune's way: its SIGINT handler stops the experiment gracefully; SIGTERM calls it, once."""
    stops: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: stops.append(signum))
    with sigterm_stops_like_ctrl_c():
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
    assert stops == [signal.SIGINT] and term_handler == [signal.SIGTERM]
    os.kill(os.getpid(), signal.SIGTERM)
    assert term_handler == [signal.SIGTERM, signal.SIGTERM]


@pytest.mark.parametrize("sigint", [signal.default_int_handler, signal.SIG_IGN])
def test_the_start_notice_names_this_pid_only_when_sigint_is_ignored(term_handler, sigint, capsys):
    signal.signal(signal.SIGINT, sigint)
    say_if_sigint_ignored()
    err = capsys.readouterr().err
    if sigint is signal.SIG_IGN:
        assert f"stop it with `kill {os.getpid()}` (SIGTERM)" in err
    else:
        assert err == ""
