# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side pacing of Cloudflare API calls across forks. For internal collection use only.

Every task of every host runs in its own fork of ansible-playbook, so what the last answers said
about the quota is shared through one small JSON file per credential and API endpoint, under an
exclusive ``fcntl`` lock. The file is named by a one-way hash and holds counters and times only
(see ``_quota_view``): never a credential. It lives in a folder beside ``local_tmp``, so concurrent
runs by the same user share it too.

``local_tmp``'s parent may be shared (``ANSIBLE_LOCAL_TEMP=/tmp``), so nothing there is trusted: the
folder is used only when it is the user's own and no one else can write to it, files are opened
without following links, the lock is waited for a bounded time, and a file with anything absurd in it
is reset. Pacing is a courtesy to the quota and must never fail or stall a key rotation: when the
state cannot be used safely, the calls go unpaced and ``problem`` says why and what to do.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import stat
import time
import uuid
from contextlib import contextmanager

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError
from ansible_collections.cloudflare.magic.plugins.plugin_utils._quota_view import QuotaView

STATE_DIR_NAME = "cloudflare_magic_ratelimit"
LOCK_WAIT = 5.0  # seconds; a fork holds the lock for one read and one write, far less than this
LOCK_POLL = 0.05
MAX_STATE_CHARS = 1 << 20  # a real state file is a few hundred bytes
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a planted FIFO must not block the open.
_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_PRIVATE_FIX = ("Remove that folder (the next task makes it again, private to you), or set ANSIBLE_LOCAL_TEMP to a "
                "folder only you can write to, e.g. ~/.ansible/tmp.")


class _Unsafe(Exception):
    """The state is not the user's own: pacing goes off for the task with this message."""


