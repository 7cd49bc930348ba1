"""A small NETCONF-over-SSH server (RFC 6242 on paramiko), for tests that drive ansible.netcommon.netconf.

It does what the transport needs and nothing more: password authentication (sshcli.py's), the SSH
``netconf`` subsystem that ncclient requests (ncclient/transport/ssh.py ``_connect``: ``invoke_subsystem``
for each name of the device handler's ``get_ssh_subsystem_names``, ``netconf`` for Junos), the server's
``<hello>`` first, and the NETCONF 1.0 end-of-message framing ``]]>]]>`` (RFC 6242 section 4.1; the
chunked 1.1 framing is chosen only when both hellos carry ``base:1.1``, ncclient/transport/session.py, and a
Junos hello does not). Everything a platform answers lives in a ``NetconfDevice``: its ``hello()`` and
``rpc(session, operation, attributes)`` returning the reply's inner XML. The server wraps it in
``<rpc-reply>`` with the request's ``message-id`` (RFC 6241 section 4.2), which ncclient matches replies by.

    with NetconfServer(lambda: junos_device, "netops", "secret") as server:   # one device, every session
        ...  # ansible_host=127.0.0.1 ansible_port=server.port; server.refuse = True: an unreachable device
"""

from __future__ import annotations

import itertools
import threading
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

import paramiko

from devices.sshcli import SshListener, _host_key, _Session

DELIMITER = b"]]>]]>"
BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


def local(tag: str) -> str:
    """An element's name without its namespace (Junos answers and ncclient's Junos handler strip them too)."""
    return tag.rsplit("}", 1)[-1]


class NetconfDevice:
    """A platform's NETCONF side. ``rpc`` answers one operation (an Element, namespaces kept) with the inner
    XML of the ``<rpc-reply>``; ``session_closed`` ends a session (locks held by it are released there)."""

    reply_attributes = ""  # extra attributes of every <rpc-reply> (Junos: its junos namespace)

    def hello(self, session_id: int) -> str:
        raise NotImplementedError

    def rpc(self, session_id: int, operation: ET.Element) -> str:
        raise NotImplementedError

    def session_closed(self, session_id: int) -> None:
        """The SSH session ``session_id`` ended."""


class _NetconfSession(_Session):
    """sshcli's password check, plus the ``netconf`` subsystem (paramiko ServerInterface hook)."""

    def __init__(self, username, password):
        super().__init__(username, password)
        self.subsystem = threading.Event()

    def check_channel_subsystem_request(self, channel, name):
        if name != "netconf":
            return False
        self.subsystem.set()
        return True


class NetconfServer(SshListener):
    """A NETCONF device over SSH (see SshListener): each connection is a NETCONF session of the device
    ``device_factory()`` returns. ``requests`` lists ``(session_id, operation name)`` in order."""

    thread_name = "netconf"

    def __init__(self, device_factory, username, password, host="127.0.0.1", port=0, refuse=False):
        super().__init__(device_factory, username, password, host, port, refuse)
        self.requests: list[tuple[int, str]] = []
        self._ids = itertools.count(27001)

    def _serve(self, conn):
        transport = paramiko.Transport(conn)
        self._transports.append(transport)
        transport.add_server_key(_host_key())
        session = _NetconfSession(self.username, self.password)
        device, session_id = None, next(self._ids)
        try:
            transport.start_server(server=session)
            channel = self._accept_channel(transport)
            if channel is None or not session.subsystem.wait(30):
                return
            device = self.device_factory()
            channel.sendall(device.hello(session_id).encode() + DELIMITER)
            self._converse(channel, device, session_id)
            channel.close()
        except (EOFError, OSError, paramiko.SSHException):
            pass
        finally:
            if device is not None:
                device.session_closed(session_id)
            transport.close()
            if transport in self._transports:
                self._transports.remove(transport)

    def _converse(self, channel, device, session_id):
        buffer = b""
        while not self._stopping.is_set():
            data = channel.recv(65536)
            if not data:
                return
            buffer += data
            while DELIMITER in buffer:
                message, buffer = buffer.split(DELIMITER, 1)
                if not message.strip():
                    continue
                root = ET.fromstring(message.strip())
                if local(root.tag) == "hello":  # the client's capabilities: nothing to answer (RFC 6241 8.1)
                    continue
                operation = next(iter(root), None)
                name = local(operation.tag) if operation is not None else ""
                self.requests.append((session_id, name))
                inner = device.rpc(session_id, operation) if operation is not None else ""
                attributes = "".join(f" {k}={quoteattr(v)}" for k, v in root.attrib.items() if "}" not in k)
                reply = (f'<rpc-reply xmlns="{BASE_NS}"{device.reply_attributes}{attributes}>'
                         f"{inner}</rpc-reply>")
                channel.sendall(reply.encode() + DELIMITER)
                if name == "close-session":
                    return
