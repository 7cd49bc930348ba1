"""The bad-input matrix: every option's invalid forms must be refused before any request is sent,
with a clear message that names the option, and without a traceback or a secret."""

from __future__ import annotations

from dataclasses import dataclass, field

from reliability.common import has_traceback, read_result, tunnel_id
from support.playbooks import play, rotate_task

HEX32 = "0123456789abcdef" * 2
UNSET = None  # in ``env``: remove the variable


@dataclass(frozen=True)
class BadInput:
    name: str
    option: str  # the option (or variable) the message must name
    options: dict = field(default_factory=dict)  # merged over a valid task; None removes an option
    env: dict = field(default_factory=dict)  # merged over the runner's CLOUDFLARE_* environment


def _with_user_secret(emulator):
    user = emulator.user("global_key")
    return user["email"], user["api_key"]


BAD_INPUTS = (
    BadInput("account_id of 31 characters", "account_id", {"account_id": HEX32[:31]}),
    BadInput("account_id of 33 characters", "account_id", {"account_id": HEX32 + "a"}),
    BadInput("account_id not hex", "account_id", {"account_id": "zz" + HEX32[2:]}),
    BadInput("account_id with ../", "account_id", {"account_id": "../../user/tokens/verify"}),
    BadInput("account_id missing", "account_id", env={"CLOUDFLARE_ACCOUNT_ID": UNSET}),
    BadInput("ipsec_tunnel_id of 8 characters", "ipsec_tunnel_id", {"ipsec_tunnel_id": "8425b8c9"}),
    BadInput("ipsec_tunnel_id not hex", "ipsec_tunnel_id", {"ipsec_tunnel_id": "g" * 32}),
    BadInput("ipsec_tunnel_id with ../", "ipsec_tunnel_id", {"ipsec_tunnel_id": "../../" + HEX32[:26]}),
    BadInput("ipsec_tunnel_id with ?validate_only", "ipsec_tunnel_id",
             {"ipsec_tunnel_id": HEX32[:13] + "?validate_only=1"}),
    BadInput("ipsec_tunnel_id and ipsec_tunnel_name", "ipsec_tunnel_name", {"ipsec_tunnel_name": "tunnel_nyc_01"}),
    BadInput("neither ipsec_tunnel_id nor ipsec_tunnel_name", "ipsec_tunnel_id", {"ipsec_tunnel_id": None}),
    BadInput("ipsec_tunnel_name empty", "ipsec_tunnel_name", {"ipsec_tunnel_id": None, "ipsec_tunnel_name": " "}),
    BadInput("api_token and api_email + api_key", "api_token",
             {"api_token": "@token", "api_email": "@email", "api_key": "@key"}),
    BadInput("api_token empty", "api_token", {"api_token": ""}),
    BadInput("api_token with a line break", "api_token", {"api_token": "@token\n"}),
    BadInput("api_email without api_key", "api_key", {"api_email": "@email"}, env={"CLOUDFLARE_API_TOKEN": UNSET}),
    BadInput("CLOUDFLARE_API_TOKEN empty, no other credential", "api_token", env={"CLOUDFLARE_API_TOKEN": ""}),
    BadInput("both methods in the environment", "CLOUDFLARE_API_TOKEN",
             env={"CLOUDFLARE_EMAIL": "@email", "CLOUDFLARE_API_KEY": "@key"}),
    BadInput("api_base_url plain http to a remote host", "api_base_url",
             {"api_base_url": "http://api.cloudflare.com/client/v4"}),
    BadInput("api_base_url not http(s)", "api_base_url", {"api_base_url": "ftp://127.0.0.1/client/v4"}),
    BadInput("api_base_url with user:password@", "api_base_url",
             {"api_base_url": "https://user:pw@api.cloudflare.com/client/v4"}),
    BadInput("timeout negative", "timeout", {"timeout": -1}),
    BadInput("timeout zero", "timeout", {"timeout": 0}),
    BadInput("timeout not a number", "timeout", {"timeout": "soon"}),
    BadInput("retries negative", "retries", {"retries": -1}),
    BadInput("retries 21", "retries", {"retries": 21}),
    BadInput("retry_max_time zero", "retry_max_time", {"retry_max_time": 0}),
    BadInput("rate_limit_max_wait negative", "rate_limit_max_wait", {"rate_limit_max_wait": -5}),
    BadInput("retry_backoff zero", "retry_backoff", {"retry_backoff": 0}),
    BadInput("retry_backoff_max negative", "retry_backoff_max", {"retry_backoff_max": -1}),
    BadInput("max_age unknown unit", "max_age", {"max_age": "90x"}),
    BadInput("max_age zero", "max_age", {"max_age": "0"}),
    BadInput("max_age negative", "max_age", {"max_age": "-1d"}),
    BadInput("ca_path names no file", "ca_path", {"ca_path": "no-such-ca.pem"}),
    BadInput("validate_certs not a boolean", "validate_certs", {"validate_certs": "maybe"}),
    BadInput("unknown option", "api_tokn", {"api_tokn": "@token"}),
    BadInput("max_age of 5,000 digits", "max_age", {"max_age": "9" * 5000}),
    BadInput("psk given as a list", "psk", {"psk": ["FromVaultAsList-777-0123"]}),
    BadInput("psk given as a mapping", "psk", {"psk": {"key": "FromVaultAsDict-777-0123"}}),
    BadInput("psk of 2 characters", "psk", {"psk": "en"}),
    BadInput("api_token of 2 characters", "api_token", {"api_token": "en"}),
    BadInput("api_token with a character no HTTP header carries", "api_token", {"api_token": "@token\u20ac"}),
    BadInput("api_key with a character no HTTP header carries", "api_key",
             {"api_email": "@email", "api_key": "@key\u20ac"}, env={"CLOUDFLARE_API_TOKEN": UNSET}),
    BadInput("CLOUDFLARE_API_TOKEN with a character no HTTP header carries", "CLOUDFLARE_API_TOKEN",
             env={"CLOUDFLARE_API_TOKEN": "@token\u20ac"}),
)


