"""A bytecode cache for what ansible-core's processes compile anew each time: modules' AnsiballZ imports, and more.

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

The processes on the controller (ansible-playbook, its task workers, ansible-connection) compile things again in
every process too, which Python's own import (it keeps bytecode) never sees: ansible-core's collection loader
compiles a collection's plugins, module_utils and filters from source; Jinja compiles the Python source it
generates for every template and expression (hundreds per task worker, 0.1 to 0.3 ms each).
``install_compile_hooks`` gives each of those two modules (COMPILING) a ``compile`` of its own, which keeps the
code objects it makes in the same folder under the same kind of key; every other ``compile`` stays the built-in
one. The same code runs, from the same files. (Syntax trees, which ansible-core parses to build each AnsiballZ
payload, are not kept: unpickling a tree took longer than parsing the source again.) dataclasses, which compiles
text it generates for each dataclass with ``exec``, gets an ``exec`` of its own the same way (EXECUTING).

Not compiling but of the same kind, work each task worker redoes: ``install_plugin_preload`` has ansible-playbook
load the Jinja filter and test plugins outside collections before it forks each worker, which inherits them
(see there). CFM_ANSIBALLZ_BYTECODE=modules keeps only the module processes' cache; =no-preload everything but
the preload.
"""

from __future__ import annotations

import os
import sys
import zipimport

INSTALLED_NAME = "_cfm_ansiballz_bytecode"
FOLDER = "ansiballz-bytecode"
SWITCH = "CFM_ANSIBALLZ_BYTECODE"
KEPT = ("ansible" + os.sep, "ansible_collections" + os.sep)
# The modules whose own calls of compile() the cache serves (see above), and those whose calls of exec() with
# source text it serves: dataclasses compiles each dataclass's __init__, __repr__, __eq__ ... from text it generates
# (79 classes and 30 ms in every ansible-playbook process, 13 and 4 ms in a module process, 2.21 on 3.13), and
# ansible-core's own dataclass validation one method per class.
COMPILING = ("ansible.utils.collection_loader._collection_finder", "jinja2.environment",
             "ansible.module_utils._internal._dataclass_validation")
EXECUTING = ("dataclasses",)
# The module whose WorkerProcess.start has the plugin loaders load first (see install_plugin_preload).
PRELOADING = "ansible.executor.process.worker"


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


def _cache(folder):
    """``kept_or_compiled(filename, source, compile_source, flags=0)``: the code object ``compile_source()`` makes of
    ``source``, from ``folder`` if kept there (its file names set to ``filename``), else compiled and kept; None when
    the folder cannot serve. ``kept_or_compiled.prepare()`` does the first use's work (the folder's check, the
    imports) ahead, in a process about to fork workers that would each do it again."""
    tag = ("%s\0%s\0%d\0" % (sys.implementation.cache_tag, sys.version, sys.flags.optimize)).encode()
    usable = []  # decided at the first source kept, once per process

    def prepare():
        if not usable:
            usable.append(_usable(folder))
        import _imp  # pylint: disable=unused-import,import-outside-toplevel  # here, not at start-up: most processes
        import hashlib  # pylint: disable=unused-import,import-outside-toplevel  # never compile a source the cache
        import marshal  # pylint: disable=unused-import,import-outside-toplevel  # keeps
        return usable[0]

    def kept_or_compiled(filename, source, compile_source, flags=0):
        if not prepare():
            return None
        import _imp  # pylint: disable=import-outside-toplevel
        import hashlib  # pylint: disable=import-outside-toplevel
        import marshal  # pylint: disable=import-outside-toplevel

        data = b"b\0" + source if isinstance(source, bytes) else b"s\0" + source.encode("utf-8", "surrogatepass")
        path = os.path.join(folder, hashlib.sha256(tag + (b"%d\0" % flags if flags else b"") + data).hexdigest())
        try:
            with open(path, "rb") as stream:
                # loads of the whole file: load(stream) reads it in many small calls, about four times slower
                code = marshal.loads(stream.read())
            _imp._fix_co_filename(code, filename)  # TypeError when the file held no code object
            return code
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile_source()
        partial = "%s.%d" % (path, os.getpid())
        try:
            with open(partial, "wb") as stream:
                marshal.dump(code, stream)
            os.replace(partial, path)  # whole or not at all, for the processes that read it meanwhile
        except OSError:
            pass
        return code

    kept_or_compiled.prepare = prepare
    return kept_or_compiled


