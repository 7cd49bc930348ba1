"""The emulator as its own process: ``spawn()`` starts ``python -m cf_emulator`` and waits for its ready file.

    from cf_emulator.process import spawn
    with spawn("work/emulator", "--generate-tunnels", "20") as emulator:
        emulator.base_url, emulator.ca_file, emulator.control_url   # from the ready file
        emulator.control.edge_psk(tunnel_id)                        # a ControlClient
        emulator.seed, emulator.requests, emulator.edge_psk(...)    # what tests use of an in-process Emulator
    # or keep it: emulator = spawn(...); ...; emulator.stop()

From a shell (an ``ansible-test`` target's runme.sh), the same start with an environment file to source:

    PYTHONPATH=tests/emulator python -m cf_emulator.process --state-dir DIR --env-file DIR/env.sh
    . DIR/env.sh     # CF_EMULATOR_PID, CF_EMULATOR_CA_FILE, REQUESTS_CA_BUNDLE, CF_EMULATOR_CONTROL_URL, CLOUDFLARE_*
    kill "$CF_EMULATOR_PID"   # SIGTERM: the emulator stops and removes its ready file
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from .control import ControlClient
from .seed import DEFAULT_SEED_FILE, load_seed

EMULATOR_DIR = Path(__file__).resolve().parent.parent  # what PYTHONPATH needs for ``python -m cf_emulator``
READY_FILE_NAME = "ready.json"


class EmulatorStartError(RuntimeError):
    pass


class EmulatorProcess:
    """A running ``python -m cf_emulator``: where it listens, its seed, its control client, and ``stop()``.

    Also answers what the tests' PlaybookRunner and the benchmarks read of an in-process ``Emulator``
    (``seed``, ``requests``, ``clear_requests()``, ``tunnels()``, ``edge_psk()``), through the control client.
    """

    def __init__(self, process: subprocess.Popen, ready_file: Path, log_file: Path | None, seed: dict):
        ready = json.loads(ready_file.read_text(encoding="utf-8"))
        self.process = process
        self.seed = seed
        self.ready_file = ready_file
        self.pid = process.pid
        self.base_url = ready["base_url"]
        self.ca_file = ready["ca_file"]
        self.control_url = ready["control_url"]
        self.log_file = log_file
        self.control = ControlClient(self.control_url, self.ca_file)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``; returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    @property
    def requests(self) -> list:
        return self.control.requests

    def clear_requests(self) -> None:
        self.control.clear_requests()

    def tunnels(self) -> list[dict]:
        return self.control.tunnels()

    def edge_psk(self, tunnel_id: str) -> str | None:
        return self.control.edge_psk(tunnel_id)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def spawn(state_dir: str | os.PathLike, *emulator_args: str, seed: dict | str | os.PathLike | None = None,
          log_file: str | os.PathLike | None = None, python: str | None = None,
          timeout: float = 30.0) -> EmulatorProcess:
    """Start the emulator with its state (CA, certificates, ready file) in ``state_dir``; return once it listens.

    ``seed`` is a seed file, or a seed to write to ``state_dir``/seed.json (mode 0600: it holds tokens);
    without it the emulator serves default-seed.json. ``emulator_args`` go to ``python -m cf_emulator`` as
    they are (``--no-tls``, ``--generate-tunnels N``, ``--ratelimit-quota Q`` ...). Its output goes to
    ``log_file`` (stdout and stderr; the emulator never prints a key or a credential), or nowhere. Raises
    EmulatorStartError if it exits or is not listening within ``timeout`` seconds.
    """
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    ready_file = state / READY_FILE_NAME
    ready_file.unlink(missing_ok=True)  # a stale file from an earlier run must not pass for this one's
    log_path = Path(log_file).resolve() if log_file is not None else None
    seed_file = _seed_file(seed, state)
    pythonpath = os.pathsep.join(filter(None, [str(EMULATOR_DIR), os.environ.get("PYTHONPATH")]))
    command = [python or sys.executable, "-m", "cf_emulator", "--state-dir", str(state),
               "--ready-file", str(ready_file), "--seed", str(seed_file), *emulator_args]
    output = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": pythonpath})
    finally:
        if log_path is not None:
            output.close()
    deadline = time.monotonic() + timeout
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            process.wait()
            where = f"; see {log_path}" if log_path is not None else ""
            raise EmulatorStartError(f"the emulator did not start within {timeout:g} s "
                                     f"(exit status {process.returncode}){where}")
        time.sleep(0.05)
    return EmulatorProcess(process, ready_file, log_path, load_seed(seed_file))


def _seed_file(seed: dict | str | os.PathLike | None, state: Path) -> Path:
    if seed is None:
        return DEFAULT_SEED_FILE
    if not isinstance(seed, dict):
        return Path(seed).resolve()
    path = state / "seed.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(seed, handle)
    return path


def shell_environment(emulator: EmulatorProcess, seed: dict, token_name: str) -> dict[str, str]:
    """What a shell needs to point the collection at ``emulator``: its URLs and the seed's credentials."""
    account = seed["accounts"][0]
    token = next((t["value"] for t in seed.get("tokens", []) if t["name"] == token_name), None)
    if token is None:
        raise EmulatorStartError(f"the seed has no token named {token_name!r}")
    return {
        "CF_EMULATOR_PID": str(emulator.pid),
        "CF_EMULATOR_CA_FILE": emulator.ca_file or "",
        # What the collection (and requests) verify TLS with when no ca_path is given: the emulator's own CA.
        **({"REQUESTS_CA_BUNDLE": emulator.ca_file} if emulator.ca_file else {}),
        "CF_EMULATOR_CONTROL_URL": emulator.control_url,
        "CLOUDFLARE_BASE_URL": emulator.base_url,
        "CLOUDFLARE_ACCOUNT_ID": account["id"],
        "CLOUDFLARE_API_TOKEN": token,
    }


def write_env_file(path: str | os.PathLike, variables: dict[str, str]) -> None:
    """``export NAME=value`` lines, readable by the owner only (the file holds a token)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        for name, value in variables.items():
            handle.write(f"export {name}={shlex.quote(value)}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cf_emulator.process",
        description="Start the emulator in the background, wait until it listens, write an environment file "
                    "to source, and exit. Stop it with: kill $CF_EMULATOR_PID.")
    parser.add_argument("--state-dir", required=True, help="CA, certificates, ready file and emulator.log go here")
    parser.add_argument("--env-file", required=True, help="file to write (mode 0600): export lines to source")
    parser.add_argument("--seed", help="seed file for the emulator and the credentials (default: default-seed.json)")
    parser.add_argument("--token", default="magic_wan_write", help="the seed token exported as CLOUDFLARE_API_TOKEN")
    args, emulator_args = parser.parse_known_args(argv)
    seed_file = Path(args.seed).resolve() if args.seed else DEFAULT_SEED_FILE
    state = Path(args.state_dir)
    emulator = spawn(state, *emulator_args, seed=seed_file, log_file=state / "emulator.log")
    try:
        write_env_file(args.env_file, shell_environment(emulator, emulator.seed, args.token))
    except BaseException:
        emulator.stop()
        raise
    print(f"cf_emulator {emulator.pid} listening on {emulator.base_url}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EmulatorStartError as problem:
        sys.exit(f"cf_emulator.process: {problem}")
