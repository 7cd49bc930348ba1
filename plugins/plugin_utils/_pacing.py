# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side pacing of Cloudflare API calls across forks. For internal collection use only.

Every task of every host runs in its own fork of ansible-playbook, so what the last answers said
about the quota is shared through one small JSON file per credential and API endpoint, under an
exclusive ``fcntl`` lock. The file is named by a one-way hash and holds counters and times only
(see ``_quota_view``): never a credential. It lives in the controller's private temporary
directory (``local_tmp``'s parent, mode 0700), so concurrent runs by the same user share it too.

Pacing is a courtesy to the quota and must never fail a key rotation: if the file cannot be used,
the calls go unpaced and ``problem`` says why.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import time
import uuid
from contextlib import contextmanager

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError
from ansible_collections.cloudflare.magic.plugins.plugin_utils._quota_view import QuotaView
from ansible_collections.cloudflare.magic.plugins.plugin_utils._ratelimit_headers import read_rate_limit

STATE_DIR_NAME = "cloudflare_magic_ratelimit"


class SharedPacing:
    """The client's pacing hook: ``before_request`` waits for a slot, ``observe`` shares the answer."""

    def __init__(self, directory, scope, max_wait=None, clock=time.time, sleep=time.sleep):
        self.directory = directory
        self.scope = scope
        self.max_wait = max_wait  # rate_limit_max_wait: longer waits for the quota fail instead
        self.clock = clock
        self.sleep = sleep
        self.problem = None
        self.waited = 0.0
        self._pending = {}  # bucket -> (reservation id, time it was granted)

    def before_request(self, bucket):
        """Wait until a request may go under the quota; return the seconds waited."""
        if self.problem:
            return 0.0
        self._abandon(bucket)  # an earlier attempt of ours that got no answer
        rid = uuid.uuid4().hex[:16]
        waited = 0.0
        while True:
            with self._view(bucket) as view:
                if view is None:
                    return waited
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
                self.waited += waited
                return waited
            self.sleep(wait)
            waited += wait

    def observe(self, bucket, headers, status):
        pending = self._pending.pop(bucket, None)
        if pending is None:
            return
        rid, sent = pending
        info = read_rate_limit(headers)
        with self._view(bucket) as view:
            if view is not None:
                view.settle(rid, sent, self.clock(), info, status)

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
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            descriptor = os.open(self.state_file(bucket), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            self._give_up(error)
            yield None
            return
        with os.fdopen(descriptor, "r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                try:
                    view = QuotaView.from_json(json.loads(handle.read() or "null"))
                except ValueError:
                    view = QuotaView()
                yield view
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(view.to_json(), separators=(",", ":")))
                handle.flush()
            except OSError as error:
                self._give_up(error)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _give_up(self, error):
        self.problem = (f"rate-limit pacing is off because {self.directory} cannot be used "
                        f"({error.strerror or type(error).__name__}); calls were sent unpaced")


def _is_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return True


def controller_pacing(local_tmp, base_url, max_wait=None):
    """The pacing for one task on this controller: state next to ansible's per-run temp directory."""
    directory = os.path.join(os.path.dirname(os.path.abspath(local_tmp)), STATE_DIR_NAME)
    return SharedPacing(directory, scope=base_url.rstrip("/"), max_wait=max_wait)
