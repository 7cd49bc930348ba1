"""Test helpers. The IKE lab and the playbook runner live with the demo (docs/examples/lab); tests import them
as ``lab.*``, so whoever imports ``support`` (pytest, the benchmarks, the reliability table) can reach them."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "docs", "examples")
if EXAMPLES not in sys.path:
    sys.path.append(EXAMPLES)
