"""Protocol-level readiness probes for scripts/brokers, using nothing but the Python standard library.

    probe.py amqp HOST PORT    AMQP 0-9-1 handshake: the server must answer with connection.start
    probe.py kafka HOST PORT   Kafka Metadata v4: the broker must list itself as an alive broker

Exit 0 when the service answers, 1 with the reason on stderr otherwise. A port that merely accepts
TCP connections is not enough: RabbitMQ and Kafka both open their sockets before they can serve.
"""

import socket
import struct
import sys

TIMEOUT_SECONDS = 3


def read_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(data), size))
        data += chunk
    return data


def probe_amqp(host, port):
    with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS) as sock:
        sock.settimeout(TIMEOUT_SECONDS)
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        frame_type, _channel, size = struct.unpack(">BHI", read_exactly(sock, 7))
        payload = read_exactly(sock, size)
        class_id, method_id = struct.unpack(">HH", payload[:4])
        # Method frame, class connection (10), method start (10).
        if (frame_type, class_id, method_id) != (1, 10, 10):
            raise RuntimeError("expected connection.start, got frame %d class %d method %d"
                               % (frame_type, class_id, method_id))


def kafka_string(value):
    encoded = value.encode()
    return struct.pack(">h", len(encoded)) + encoded


def probe_kafka(host, port):
    correlation_id = 7
    # Request header v1, then Metadata v4: no topics, no auto-creation.
    header = struct.pack(">hhi", 3, 4, correlation_id) + kafka_string("omnibus-brokers-probe")
    body = struct.pack(">i", 0) + b"\x00"
    request = header + body
    with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS) as sock:
        sock.settimeout(TIMEOUT_SECONDS)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", read_exactly(sock, 4))
        response = read_exactly(sock, size)
    received_id, _throttle_ms, broker_count = struct.unpack(">iii", response[:12])
    if received_id != correlation_id:
        raise RuntimeError("correlation id %d, expected %d" % (received_id, correlation_id))
    if broker_count < 1:
        raise RuntimeError("metadata lists no alive broker yet")


def main(argv):
    if len(argv) != 4 or argv[1] not in ("amqp", "kafka"):
        sys.stderr.write("usage: probe.py amqp|kafka HOST PORT\n")
        return 2
    protocol, host, port = argv[1], argv[2], int(argv[3])
    try:
        (probe_amqp if protocol == "amqp" else probe_kafka)(host, port)
    except (OSError, RuntimeError, ConnectionError, struct.error) as error:
        sys.stderr.write("%s %s:%d: %s\n" % (protocol, host, port, error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
