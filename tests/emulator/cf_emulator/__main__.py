"""``python -m cf_emulator``: run the emulator as its own process until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from .emulator import Emulator
from .seed import default_seed, load_seed

MAX_SHOWN_SEGMENT = 32  # longer path segments are not identifiers: never echo them (they could be secrets)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cf_emulator",
                                     description="Local emulator of Cloudflare's Magic IPsec tunnel API.")
    parser.add_argument("--seed", help="seed file (JSON; .yml/.yaml read as YAML); default: default-seed.json")
    parser.add_argument("--generate-tunnels", type=int, default=0, metavar="N",
                        help="add N generated tunnels to the first account")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-tls", action="store_true", help="serve plain HTTP")
    parser.add_argument("--state-dir", help="where ca.pem and the server certificate go (default: a temp dir)")
    parser.add_argument("--ready-file", help="write JSON {base_url, ca_file, control_url, pid} here once listening")
    parser.add_argument("--ratelimit-quota", type=int, default=1200)
    parser.add_argument("--ratelimit-window", type=float, default=300.0)
    parser.add_argument("--ratelimit-block", type=float, default=300.0)
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    parser.add_argument("--psk-generate-ipsec-id", choices=("yes", "no"),
                        help="add ipsec_id to psk_generate answers (not in the published schema); default: the seed's")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = load_seed(args.seed) if args.seed else default_seed()
    if args.generate_tunnels:
        seed["generate_tunnels"] = int(seed.get("generate_tunnels", 0) or 0) + args.generate_tunnels
    emulator = Emulator(seed=seed, tls=not args.no_tls, host=args.host, port=args.port,
                        state_dir=args.state_dir, ratelimit_quota=args.ratelimit_quota,
                        ratelimit_window=args.ratelimit_window, ratelimit_block=args.ratelimit_block,
                        access_log=None if args.quiet else _access_log,
                        psk_generate_ipsec_id=None if args.psk_generate_ipsec_id is None
                        else args.psk_generate_ipsec_id == "yes")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_signal_args: stop.set())
    emulator.start()
    try:
        print(f"cf_emulator listening on {emulator.base_url}", flush=True)
        print(f"CA certificate: {emulator.ca_file if emulator.ca_file else 'none (plain HTTP)'}", flush=True)
        print(f"control: {emulator.control_url}", flush=True)
        if args.ready_file:
            _write_ready_file(args.ready_file, {"base_url": emulator.base_url, "ca_file": emulator.ca_file,
                                                "control_url": emulator.control_url, "pid": os.getpid()})
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        if args.ready_file:
            Path(args.ready_file).unlink(missing_ok=True)
    print("cf_emulator stopped", flush=True)
    return 0


def _access_log(method: str, path: str, status: int | None) -> None:
    shown = "/".join(s if len(s) <= MAX_SHOWN_SEGMENT else "[redacted]" for s in path.split("/"))
    sys.stderr.write(f"{method} {shown} {status if status is not None else 'dropped'}\n")
    sys.stderr.flush()


def _write_ready_file(path: str, content: dict) -> None:
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=".ready-")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(content, handle)
    os.replace(temporary, target)


if __name__ == "__main__":
    sys.exit(main())