def install_hook(folder):
    """Replace zipimport's compile step with one that keeps each compiled source in ``folder``."""
    compile_source = getattr(zipimport, "_compile_source", None)
    if compile_source is None or getattr(compile_source, "cfm_cached", False):
        return
    kept_or_compiled = _cache(folder)

    def cached_compile_source(pathname, source):
        code = None
        if _inner_path(pathname).startswith(KEPT):
            try:
                code = kept_or_compiled(pathname, source, lambda: compile_source(pathname, source))
            except Exception:  # pylint: disable=broad-except  # e.g. a SyntaxError: compiling again raises it as before
                code = None
        return compile_source(pathname, source) if code is None else code

    cached_compile_source.cfm_cached = True
    zipimport._compile_source = cached_compile_source


def install_compile_hooks(folder):
    """Keep in ``folder`` what the modules of COMPILING compile with ``compile``, and those of EXECUTING with ``exec``
    of source text, in every process: each of them gets a ``compile`` (or ``exec``) of its own once imported, which
    serves what it compiled before; every other ``compile`` and ``exec`` stays the built-in one."""
    kept_or_compiled = _cache(folder)

    def patch(module):
        name, make = ("exec", _cached_exec) if module.__name__ in EXECUTING else ("compile", _cached_compile)
        if not getattr(getattr(module, name, None), "cfm_cached", False):
            setattr(module, name, make(module, kept_or_compiled))
            kept_or_compiled.prepare()  # before ansible-playbook forks its task workers

    _patch_on_import(COMPILING + EXECUTING, patch, "compile")


def install_plugin_preload(_folder=None):
    """In a process that forks ansible-core's task workers (ansible-playbook), have the Jinja filter and test plugin
    loaders load their plugins that are not in a collection (ansible.builtin's files, any beside the playbook or a
    role) before each worker starts, so that the worker inherits them as it inherits everything else the process
    loaded. Without it, each worker whose template names a filter or a test loads every such file again (five filter
    and four test files), ansible.utils.encrypt's libcrypt lookup with them (an ldconfig process): 7-9 ms a task.
    A loader forgets them when a directory is added to it (an included role's) as without the hook, and the next
    worker's start has it load them again; a file that fails to load is kept as a deferred failure by ansible-core,
    raised where a template uses it, as when the worker loaded it."""

    def patch(module):
        worker = module.WorkerProcess
        if getattr(worker.start, "cfm_preload", False):
            return
        start = worker.start

        def start_with_plugins(self, *args, **kwargs):
            loader = sys.modules.get("ansible.plugins.loader")
            try:
                for plugins in (loader.filter_loader, loader.test_loader):
                    list(plugins.all())  # loads the files once, then answers from the loader's cache
            except Exception:  # pylint: disable=broad-except  # the worker loads them itself, as without the hook
                pass
            return start(self, *args, **kwargs)

        start_with_plugins.cfm_preload = True
        worker.start = start_with_plugins

    _patch_on_import((PRELOADING,), patch, "preload")


def _patch_on_import(names, patch, purpose):
    """Call ``patch(module)`` for each module of ``names`` now if imported, else once it is."""
    waiting = [name for name in names if name not in sys.modules]
    for name in names:
        if name in sys.modules:
            patch(sys.modules[name])
    # One entry per purpose, also when a second copy of this file (the tests') installs hooks in the same process.
    if waiting and not any(getattr(finder, "cfm_patch_on_import", None) == purpose for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport(waiting, patch, purpose))


