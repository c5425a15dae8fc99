"""stop_processes: a process that stops on SIGTERM is waited for; one that ignores it is killed after the grace."""

from __future__ import annotations

import subprocess
import sys
import time

from shared.processes import stop_processes

IGNORES_SIGTERM = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
                   "time.sleep(60)")


def test_given_a_polite_and_a_stubborn_process_then_both_are_gone_within_the_grace() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen([sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"  # its handler is installed
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    started = time.monotonic()
    stop_processes([polite, stubborn, done], grace_s=1.0)
    assert time.monotonic() - started < 10
    assert polite.returncode == -15  # SIGTERM
    assert stubborn.returncode == -9  # SIGKILL after the grace
    assert done.returncode == 0
