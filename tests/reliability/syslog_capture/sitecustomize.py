"""Copies every syslog message a Python process sends to the file named by CF_SYSLOG_CAPTURE.

Put on PYTHONPATH of a test run so that modules executed on the (local) target leave their
"Invoked with ..." lines where a leak test can read them; the messages still go to syslog.
"""

import os
import syslog

_PATH = os.environ.get("CF_SYSLOG_CAPTURE")

if _PATH:
    _send, _open = syslog.syslog, syslog.openlog
    _ident = [""]

    def _openlog(*args, **kwargs):
        _ident[0] = str(args[0] if args else kwargs.get("ident", ""))
        return _open(*args, **kwargs)

    def _capture(*args):
        with open(_PATH, "a", encoding="utf-8") as handle:
            handle.write(f"{_ident[0]}: {args[-1]}\n")
        return _send(*args)

    syslog.openlog = _openlog
    syslog.syslog = _capture
