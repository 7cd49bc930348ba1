"""Stand-in for the get-pip.py that ansible-test downloads from ci-files.testing.ansible.com.

ansible-test bootstraps pip into each sanity virtual environment by running a cached get-pip script
(~/.ansible/test/cache/get_pip_<version>.py) with the packages to install (``pip==<version>``).
That site is unreachable here, so tests/tools/sanity places this file in the cache instead: it installs
the interpreter's bundled pip with ensurepip (offline), then lets that pip install the requested
packages from the configured package index.
"""

from __future__ import annotations

import subprocess
import sys

# Options understood by get-pip.py but not by ``pip install``.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True,
                   stdout=subprocess.DEVNULL)
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode)


if __name__ == "__main__":
    main()
