# The run-queue shape of bench/switch.js in gevent: N greenlets each burn SLICE ms of CPU between
# gevent.sleep(0)s for SECONDS; a UDP socket records how late each datagram of the sender is seen
# (the sender writes CLOCK_MONOTONIC, which time.monotonic_ns() reads). Prints one JSON line.
# Args: <sender.mjs path> [n] [slice] [seconds]
import gevent
from gevent import monkey

monkey.patch_all()
import json
import socket
import subprocess
import sys
import time

sender_path = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
slice_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 3

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
delays = []


def receive():
    while True:
        data = sock.recv(64)
        delays.append((time.monotonic_ns() - int(data)) / 1e6)


stop = False


def worker():
    while not stop:
        t = time.perf_counter()
        while (time.perf_counter() - t) * 1000 < slice_ms:
            pass
        gevent.sleep(0)


sender = subprocess.Popen(["node", sender_path, str(port), "5"])
receiver = gevent.spawn(receive)
workers = [gevent.spawn(worker) for _ in range(n)]
gevent.sleep(seconds)
stop = True
gevent.joinall(workers)
receiver.kill()
sender.kill()
delays.sort()


def q(p):
    return delays[min(len(delays) - 1, int(p * len(delays)))]


print(json.dumps({"p50": q(0.5), "p99": q(0.99), "max": delays[-1], "n": len(delays)}))
