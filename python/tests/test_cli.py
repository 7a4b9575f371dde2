"""python -m mixshards: a reader that goes away (`| head`) is a quiet exit, whenever it goes."""

import os
import subprocess
import sys
import unittest

from . import support


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """The command with its stdout a pipe whose reading end is already closed: every write fails,
    the final flush at exit included (what `| head` does to a short output)."""
    r, w = os.pipe()
    os.close(r)
    try:
        env = dict(os.environ, PYTHONPATH=str(support.PACKAGE_PARENT))
        env.pop("PYTHONUNBUFFERED", None)  # buffered, as stdout to a pipe usually is: the write comes at exit
        return subprocess.run([sys.executable, "-m", "mixshards", *args], stdout=w, stderr=subprocess.PIPE,
                              text=True, timeout=60, env=env)
    finally:
        os.close(w)


class BrokenPipeTests(unittest.TestCase):
    def test_every_command_exits_quietly(self):
        d = support.shard_dir("batch") / "shards"
        shard = str(d / "train" / "epoch-000" / "shard-00000.mxs")
        for args in (["inspect", shard], ["inspect", shard, "--samples"], ["verify", str(d)], ["--help"],
                     ["inspect", "--help"]):
            with self.subTest(args=args):
                r = run_into_closed_pipe(*args)
                self.assertEqual(r.stderr, "")
                self.assertIn(r.returncode, (0, 1))

    def test_py_typed_is_shipped(self):
        # In the package the tests import: installed by pip, that checks it is in the wheel.
        self.assertTrue((support.PACKAGE_PARENT / "mixshards" / "py.typed").is_file())
