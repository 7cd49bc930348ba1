# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Cloudflare credentials a task uses. For internal collection use only.

Explicit options win over the environment as a whole, so a play that passes ``api_email`` and
``api_key`` is not tripped up by a ``CLOUDFLARE_API_TOKEN`` left in the environment, and the other
way round. Within one source, exactly one method must be given.
"""

from __future__ import annotations

import hashlib

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError

OPTION_NAMES = ("api_token", "api_email", "api_key")
ENV_NAMES = ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY")


class Credentials:
    """An API token, or an account email with its Global API key."""

    def __init__(self, api_token=None, api_email=None, api_key=None):
        self.api_token = api_token
        self.api_email = api_email
        self.api_key = api_key

    @property
    def method(self):
        return "api_token" if self.api_token else "api_email+api_key"

    def headers(self):
        if self.api_token:
            return {"Authorization": f"Bearer {self.api_token}"}
        return {"X-Auth-Email": self.api_email, "X-Auth-Key": self.api_key}

    def secrets(self):
        """The values that must never be shown anywhere."""
        return [s for s in (self.api_token, self.api_key) if s]

    @property
    def bucket(self):
        """A one-way name for this credential, for sharing rate-limit state without the secret."""
        material = self.api_token or f"{self.api_email}\n{self.api_key}"
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]

    def __repr__(self):
        return f"Credentials(method={self.method})"


def _credentials_from(source, names, where):
    token_name, email_name, key_name = names
    token, email, key = (source.get(n) for n in names)
    for name, value in zip(names, (token, email, key)):
        if value is None:
            continue
        if not isinstance(value, str):
            raise OptionError(name, f"must be a string {where}", "Quote the value.")
        if value.strip() == "":
            raise OptionError(name, f"is empty {where}", "Give the value, or leave the option unset.")
        if value != value.strip() or any(c in value for c in "\r\n"):
            raise OptionError(name, f"has white space or a line break around or inside it {where}",
                              "Give the value exactly as Cloudflare shows it.")
    if token and (email or key):
        raise OptionError(
            f"{token_name} / {email_name}, {key_name}",
            f"two authentication methods were given {where}",
            f"Give either {token_name}, or {email_name} with {key_name}, not both.",
        )
    if token:
        return Credentials(api_token=token)
    if email or key:
        missing = key_name if not key else email_name
        if not (email and key):
            raise OptionError(missing, f"is missing {where}: {email_name} and {key_name} go together",
                              f"Give both, or use {token_name} instead.")
        return Credentials(api_email=email, api_key=key)
    return None


def resolve_credentials(params, environ):
    """Return the ``Credentials`` to use, or raise ``OptionError`` naming the option and the fix."""
    explicit = _credentials_from(params, OPTION_NAMES, "in the task's options")
    if explicit is not None:
        return explicit
    # An empty variable counts as unset: AWX renders an unfilled credential field as "".
    environ = {name: environ.get(name) or None for name in ENV_NAMES}
    from_env = _credentials_from(environ, ENV_NAMES, "in the environment")
    if from_env is not None:
        return from_env
    raise OptionError(
        "api_token",
        "no Cloudflare credentials were given",
        "Set api_token (or CLOUDFLARE_API_TOKEN), or api_email with api_key "
        "(or CLOUDFLARE_EMAIL with CLOUDFLARE_API_KEY).",
    )
