"""The hub benchmark cases written for gevent, to compare with greenhub in the same run.

Usage: /usr/bin/python3 bench/gevent/hub_cases.py <case>   -> prints one JSON line {value, unit}.
Each case mirrors the shape of its counterpart in bench/hub-cases.js.
"""
import gc
import json
import sys
import time

import gevent
from gevent.event import Event
from gevent.queue import Queue


def rate(body, n):
    """Best-of-3 rate after a warm-up at a tenth of the size."""
    body(max(1, n // 10))
    best = 0.0
    for _ in range(3):
        gc.collect()
        t0 = time.perf_counter()
        body(n)
        best = max(best, n / (time.perf_counter() - t0))
    return best


def trivial():
    return 1


def spawn_join(k):
    gevent.joinall([gevent.spawn(trivial) for _ in range(k)])


def sleep0_pingpong(k):
    def loop():
        for _ in range(k // 2):
            gevent.sleep(0)

    gevent.joinall([gevent.spawn(loop), gevent.spawn(loop)])


def event_handoff(k):
    ping, pong = Event(), Event()

    def a():
        for _ in range(k // 2):
            ping.wait()
            ping.clear()
            pong.set()

    def b():
        for _ in range(k // 2):
            ping.set()
            pong.wait()
            pong.clear()

    gevent.joinall([gevent.spawn(a), gevent.spawn(b)])


def queue_case(maxsize):
    def body(k):
        q = Queue(maxsize)

        def producer():
            for i in range(k):
                q.put(i)

        def consumer():
            for _ in range(k):
                q.get()

        gevent.joinall([gevent.spawn(producer), gevent.spawn(consumer)])

    return body


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096


def idle_memory():
    n = 100_000
    gc.collect()
    before = rss_bytes()
    ev = Event()
    gs = [gevent.spawn(ev.wait) for _ in range(n)]
    gevent.sleep(0)
    gevent.sleep(0)
    gc.collect()
    value = (rss_bytes() - before) / n / 1024
    ev.set()
    gevent.joinall(gs)
    return value


def timeout_start_cancel(k):
    for _ in range(k):
        t = gevent.Timeout(1)
        t.start()
        t.cancel()


CASES = {
    'spawn-join': lambda: (rate(spawn_join, 100_000), 'greenlets/s'),
    'sleep0-pingpong': lambda: (rate(sleep0_pingpong, 200_000), 'switches/s'),
    'event-handoff': lambda: (rate(event_handoff, 400_000), 'handoffs/s'),
    'queue-unbounded': lambda: (rate(queue_case(None), 1_000_000), 'items/s'),
    'queue-100': lambda: (rate(queue_case(100), 1_000_000), 'items/s'),
    'idle-memory': lambda: (idle_memory(), 'KB/greenlet'),
    'timeout-start-cancel': lambda: (rate(timeout_start_cancel, 1_000_000), 'ops/s'),
}

if __name__ == '__main__':
    value, unit = CASES[sys.argv[1]]()
    print(json.dumps({'value': value, 'unit': unit}))
