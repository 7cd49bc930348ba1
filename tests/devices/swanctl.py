"""A stand-in for strongSwan's swanctl on the router folder of the strongSwan role tests.

charon is not running there: the tests' load command copies the configuration to the file named by
CFM_SWANCTL_LOADED, which stands for what charon loaded. This swanctl answers ``--list-conns`` from that
file, in the form strongSwan 5.9.8's swanctl prints (src/swanctl/commands/list_conns.c: one
"<name>: IKEv2, ..." line per connection, seen from the real swanctl in the IKE lab); every other command
fails as swanctl does without charon (the "connecting to ... failed" line of src/libcharon/plugins/vici).
"""

import os
import re
import sys


def loaded_connections(text):
    """Names of the connections at depth 1 of the ``connections { }`` section of a swanctl.conf."""
    names, stack = [], []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        opened = re.fullmatch(r"(\S+)\s*\{", line)
        if opened:
            if stack == ["connections"]:
                names.append(opened.group(1))
            stack.append(opened.group(1))
        elif line == "}" and stack:
            stack.pop()
    return names


def main(argv):
    loaded = os.environ.get("CFM_SWANCTL_LOADED", "")
    if argv[:1] == ["--list-conns"] and loaded and os.path.exists(loaded):
        with open(loaded, encoding="utf-8") as handle:
            for name in loaded_connections(handle.read()):
                print(f"{name}: IKEv2, no reauthentication, rekeying every 14400s")
        return 0
    print("connecting to 'unix:///var/run/charon.vici' failed: No such file or directory", file=sys.stderr)
    print("Error: connecting to 'default' URI failed: No such file or directory", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
