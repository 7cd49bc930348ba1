"""The action plugins' shared result handling: no_log marking, the task's no_log, diff and warnings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from support.fakes import TOKEN, FakePacing

from ansible.plugins.action import ActionBase
from ansible_collections.cloudflare.magic.plugins.action.ipsec_psk import ActionModule as PskAction
from ansible_collections.cloudflare.magic.plugins.action.ipsec_psk_bulk import ActionModule as BulkAction
from ansible_collections.cloudflare.magic.plugins.plugin_utils import _action

ACCOUNT = "a" * 32
TUNNEL = "b" * 32
KEY = "generated-key-0123456789abcdefghijklmnopqr"
DIFF = {"before": "last_generated_on: old\n", "after": "last_generated_on: new\n",
        "before_header": "t", "after_header": "t"}


class Display:
    def __init__(self):
        self.shown = []

    def warning(self, text):
        self.shown.append(("warning", text))

    def error(self, text):
        self.shown.append(("error", text))

    def display(self, text):
        self.shown.append(("display", text))


def run(action_class, module_result, monkeypatch, problem=None, args=None):
    """Run the action plugin's ``run`` with the module's result and the pacing faked."""
    pacing = FakePacing()
    pacing.problem = problem
    made = []
    monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(_action, "controller_pacing", lambda local_tmp, connection: pacing)

    def run_module(self, params, environ, make_pacing):
        made.append(make_pacing(SimpleNamespace(base_url="x", options=params)))
        return dict(module_result)

    monkeypatch.setattr(action_class, "run_module", run_module)
    action = action_class.__new__(action_class)
    action._task = SimpleNamespace(args=args or {"account_id": ACCOUNT, "api_token": TOKEN, "ipsec_tunnel_id": TUNNEL},
                                   environment=[], check_mode=False, diff=True, no_log=False)
    action._display = Display()
    return action.run(task_vars={}), action, made


def test_a_result_with_a_key_is_censored_with_its_task_and_its_diff_shown_beside(monkeypatch):
    result, action, _made = run(PskAction, {"changed": True, "psk": KEY, "diff": DIFF, "ipsec_tunnel_id": TUNNEL},
                                monkeypatch)
    assert result["_ansible_no_log"] is True and action._task.no_log is True
    (kind, line), (kind2, text) = action._display.shown
    assert kind == kind2 == "display" and "+last_generated_on: new" in text and text.count(KEY) == 0
    assert line.startswith(f"cloudflare.magic.ipsec_psk [localhost]: tunnel {TUNNEL}: a new key is in force")
    assert line.count(KEY) == 0


def test_the_line_beside_a_censored_result_names_the_tunnel_and_why_without_the_key_or_forged_lines(monkeypatch):
    module_result = {"changed": True, "psk": KEY, "ipsec_tunnel_id": TUNNEL, "rotation_reason": "max_age",
                     "psk_metadata": {"last_generated_on": "2026-11-26T12:00:00Z"},
                     "tunnel": {"name": "edge\nok: [forged]"}}
    _result, action, _made = run(PskAction, module_result, monkeypatch)
    (kind, line), = action._display.shown
    assert line == (f"cloudflare.magic.ipsec_psk [localhost]: tunnel edge?ok: [forged] ({TUNNEL}): a new key is in "
                    "force (rotation_reason: max_age, last_generated_on: 2026-11-26T12:00:00Z). The result below is "
                    "censored because it holds the key: register it and hand its psk on in a task with no_log: true.")


def test_a_result_without_a_key_is_left_as_it_is_with_the_pacing_warning_in_it(monkeypatch):
    result, action, made = run(PskAction, {"changed": False}, monkeypatch, problem="pacing is off: why")
    assert "_ansible_no_log" not in result and action._task.no_log is False
    assert result["warnings"] == ["pacing is off: why"] and action._display.shown == []
    assert len(made) == 1 and made[0].closed and made[0].before == 0


def test_a_censored_result_shows_its_warnings_and_failure_message_instead(monkeypatch):
    module_result = {"changed": True, "failed": True, "msg": "Batch 2 failed", "warnings": ["tunnel x unapplied"],
                     "rotated": {TUNNEL: {"psk": KEY}}}
    args = {"account_id": ACCOUNT, "api_token": TOKEN, "ipsec_tunnel_ids": [TUNNEL]}
    result, action, _made = run(BulkAction, module_result, monkeypatch, problem="pacing is off", args=args)
    assert result["_ansible_no_log"] is True and action._task.no_log is True and "warnings" not in result
    assert action._display.shown[1:] == [("warning", "tunnel x unapplied"), ("warning", "pacing is off"),
                                         ("error", "Batch 2 failed")]
    assert action._display.shown[0][1].startswith("cloudflare.magic.ipsec_psk_bulk [localhost]: 1 tunnel(s) got")


@pytest.mark.parametrize("action_class", [PskAction, BulkAction])
def test_invalid_options_fail_without_running_and_without_the_secret(action_class, monkeypatch):
    result, action, made = run(action_class, {"changed": True}, monkeypatch,
                               args={"api_token": TOKEN, "no_such_option": 1})
    assert result["failed"] and "no_such_option" in result["msg"] and result["msg"].count(TOKEN) == 0
    assert made == [] and action._task.no_log is False


@pytest.mark.parametrize("psk", [["FromVaultAsList-777-0123"], {"key": "FromVaultAsDict-777-0123"}])
def test_a_psk_given_as_a_list_or_a_mapping_is_refused_before_anything_runs(psk, monkeypatch):
    args = {"account_id": ACCOUNT, "api_token": TOKEN, "ipsec_tunnel_id": TUNNEL, "psk": psk}
    result, action, made = run(PskAction, {"changed": True, "psk": "never"}, monkeypatch, args=args)
    assert result["failed"] is True and result["msg"].startswith("Invalid options for cloudflare.magic.ipsec_psk: psk:")
    assert "nothing was sent" in result["msg"] and "FromVault" not in result["msg"]
    assert made == [] and "psk" not in result


@pytest.mark.parametrize("psk", [98765432109876543210987654321, 1234567890.12345678901, True],
                         ids=["int", "float", "bool"])
def test_a_psk_that_yaml_read_as_a_number_or_a_boolean_is_refused_as_bulk_refuses_it(psk, monkeypatch):
    """Unquoted, YAML reads such a key as a number (a float loses digits) or a boolean; turned into text, it
    would be sent as a key other than the one written. ipsec_psk_bulk refuses it; ipsec_psk must too."""
    args = {"account_id": ACCOUNT, "api_token": TOKEN, "ipsec_tunnel_id": TUNNEL, "psk": psk}
    result, action, made = run(PskAction, {"changed": True, "psk": "never"}, monkeypatch, args=args)
    assert result["failed"] is True and result["msg"].startswith("Invalid options for cloudflare.magic.ipsec_psk: psk:")
    assert "must be one string" in result["msg"] and "nothing was sent" in result["msg"], result["msg"]
    assert str(psk)[:10] not in result["msg"] and made == [] and "psk" not in result


def test_a_bulk_psks_value_given_as_a_list_is_refused_too(monkeypatch):
    from ansible_collections.cloudflare.magic.plugins.module_utils._bulk import BulkRequest, IPSEC_PSK_BULK_SPEC
    from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError

    params = {name: spec.get("default") for name, spec in IPSEC_PSK_BULK_SPEC.items()}
    params.update(account_id=ACCOUNT, api_token=TOKEN, ipsec_tunnel_ids=[TUNNEL], psks={TUNNEL: ["k" * 20]})
    with pytest.raises(OptionError, match=r"^psks\[b+\]: must be a string, not a list; nothing was sent"):
        BulkRequest(params, {})
