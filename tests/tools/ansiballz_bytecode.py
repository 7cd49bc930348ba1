"""A bytecode cache for the Python that ansible-core's module processes import from their AnsiballZ zip.

Test equipment, not part of the collection. A module task starts a Python process that imports the module and
its module_utils (ansible.module_utils.basic and the rest, a vendor's) from the zip in its AnsiballZ payload.
Python keeps no bytecode for modules imported from a zip, so every module process compiles the same sources
again: about a third of the CPU of one (0.145 -> 0.102 core-s for a `ping` on Debian's 3.11, 0.155 -> 0.103 on
the primary venv's 3.13; `tests/benchmarks/ansiballz_bytecode.py`), and the suite runs thousands of them
(docs/testing.md).

In a venv where `python tests/tools/ansiballz_bytecode.py --install VENV` put it (a copy of this file and a .pth
line that imports it at start-up, as site does for any .pth), it replaces zipimport's compile step: the code
object of a source is kept in VENV/ansiballz-bytecode under a hash of the interpreter's version, its
optimisation level and the source's bytes, and the next process that imports the same source from any zip loads
it from there, its file names set to the zip it came from this time (importlib's own fix-up for moved .pyc
files), so a traceback names the current payload, as it would without the cache. The module runs the same code
either way; what the zip holds, where the interpreter looks for it and what the process prints do not change.

Only sources under ansible/ and ansible_collections/ in a zip are kept (ansible-core's and the collections'
code, never a module's arguments, which the wrapper script carries, not the zip). It does nothing when
CFM_ANSIBALLZ_BYTECODE=off is in the environment, when the folder is not the user's own or others can write to
it, or on a Python whose zipimport has no such step; any failure falls back to compiling, as without it.
"""

from __future__ import annotations

import os
import sys
import zipimport

INSTALLED_NAME = "_cfm_ansiballz_bytecode"
FOLDER = "ansiballz-bytecode"
SWITCH = "CFM_ANSIBALLZ_BYTECODE"
KEPT = ("ansible" + os.sep, "ansible_collections" + os.sep)


def _usable(folder):
    """Whether ``folder`` can hold the cache: made if missing, the user's own and not writable by others."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def _inner_path(pathname):
    """The path inside the zip of a zipimport path (AnsiballZ's .../ansible_<module>_payload.zip/inner/path.py)."""
    head, found, tail = pathname.rpartition(".zip" + os.sep)
    return tail if found and head else ""


def install_hook(folder):
    """Replace zipimport's compile step with one that keeps each compiled source in ``folder``."""
    compile_source = getattr(zipimport, "_compile_source", None)
    if compile_source is None or getattr(compile_source, "cfm_cached", False):
        return
    import _imp
    import marshal

    tag = ("%s\0%s\0%d\0" % (sys.implementation.cache_tag, sys.version, sys.flags.optimize)).encode()
    usable = []  # decided at the first source kept, once per process

    def kept_or_compiled(pathname, source):
        """The code of ``source``: from the folder, else compiled and kept; None when the cache cannot serve."""
        if not _inner_path(pathname).startswith(KEPT):
            return None
        if not usable:
            usable.append(_usable(folder))
        if not usable[0]:
            return None
        import hashlib

        path = os.path.join(folder, hashlib.sha256(tag + source).hexdigest())
        try:
            with open(path, "rb") as stream:
                code = marshal.load(stream)
            _imp._fix_co_filename(code, pathname)  # TypeError when the file held no code object
            return code
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile_source(pathname, source)
        partial = "%s.%d" % (path, os.getpid())
        try:
            with open(partial, "wb") as stream:
                marshal.dump(code, stream)
            os.replace(partial, path)  # whole or not at all, for the processes that read it meanwhile
        except OSError:
            pass
        return code

    def cached_compile_source(pathname, source):
        try:
            code = kept_or_compiled(pathname, source)
        except Exception:  # pylint: disable=broad-except  # e.g. a SyntaxError: compiling again raises it as before
            code = None
        return compile_source(pathname, source) if code is None else code

    cached_compile_source.cfm_cached = True
    zipimport._compile_source = cached_compile_source


def start():
    """What the .pth line runs in every process of the venv."""
    if os.environ.get(SWITCH, "").lower() == "off":
        return
    try:
        install_hook(os.path.join(sys.prefix, FOLDER))
    except Exception:  # pylint: disable=broad-except  # never in the way of the process it runs in
        pass


def install(venv):
    """Put this file and its .pth line into ``venv``'s site-packages."""
    import subprocess
    from pathlib import Path

    python = Path(venv) / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, INSTALLED_NAME + ".py").write_text(Path(__file__).read_text())
    Path(site, INSTALLED_NAME + ".pth").write_text("import %s; %s.start()\n" % (INSTALLED_NAME, INSTALLED_NAME))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--install":
        sys.exit("usage: python tests/tools/ansiballz_bytecode.py --install VENV")
    install(sys.argv[2])
