"""Stand-in for the get-pip.py that ansible-test downloads from ci-files.testing.ansible.com.

ansible-test bootstraps pip into each sanity virtual environment by running a cached get-pip script
(~/.ansible/test/cache/get_pip_<version>.py) with the packages to install (``pip==<version>``).
That site is unreachable here, so tests/tools/sanity places this file in the cache instead.

When uv is on the PATH (ansible-test passes its PATH on, and tests/tools/sanity puts the venv's bin folder
first: the primary venv has uv), uv installs the requested packages into the environment at once, bytecode
compiled as pip does. When uv is not there or fails, the interpreter's bundled pip is installed with ensurepip
(offline) and then installs the requested packages from the configured package index. Either way ansible-test
then installs each sanity test's requirements with that pip, and removes pip again once they are in.
On a machine with no sanity venvs yet (a fresh CI machine), ensurepip and then pip replacing its own bundled
release cost about 5 core-seconds in each of the nine venvs: side by side, the sanity phase took 119, 128 and
131 core-seconds with them and 75 and 79 with uv (docs/testing.md).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import sys

# Options understood by get-pip.py but not by ``pip install``.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def bundled_pip():
    """The interpreter's own pip: ensurepip's, or Debian's wheel where ensurepip is not installed (Debian ships it
    in python3.X-venv; tests/tools/optimised-venv unpacks python3.13 without it, with the wheel)."""
    if importlib.util.find_spec("ensurepip"):
        subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
        return
    wheels = sorted(glob.glob(os.path.join(sys.base_prefix, "share", "python-wheels", "pip-*.whl")))
    if not wheels:
        sys.exit(f"{sys.executable} has neither ensurepip nor a pip wheel in {sys.base_prefix}/share/python-wheels")
    # pip runs from its wheel to install itself.
    subprocess.run([sys.executable, os.path.join(wheels[-1], "pip"), "install", "--quiet", "--no-index", wheels[-1]],
                   check=True)


def main():
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    uv = shutil.which("uv")
    # The platform's certificate store: ansible-test passes no SSL_CERT_FILE on, and a machine behind a proxy
    # that signs with its own certificate authority has that authority there. uv installs nothing when it fails.
    if uv and subprocess.run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--system-certs",
                              "--python", sys.executable, *args], check=False).returncode == 0:
        return
    bundled_pip()
    sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode)


if __name__ == "__main__":
    main()
