"""A local emulator of Cloudflare's Magic IPsec tunnel API, for tests and demos.

    from cf_emulator import Emulator, Fault, default_seed
    with Emulator() as emu:
        ...  # emu.base_url, emu.ca_file, emu.edge_psk(tunnel_id), emu.requests, emu.push_fault(Fault(...))
"""

from .emulator import Emulator
from .faults import KINDS as FAULT_KINDS
from .faults import Fault
from .records import RecordedRequest
from .seed import NEVER_GENERATED_FORMS, default_seed, load_seed, seed_with_tunnels

__all__ = ["Emulator", "Fault", "FAULT_KINDS", "NEVER_GENERATED_FORMS", "RecordedRequest", "default_seed", "load_seed",
           "seed_with_tunnels"]
