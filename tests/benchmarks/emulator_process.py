"""The emulator as its own process (as in production, the API is not inside ansible-playbook's process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cf_emulator import default_seed
from cf_emulator.control import ControlClient

EMULATOR_DIR = Path(__file__).resolve().parent.parent / "emulator"


class EmulatorProcess:
    """``python -m cf_emulator`` with a rate limit and a fleet; enough of ``Emulator`` for PlaybookRunner."""

    def __init__(self, workdir, tunnels=0, quota=1200, window=300.0, block=300.0):
        self.workdir = Path(workdir)
        self.args = ["--generate-tunnels", str(tunnels), "--ratelimit-quota", str(quota),
                     "--ratelimit-window", str(window), "--ratelimit-block", str(block)]
        self.seed = default_seed()
        self.process = None
        self.control = None
        self.base_url = self.ca_file = None

    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        ready_file = self.workdir / "ready.json"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cf_emulator", "--quiet", "--state-dir", str(self.workdir / "state"),
             "--ready-file", str(ready_file), *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(EMULATOR_DIR)})
        deadline = time.monotonic() + 30
        while not ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.05)
        ready = json.loads(ready_file.read_text())
        self.base_url, self.ca_file = ready["base_url"], ready["ca_file"]
        self.control = ControlClient(ready["control_url"], ready["ca_file"])
        return self

    def __exit__(self, *exc_info):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def requests(self):
        return self.control.requests

    def clear_requests(self):
        self.control.clear_requests()

    def tunnels(self):
        return self.control.tunnels()

    def edge_psk(self, tunnel_id):
        return self.control.edge_psk(tunnel_id)
