"""Protocol-level readiness probes for scripts/brokers, using nothing but the Python standard library.

    probe.py amqp HOST PORT    AMQP 0-9-1 handshake: the server must answer with connection.start
    probe.py amqp10 HOST PORT  AMQP 1.0 SASL header: the server must answer with the same header
    probe.py kafka HOST PORT   Kafka Metadata v4 for all topics: the broker must list itself as alive
                               and every partition must have a leader; then ListOffsets v1 for every
                               partition must succeed (after a restart a broker answers, and even
                               names itself leader, seconds before it serves its partitions again)

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


def probe_amqp10(host, port):
    header = b"AMQP\x03\x01\x00\x00"
    with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS) as sock:
        sock.settimeout(TIMEOUT_SECONDS)
        sock.sendall(header)
        answer = read_exactly(sock, 8)
        if answer != header:
            raise RuntimeError("expected the AMQP 1.0 SASL header, got %r" % answer)


def kafka_string(value):
    encoded = value.encode()
    return struct.pack(">h", len(encoded)) + encoded


class Reader:
    def __init__(self, data):
        self.data, self.offset = data, 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        size = self.take(">h")
        value = self.data[self.offset:self.offset + max(size, 0)].decode()
        self.offset += max(size, 0)
        return value

    def int32_array(self):
        return [self.take(">i") for _ in range(self.take(">i"))]


def kafka_call(sock, api_key, version, correlation_id, body):
    # Request header v1 (the non-flexible one), response header v0.
    request = struct.pack(">hhi", api_key, version, correlation_id) + kafka_string("omnibus-brokers-probe") + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", read_exactly(sock, 4))
    response = Reader(read_exactly(sock, size))
    received_id = response.take(">i")
    if received_id != correlation_id:
        raise RuntimeError("correlation id %d, expected %d" % (received_id, correlation_id))
    return response


def probe_kafka(host, port):
    with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS) as sock:
        sock.settimeout(TIMEOUT_SECONDS)
        # Metadata v4: all topics (null array), no auto-creation.
        partitions = kafka_leaders(kafka_call(sock, 3, 4, 1, struct.pack(">i", -1) + b"\x00"))
        # ListOffsets v1, latest offset of every partition, as a consumer (replica id -1).
        body = struct.pack(">ii", -1, len(partitions))
        for topic, indexes in partitions.items():
            body += kafka_string(topic) + struct.pack(">i", len(indexes))
            for index in indexes:
                body += struct.pack(">iq", index, -1)
        response = kafka_call(sock, 2, 1, 2, body)
    failing = []
    for _ in range(response.take(">i")):
        topic = response.string()
        for _ in range(response.take(">i")):
            index, error, _timestamp, _offset = response.take(">ihqq")
            if error:
                failing.append("%s-%d (error %d)" % (topic, index, error))
    if failing:
        raise RuntimeError("%d partitions not served yet, e.g. %s" % (len(failing), failing[0]))


def kafka_leaders(response):
    """Parse a Metadata v4 response: topic -> partition indexes, once every partition has a leader."""
    response.take(">i")  # throttle time
    brokers = response.take(">i")
    if brokers < 1:
        raise RuntimeError("metadata lists no alive broker yet")
    for _ in range(brokers):
        response.take(">i")
        response.string()
        response.take(">i")
        response.string()
    response.string()  # cluster id
    response.take(">i")  # controller id
    partitions, leaderless = {}, []
    for _ in range(response.take(">i")):
        _error, topic, _internal = response.take(">h"), response.string(), response.take(">b")
        for _ in range(response.take(">i")):
            _error, index, leader = response.take(">hii")
            response.int32_array()  # replicas
            response.int32_array()  # in-sync replicas
            partitions.setdefault(topic, []).append(index)
            if leader < 0:
                leaderless.append("%s-%d" % (topic, index))
    if leaderless:
        raise RuntimeError("%d partitions have no leader yet, e.g. %s" % (len(leaderless), leaderless[0]))
    return partitions


def main(argv):
    probes = {"amqp": probe_amqp, "amqp10": probe_amqp10, "kafka": probe_kafka}
    if len(argv) != 4 or argv[1] not in probes:
        sys.stderr.write("usage: probe.py amqp|amqp10|kafka HOST PORT\n")
        return 2
    protocol, host, port = argv[1], argv[2], int(argv[3])
    try:
        probes[protocol](host, port)
    except (OSError, RuntimeError, ConnectionError, struct.error) as error:
        sys.stderr.write("%s %s:%d: %s\n" % (protocol, host, port, error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
