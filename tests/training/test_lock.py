"""One process per run directory: a second is refused at once, naming the holder; a lock whose
process died is taken over."""

import json
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import TestCase
from tfml.training import prepare_run_dir
from tfml.training.lock import LOCK_FILE, RunDirectoryInUse, lock_run_dir, unlock_run_dir

HOLD = """
    import sys, time
    from tfml.training.lock import lock_run_dir
    lock_run_dir(sys.argv[1])
    print("HELD", flush=True)
    time.sleep(600)
"""


def hold_in_another_process(run_dir) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD), str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "HELD"
    return holder


class RunLockTest(TestCase):
    def test_a_second_process_is_refused_naming_the_holder_and_a_dead_holders_lock_is_taken_over(self):
        run_dir = self.tmp_path / "run"
        prepare_run_dir(run_dir, {"epochs": 1})
        unlock_run_dir(run_dir)
        holder = hold_in_another_process(run_dir)
        try:
            with pytest.raises(RunDirectoryInUse, match=f"is in use by process {holder.pid} on .*started"):
                prepare_run_dir(run_dir, {"epochs": 1}, fresh=True)
            self.assertTrue((run_dir / "config.json").exists())  # refused before --fresh deleted anything
            with pytest.raises(RunDirectoryInUse):
                lock_run_dir(run_dir)
        finally:
            holder.kill()
            holder.wait()
        prepare_run_dir(run_dir, {"epochs": 1}, fresh=True)  # the holder died: its lock is free
        holder_record = json.loads((run_dir / LOCK_FILE).read_text())
        self.assertEqual(holder_record["pid"], __import__("os").getpid())
        self.assertEqual(sorted(p.name for p in run_dir.iterdir()), ["config.json", "figures", LOCK_FILE])
        unlock_run_dir(run_dir)

    def test_a_failed_start_removes_the_run_directory_it_made_and_keeps_one_that_existed(self):
        run_dir = self.tmp_path / "new"
        with pytest.raises(ValueError, match="other settings"):
            prepare_run_dir(self.tmp_path / "new", {"epochs": 1})
            unlock_run_dir(run_dir)
            prepare_run_dir(self.tmp_path / "new", {"epochs": 2})
        self.assertTrue(run_dir.is_dir())  # it existed when the second call started
        unlock_run_dir(run_dir)
