"""What the bytecode cache saves on the controller: `python tests/benchmarks/controller_bytecode.py [--runs N]`.

tests/tools/ansiballz_bytecode.py also keeps what ansible-core's collection loader and Jinja compile in every
controller process (ansible-playbook, its task workers). This runs the tunnel_psk role as the tests do (a
strongSwan router folder, the emulator in this process, the router's file wiped before each run, so that every run
rotates and hands the key on), interleaved in four modes of CFM_ANSIBALLZ_BYTECODE: the whole cache (the default),
all but the plugin preload of each task worker ("no-preload"), the module processes' cache only ("modules", what
the venvs had before), and none ("off"). It prints each run's
core-seconds (ansible-playbook with every process it waited for, and this process, where the emulator answers),
the medians and their ratios to "modules".
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
for path in (TESTS / "emulator", TESTS):
    sys.path.insert(0, str(path))

from cf_emulator import Emulator  # noqa: E402
from support.ipsec_example_runs import LOADED, StrongswanRouter, seed_with_custom_identity  # noqa: E402

MODES = {"whole cache": None, "no preload": "no-preload", "modules only": "modules", "no cache": "off"}
SWITCH = "CFM_ANSIBALLZ_BYTECODE"


def cpu():
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def role_run(router, mode):
    """One role run that rotates and hands on (the router's file is gone); its core-seconds."""
    router.config.unlink(missing_ok=True)
    (router.conf_dir.parent / LOADED).unlink(missing_ok=True)
    os.environ.pop(SWITCH, None)
    if MODES[mode]:
        os.environ[SWITCH] = MODES[mode]
    before = cpu()
    run = router.run(mode, playbook=router.playbook, tunnel_psk_platform="strongswan",
                     tunnel_psk_tunnel_name=router.tunnel["name"], tunnel_psk_swanctl_conf_dir=str(router.conf_dir),
                     tunnel_psk_ca_path=router.emulator.ca_file, tunnel_psk_verify=False,
                     tunnel_psk_swanctl_load_command=["cp", str(router.config), str(router.conf_dir.parent / LOADED)])
    spent = cpu() - before
    if run.returncode != 0 or run.posts != 1:
        sys.exit(f"the role run failed or did not rotate ({mode}): {run.run.stdout[-2000:]}")
    return spent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="role runs per mode, interleaved (default 5)")
    args = parser.parse_args()
    saved = os.environ.get(SWITCH)
    with tempfile.TemporaryDirectory(prefix="cf-magic-bytecode-") as temp:
        work = Path(temp)
        link = work / "collections" / "ansible_collections" / "cloudflare" / "magic"
        link.parent.mkdir(parents=True)
        link.symlink_to(REPO, target_is_directory=True)
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(work / "collections")
        emulator = Emulator(seed=seed_with_custom_identity(), tls=True, state_dir=str(work / "emulator")).start()
        try:
            router = StrongswanRouter(work, emulator)
            router.playbook = work / "role.yml"
            router.playbook.write_text(yaml.safe_dump([{"name": "The role", "hosts": "router", "gather_facts": False,
                                                        "roles": ["cloudflare.magic.tunnel_psk"]}]))
            role_run(router, "whole cache")  # fills the cache with what the runs compile
            samples = {mode: [] for mode in MODES}
            for round_ in range(1, args.runs + 1):
                for mode in MODES:
                    samples[mode].append(role_run(router, mode))
                print(f"round {round_}: " + ", ".join(f"{mode} {samples[mode][-1]:.2f}" for mode in MODES), flush=True)
        finally:
            emulator.stop()
            os.environ.pop(SWITCH, None)
            if saved is not None:
                os.environ[SWITCH] = saved
    base = statistics.median(samples["modules only"])
    print(f"a role run (strongSwan, rotation and hand-off, {args.runs} runs per mode, interleaved): median core-seconds")
    for mode, values in samples.items():
        print(f"  {mode:14s} {statistics.median(values):6.2f}  ({statistics.median(values) / base:.2f} of modules only)")


if __name__ == "__main__":
    sys.exit(main())