class SharedPacing:
    """The client's pacing hook: ``before_request`` waits for a slot, ``observe`` shares the answer."""

    def __init__(self, directory, scope, max_wait=None, clock=time.time, sleep=time.sleep):
        self.directory = directory
        self.scope = scope
        self.max_wait = max_wait  # rate_limit_max_wait: longer waits for the quota fail instead
        self.clock = clock
        self.sleep = sleep
        self.problem = None
        self._pending = {}  # bucket -> (reservation id, time it was granted)

    def before_request(self, bucket):
        """Wait until a request may go under the quota."""
        if self.problem:
            return
        self._abandon(bucket)  # an earlier attempt of ours that got no answer
        rid = uuid.uuid4().hex[:16]
        waited = 0.0
        while True:
            with self._view(bucket) as view:
                if view is None:
                    return
                now = self.clock()
                view.prune(now, _is_alive)
                wait = view.admit(rid, os.getpid(), now)
                freed = view.exhausted_until(now) if wait > 0 else None
            if freed is not None and self.max_wait is not None and freed - now > self.max_wait - waited:
                # Sent now it would only be refused: fail as a 429 would, saying when to try again.
                raise ApiError(429, [], "rate limited: an earlier answer used up the token's quota",
                               retry_after=float(math.ceil(freed - now)))
            if wait <= 0:
                self._pending[bucket] = (rid, now)
                return
            self.sleep(wait)
            waited += wait

    def observe(self, bucket, rate_limit, status):
        """Share what an answer said about the quota (the client's ``RateLimitInfo``)."""
        pending = self._pending.pop(bucket, None)
        if pending is None:
            return
        rid, sent = pending
        with self._view(bucket) as view:
            if view is not None:
                view.settle(rid, sent, self.clock(), rate_limit, status)

    def close(self):
        """Count requests that never got an answer (they may have reached Cloudflare)."""
        for bucket in list(self._pending):
            self._abandon(bucket)

    def _abandon(self, bucket):
        pending = self._pending.pop(bucket, None)
        if pending is not None:
            with self._view(bucket) as view:
                if view is not None:
                    view.abandon(pending[0])

    def state_file(self, bucket):
        name = hashlib.sha256(f"{self.scope}\n{bucket}".encode("utf-8")).hexdigest()[:32]
        return os.path.join(self.directory, f"{name}.json")

    @contextmanager
    def _view(self, bucket):
        """The shared ``QuotaView`` under an exclusive lock, written back on leaving; None if unusable."""
        if self.problem:
            yield None
            return
        try:
            handle = self._open_state(bucket)
        except _Unsafe as unsafe:
            self.problem = f"rate-limit pacing is off for this task (calls were sent unpaced): {unsafe}"
            yield None
            return
        except OSError as error:
            self._give_up(error)
            yield None
            return
        with handle:
            try:
                if not self._lock(handle, bucket):
                    yield None
                    return
                try:
                    view = QuotaView.from_json(_read_state(handle), now=self.clock())
                    yield view
                    handle.seek(0)
                    handle.truncate()
                    handle.write(json.dumps(view.to_json(), separators=(",", ":"), allow_nan=False))
                    handle.flush()
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            except (OSError, ValueError) as error:
                self._give_up(error)

    def _open_state(self, bucket):
        """The state file, opened only in a folder of the user's own and never through a link."""
        folder = self._open_folder()
        try:
            name = os.path.basename(self.state_file(bucket))
            descriptor = os.open(name, _FILE_FLAGS, 0o600, dir_fd=folder)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise _Unsafe(f"{self.state_file(bucket)} is a symbolic link, so it is not followed. "
                              "Remove it; the next task makes the file afresh.") from None
            raise
        finally:
            os.close(folder)
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid():
            os.close(descriptor)
            what = "not a plain file" if not stat.S_ISREG(found.st_mode) else "owned by another user"
            raise _Unsafe(f"{self.state_file(bucket)} is {what}, so it is not used. "
                          "Remove it; the next task makes the file afresh.")
        return os.fdopen(descriptor, "r+", encoding="utf-8")

    def _open_folder(self):
        """A descriptor of the state folder, made 0700 if missing; _Unsafe unless it is the user's alone."""
        parent = os.path.dirname(self.directory)
        if parent:
            os.makedirs(parent, exist_ok=True)
        try:
            os.mkdir(self.directory, 0o700)
        except FileExistsError:
            pass  # checked below, whoever made it
        try:
            folder = os.open(self.directory, _FOLDER_FLAGS)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _Unsafe(f"{self.directory} is a symbolic link or not a folder, so it is not used. "
                              f"{_PRIVATE_FIX}") from None
            raise
        found = os.fstat(folder)
        reason = None
        if found.st_uid != os.geteuid():
            reason = f"belongs to another user (uid {found.st_uid}, you are uid {os.geteuid()})"
        elif found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            reason = f"can be written by others (mode {stat.S_IMODE(found.st_mode):o})"
        if reason:
            os.close(folder)
            raise _Unsafe(f"{self.directory} {reason}, so it is not used. {_PRIVATE_FIX}")
        return folder

    def _lock(self, handle, bucket):
        """Take the file's lock, waiting LOCK_WAIT seconds at most; False (and ``problem``) when it stays taken."""
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
            time.sleep(LOCK_POLL)
        self.problem = (f"rate-limit pacing is off for this task (calls were sent unpaced): another process "
                        f"held the lock on {self.state_file(bucket)} for more than {LOCK_WAIT:g} s. If that is "
                        "not a run of yours, set ANSIBLE_LOCAL_TEMP to a folder only you can write to.")
        return False

    def _give_up(self, error):
        self.problem = (f"rate-limit pacing is off because {self.directory} cannot be used "
                        f"({getattr(error, 'strerror', None) or type(error).__name__}); calls were sent unpaced")


def _read_state(handle):
    """The stored JSON, or None when it is missing, too large or not strict JSON (NaN and Infinity are not)."""
    try:
        text = handle.read(MAX_STATE_CHARS + 1)
        if len(text) > MAX_STATE_CHARS:
            return None
        return json.loads(text or "null", parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None


def _refuse_constant(name):
    raise ValueError(name)


def _is_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    except (OverflowError, ValueError):
        return False
    return True


def controller_pacing(local_tmp, connection):
    """The pacing for one task on this controller, from its validated ``Connection``: state next to
    ansible's per-run temp directory, waits bounded by rate_limit_max_wait."""
    directory = os.path.join(os.path.dirname(os.path.abspath(local_tmp)), STATE_DIR_NAME)
    return SharedPacing(directory, scope=connection.base_url, max_wait=connection.options["rate_limit_max_wait"])
