"""moto's server, with its SQS and SNS state kept across a restart.

    moto-server.py STATE_FILE [moto_server options...]

moto keeps everything in memory, so `scripts/brokers restart aws` would otherwise lose every queue,
message and topic. On SIGTERM or SIGINT this pickles moto's SQS and SNS backends (queues with their
messages, in flight or not, receipt handles, receive counts; topics and subscriptions with their
ARNs) to STATE_FILE, and loads them again at start. The pickle is tied to the moto version that
wrote it (scripts/brokers pins one); a file that no longer loads is set aside, and the server starts
empty.

It also makes SQS ReceiveMessage atomic, as it is on AWS: moto checks that a message is visible and
then marks it received without a lock, so two concurrent polls (the server has a thread per request)
can both receive one message. Seen as a flaky "each message once" conformance test; reproduced by four
threads polling one FIFO queue (1 message in 20 runs of 60 received twice). Here each scan for messages
runs under one lock, and the long-poll wait happens outside it.
"""

import copyreg
import os
import pickle
import sys
import threading
import time

from moto.backends import get_backend
from moto.server import main as moto_main
from moto.sqs.models import SQSBackend

SERVICES = ("sqs", "sns")

# Queues hold a threading.Condition for long polling. A lock's state means nothing in another process:
# pickle a fresh one.
copyreg.pickle(threading.Condition, lambda _condition: (threading.Condition, ()))
copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))
copyreg.pickle(type(threading.Lock()), lambda _lock: (threading.Lock, ()))


_receive = SQSBackend.receive_message
_receiving = threading.Lock()


def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                    message_attribute_names=None):
    deadline = time.time() + wait_seconds_timeout
    while True:
        with _receiving:  # one scan at a time: check visible, mark received
            result = _receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        remaining = deadline - time.time()
        if result or remaining <= 0:
            return result
        waited_from = time.time()
        self.get_queue(queue_name).wait_for_messages(min(1, remaining))
        if time.time() - waited_from < 0.001:
            # moto's wait returns at once while a visible message is held back (its FIFO group is in
            # flight): do not spin, and do not starve the other polls of the lock.
            time.sleep(0.002)


SQSBackend.receive_message = receive_message


def log(message):
    print("moto-server: " + message, flush=True)


def save(path):
    # service -> account id -> region -> backend
    state = {service: {account: dict(regions) for account, regions in get_backend(service).items()}
             for service in SERVICES}
    with open(path + ".tmp", "wb") as file:
        pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(path + ".tmp", path)
    log("saved %s to %s" % (describe(state), path))


def load(path):
    if not os.path.exists(path):
        return
    try:
        with open(path, "rb") as file:
            state = pickle.load(file)
    except Exception as error:  # any unpickling error means: written by another moto version
        os.replace(path, path + ".unreadable")
        log("could not load %s (%s); starting empty, the file is now %s.unreadable" % (path, error, path))
        return
    for service, accounts in state.items():
        backends = get_backend(service)
        for account, regions in accounts.items():
            account_backends = backends[account]
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)
    log("loaded %s from %s" % (describe(state), path))


def describe(state):
    queues = sum(len(backend.queues) for regions in state["sqs"].values() for backend in regions.values())
    topics = sum(len(backend.topics) for regions in state["sns"].values() for backend in regions.values())
    return "%d queues and %d topics" % (queues, topics)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write("usage: moto-server.py STATE_FILE [moto_server options...]\n")
        sys.exit(2)
    state_path = sys.argv[1]
    load(state_path)
    try:
        # moto's own SIGTERM/SIGINT handler raises SystemExit out of the serving loop.
        moto_main(sys.argv[2:])
    finally:
        save(state_path)