def _cached_compile(module, kept_or_compiled):
    """A ``compile`` for ``module``'s own calls: one of source text to code (no AST, no optimisation level of its own)
    is served from the cache, compiled with the same flags as the built-in would use called from ``module``."""
    import builtins
    import __future__

    builtin_compile = builtins.compile
    # What compile(..., dont_inherit=False) takes from the calling module: its `from __future__` features.
    inherited = 0
    for value in vars(module).values():
        if isinstance(value, __future__._Feature):  # pylint: disable=protected-access
            inherited |= value.compiler_flag

    def cached_compile(source, filename, mode, flags=0, dont_inherit=False, optimize=-1, **more):
        effective = flags if dont_inherit else flags | inherited
        code = None
        if (mode, flags, optimize, more) == ("exec", 0, -1, {}) and isinstance(filename, str) \
                and isinstance(source, (str, bytes)):
            try:
                code = kept_or_compiled(filename, source,
                                        lambda: builtin_compile(source, filename, mode, effective, True),
                                        effective)
            except Exception:  # pylint: disable=broad-except  # e.g. a SyntaxError: compiling again raises it as before
                code = None
        return builtin_compile(source, filename, mode, effective, True, optimize, **more) if code is None else code

    cached_compile.cfm_cached = True
    return cached_compile


def _cached_exec(module, kept_or_compiled):
    """An ``exec`` for ``module``'s own calls: source text is compiled as the built-in would compile it there (file
    name "<string>", the module's ``from __future__`` features), through the cache, then run in the same namespaces."""
    import builtins

    builtin_exec = builtins.exec
    cached_compile = _cached_compile(module, kept_or_compiled)

    def cached_exec(source, globals=None, locals=None, /, **more):  # pylint: disable=redefined-builtin
        if globals is None:  # the built-in's default: the caller's namespaces (as locals() gives them), not these
            caller = sys._getframe(1)  # pylint: disable=protected-access
            globals = caller.f_globals
            if locals is None:
                locals = caller.f_locals  # from 3.13, a function's is a view that writes through; locals() copies
                locals = dict(locals) if sys.version_info >= (3, 13) and caller.f_code.co_flags & 1 else locals
        if isinstance(source, (str, bytes)):
            source = cached_compile(source, "<string>", "exec")
        return builtin_exec(source, globals, locals, **more)

    cached_exec.cfm_cached = True
    return cached_exec


class _PatchOnImport:
    """A meta path entry that lets the other entries find each module of ``names`` and calls ``patch(module)`` once it
    ran."""

    def __init__(self, names, patch, purpose):
        self.names, self.patch, self.searching = set(names), patch, set()
        self.cfm_patch_on_import = purpose

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names or fullname in self.searching:
            return None  # the second: another entry that asks the others, this one among them, while it searches
        self.searching.add(fullname)
        try:
            spec = next((found for found in (finder.find_spec(fullname, path, target) for finder in list(sys.meta_path)
                                             if finder is not self and hasattr(finder, "find_spec"))
                         if found is not None), None)
        finally:
            self.searching.discard(fullname)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            run = spec.loader.exec_module

            def run_then_patch(module):
                run(module)
                self.patch(module)

            spec.loader.exec_module = run_then_patch  # this spec's own loader
        return spec


def start():
    """What the .pth line runs in every process of the venv."""
    switch = os.environ.get(SWITCH, "").lower()
    if switch == "off":
        return
    hooks = (install_hook,) if switch == "modules" else (install_hook, install_compile_hooks)
    if switch not in ("modules", "no-preload"):
        hooks += (install_plugin_preload,)
    for hook in hooks:
        try:
            hook(os.path.join(sys.prefix, FOLDER))
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
    # Its bytecode too, by the venv's own interpreter: every process of the venv imports it, and where
    # PYTHONDONTWRITEBYTECODE is set (this machine's shells have it) import would compile it in each (2.5-3 ms).
    subprocess.run([str(python), "-m", "py_compile", str(Path(site, INSTALLED_NAME + ".py"))], check=True)
    Path(site, INSTALLED_NAME + ".pth").write_text("import %s; %s.start()\n" % (INSTALLED_NAME, INSTALLED_NAME))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--install":
        sys.exit("usage: python tests/tools/ansiballz_bytecode.py --install VENV")
    install(sys.argv[2])
