"""The IKE lab with the emulator behind it, for the end-to-end tests: two namespaces, a charon each, and a
``Handoff`` that runs the strongSwan example against them. Skips the test when the lab cannot run here."""

from __future__ import annotations

import contextlib

import pytest

from cf_emulator import Emulator
from lab.ipsec_handoff import Handoff, lab_seed
from lab.ipsec_lab import IpsecLab, missing_requirements

from .playbooks import PlaybookRunner

MISSING = missing_requirements()


@contextlib.contextmanager
def lab_handoff(tmp_path, psk_generate_ipsec_id=True):
    """A ``Handoff`` over a fresh lab and emulator; ``psk_generate_ipsec_id=False`` answers psk_generate in
    its published form, without ``ipsec_id``."""
    if MISSING:
        pytest.skip(f"IKE end-to-end test: {MISSING}")
    with IpsecLab(tmp_path / "lab") as lab:
        emulator = Emulator(seed=lab_seed(lab), tls=True, state_dir=str(tmp_path / "emulator"),
                            psk_generate_ipsec_id=psk_generate_ipsec_id).start()
        try:
            yield Handoff(lab, emulator, PlaybookRunner(tmp_path / "run", emulator))
        finally:
            emulator.stop()
