"""`make reliability`: run the reliability matrices (the same pytest tests `make test` runs) and print
one table of what each fault, bad input and leak cell came to. Each ``--also PYTHON`` (a compat venv's
interpreter) runs the loop x callback matrix on that venv's ansible-core too.

    python tests/reliability/table.py [--markdown FILE] [--also PYTHON]... [pytest args...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOOP_TESTS = ["tests/integration/test_loop_callbacks.py"]
TESTS = ["tests/integration/test_faults.py", "tests/integration/test_bad_input.py",
         "tests/integration/test_leaks.py", "tests/integration/test_concurrency.py", *LOOP_TESTS]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "emulator")]

from reliability.leaks import CHANNELS  # noqa: E402
from reliability.record import RECORD_ENV  # noqa: E402


def _rows(path):
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return {t: [r for r in rows if r["table"] == t] for t in ("faults", "bad_input", "leaks", "concurrency", "loops")}


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _unused in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(tables):
    faults = sorted(tables["faults"], key=lambda r: r["case"])
    out = ["### Faults on psk_generate", "", _table(
        ["fault", "expected", "outcome", "key handed on == edge key", "POSTs", "secret hits", "traceback"],
        [[r["case"], r["expect"], r["outcome"],
          {True: "yes", False: "NO", None: "no key handed on"}[r["key_handed_on_is_edge"]]
          + (" (edge key unchanged: yes)" if r["key_unchanged_is_true"] else ""), r["posts"], r["hits"],
          "yes" if r["traceback"] else "no"] for r in faults])]
    bad = sorted(tables["bad_input"], key=lambda r: r["case"])
    out += ["", "### Bad input", "", _table(
        ["input", "option named", "refused", "requests sent", "traceback", "secret hits"],
        [[r["case"], r["option"], "yes" if r["refused"] and r["names_option"] else "NO", r["requests"],
          "yes" if r["traceback"] else "no", r["hits"]] for r in bad])]
    leaks = sorted(tables["leaks"], key=lambda r: r["scenario"])
    out += ["", "### Leaks (occurrences of any generated key, the token or the Global API key)", "", _table(
        ["scenario", *CHANNELS, "router key == edge key"],
        [[r["scenario"], *(r[c] for c in CHANNELS), "yes" if r["keys_ok"] else "NO"] for r in leaks])]
    out += ["", "### A registered loop x callbacks, on the oldest release of each core line", "",
            "Occurrences of any generated key or the token in stdout, stderr, log_path and the files the callback "
            "wrote (a third item fails on an error that quotes the token); then whether each router file holds "
            "exactly its tunnel's edge key. The (ipsec_tunnel_info) rows "
            "search for the BGP MD5 keys and the token instead; then whether the registered loop holds one report "
            "per tunnel.", "", _loop_table(tables["loops"])]
    for r in tables["concurrency"]:
        out += ["", "### Concurrency", "",
                f"{r['tunnels']} tunnels, {r['forks']} forks: {r['router_keys_equal_edge']}/{r['tunnels']} router "
                f"keys == their tunnel's edge key, {r['distinct_keys']} distinct keys, {r['posts']} POSTs, "
                f"{r['hits']} secret hits."]
    return "\n".join(out)


def _loop_table(rows):
    def version(core):
        return tuple(int(p) if p.isdigit() else 0 for p in core.split("."))
    cores = sorted({r["core"] for r in rows}, key=version)
    cells = {(r["callback"], r["core"]): f"{r['hits']}, {'yes' if r['keys_ok'] else 'NO'}" for r in rows}
    callbacks = sorted({r["callback"] for r in rows}, key=lambda c: (c != "default", c))
    return _table(["callback", *(f"ansible-core {c}" for c in cores)],
                  [[cb, *(cells.get((cb, c), "not run") for c in cores)] for cb in callbacks])


def main(argv):
    markdown, also = None, []
    while argv[:1] in (["--markdown"], ["--also"]):
        if argv[0] == "--markdown":
            markdown = argv[1]
        else:
            also.append(argv[1])
        argv = argv[2:]
    with tempfile.TemporaryDirectory() as work:
        record = os.path.join(work, "rows.jsonl")
        env = dict(os.environ, **{RECORD_ENV: record})
        options = ["-q", "-p", "no:cacheprovider", *(argv or ["-n", "2"])]
        done = subprocess.run([sys.executable, "-m", "pytest", *TESTS, *options], cwd=ROOT, env=env, check=False)
        failed = done.returncode
        for python in also:
            failed = failed or subprocess.run([python, "-m", "pytest", *LOOP_TESTS, *options], cwd=ROOT, env=env,
                                              check=False).returncode
        text = render(_rows(record)) if os.path.exists(record) else "(no rows recorded)"
    print(text)
    if markdown:
        doc = Path(markdown)
        head = doc.read_text().split("<!-- table -->")[0] if doc.exists() else ""
        doc.write_text(head + "<!-- table -->\n" + text + "\n")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
