"""A key stamped in the future (a clock or a record gone wrong) is of unknown age: ipsec_tunnel_info flags it and
counts it overdue instead of a negative age, and ipsec_psk with max_age rotates it instead of calling it fresh."""

from __future__ import annotations

from cf_emulator import Emulator, default_seed
from support.info import info_task, load_report, save_report_task
from support.playbooks import PlaybookRunner, play, rotate_task

FUTURE = "2099-01-01T00:00:00Z"


def test_a_future_stamp_is_flagged_overdue_and_rotated_under_max_age(tmp_path):
    seed = default_seed()
    tunnel = seed["accounts"][0]["tunnels"][0]
    tunnel.pop("psk_age_days", None)
    tunnel["psk_metadata"] = {"last_generated_on": FUTURE}
    with Emulator(seed=seed, tls=True, state_dir=str(tmp_path / "emulator")) as emulator:
        saved = tmp_path / "report.json"
        run = PlaybookRunner(tmp_path / "run", emulator).run(play(
            info_task(emulator, max_age="90d", ipsec_tunnel_names=[tunnel["name"]]), save_report_task(saved),
            rotate_task(emulator, ipsec_tunnel_name=tunnel["name"], max_age="90d")))
        assert run.returncode == 0, run.stdout[-3000:]
        row, = load_report(saved)["ipsec_tunnels"]
        assert row["psk_age_days"] is None and row["overdue"] is True and row["never_generated"] is False
        assert row["psk_metadata_problem"].startswith("last_generated_on is ") and "in the future" in row["psk_metadata_problem"]
        assert f"tunnel {tunnel['name']} (" in run.stdout and "rotation_reason: max_age" in run.stdout
        after = emulator.tunnel(tunnel["id"])["psk_metadata"]["last_generated_on"]
        assert after != FUTURE and emulator.edge_psk(tunnel["id"])