@dataclass
class BadInputOutcome:
    refused: bool
    names_option: bool
    requests: int
    traceback: bool
    hits: int
    message: str

    @property
    def says_key_may_have_changed(self):
        """Only a request that may have reached Cloudflare can have changed a key."""
        return "may have" in self.message


def _fill(value, emulator, token):
    """Replace the placeholders @token, @email and @key by the seed's real secrets (so leaks are caught)."""
    email, key = _with_user_secret(emulator)
    if isinstance(value, str):
        return value.replace("@token", token).replace("@email", email).replace("@key", key)
    return value


def _task(case, index, emulator, token):
    options = {"ipsec_tunnel_id": tunnel_id(emulator)}
    for name, value in case.options.items():
        if value is None:
            options.pop(name, None)
        else:
            options[name] = _fill(value, emulator, token)
    task = rotate_task(emulator, **options)
    if "ca_path" in case.options:
        task["cloudflare.magic.ipsec_psk"]["ca_path"] = options["ca_path"]
    return dict(task, name=f"Bad input {index}", register=f"bad_{index}", ignore_errors=True)


def env_groups(cases=BAD_INPUTS):
    """Cases that share an environment run as one playbook (one task each), so the matrix stays fast."""
    groups = {}
    for case in cases:
        groups.setdefault(tuple(sorted(case.env.items(), key=lambda kv: kv[0])), []).append(case)
    return list(groups.values())


def run_bad_inputs(cases, emulator, playbooks, workdir):
    """Run ``cases`` (one environment) in one playbook; return one outcome per case.

    Requests and tracebacks are counted for the playbook as a whole: zero for the whole means zero for each.
    """
    tasks = [_task(case, index, emulator, playbooks.token) for index, case in enumerate(cases)]
    every = "[" + ", ".join(f"bad_{index}" for index in range(len(cases))) + "]"
    results_file = workdir / "results.json"
    # No key can be in these results (nothing is sent), and one write keeps the playbook short.
    tasks.append({"name": "Keep the results", "ansible.builtin.copy": {
        "content": "{{ %s | to_json }}" % every, "dest": str(results_file)}})
    env = {k: _fill(v, emulator, playbooks.token) for k, v in cases[0].env.items()}
    run = playbooks.run(play(*tasks), env=env)
    results = read_result(results_file) or [{} for _unused in cases]
    _unused, key = _with_user_secret(emulator)
    outcomes = []
    for case, result in zip(cases, results):
        message = str(result.get("msg", ""))
        outcomes.append(BadInputOutcome(
            refused=bool(result.get("failed")), names_option=case.option in message,
            requests=len(emulator.requests), traceback=has_traceback(run, result),
            hits=run.hits(playbooks.token, key), message=message))
    return outcomes
