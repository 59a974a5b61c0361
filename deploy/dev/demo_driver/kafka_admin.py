"""Deletes the demo's Kafka topics and consumer group at the end, speaking the two Kafka protocol
requests it needs (DeleteTopics v1, DeleteGroups v0) over a plain socket: the dev machine has no
Kafka command-line tools (deploy/dev/services runs the broker from Maven jars) and kcat cannot delete.
Single-broker dev cluster: the broker is also the controller's front and the group coordinator."""

import socket
import struct

_DELETE_TOPICS = 20
_DELETE_GROUPS = 42
_ERRORS = {0: "deleted", 3: "did not exist", 69: "did not exist", 68: "not empty", 16: "not coordinator",
           15: "coordinator unavailable", 41: "not controller", 7: "timed out"}


def _string(text):
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def _request(broker, api_key, version, body):
    host, port = broker.rsplit(":", 1)
    header = struct.pack(">hhi", api_key, version, 1) + _string("crmsync-demo")
    message = header + body
    with socket.create_connection((host, int(port)), timeout=15) as connection:
        connection.sendall(struct.pack(">i", len(message)) + message)
        size = struct.unpack(">i", _read(connection, 4))[0]
        return _read(connection, size)


def _read(connection, count):
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise OSError("Kafka closed the connection")
        data += chunk
    return data


def _names_and_errors(answer, offset):
    """Parses an array of (string, int16 error) starting at `offset`."""
    (count,) = struct.unpack_from(">i", answer, offset)
    offset += 4
    out = {}
    for _ in range(count):
        (length,) = struct.unpack_from(">h", answer, offset)
        name = answer[offset + 2:offset + 2 + length].decode()
        offset += 2 + length
        (error,) = struct.unpack_from(">h", answer, offset)
        offset += 2
        out[name] = _ERRORS.get(error, f"error {error}")
    return out


def delete_topics(broker, topics):
    """{topic: outcome} for each topic asked to be deleted."""
    body = struct.pack(">i", len(topics)) + b"".join(_string(t) for t in topics) + struct.pack(">i", 15000)
    answer = _request(broker, _DELETE_TOPICS, 1, body)
    return _names_and_errors(answer, 8)  # correlation id, throttle time


def delete_group(broker, group):
    """The outcome of deleting one (empty) consumer group."""
    body = struct.pack(">i", 1) + _string(group)
    answer = _request(broker, _DELETE_GROUPS, 0, body)
    return _names_and_errors(answer, 8).get(group, "no answer")
