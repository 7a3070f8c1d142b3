"""One instance shared by many threads; many instances created and released without leaks."""

import gc
import json
import os
import threading

from conftest import C1, C2, C3, make_api

MONEY = {C1: "100.01", C2: "-15.50", C3: "0.00"}
THREADS = 16
CALLS = 50


def test_threads_share_one_instance(sim):
    errors = []
    barrier = threading.Barrier(THREADS)
    with make_api(sim.port) as api:
        def worker(t):
            barrier.wait()
            for i in range(CALLS):
                known = (C1, C2, C3)[(t + i) % 3]
                # A GUID no other request uses: the reply names it, so a reply delivered to the
                # wrong thread cannot go unnoticed.
                unique = 10 ** 12 + t * 1000 + i
                text = api.Process("API.Client", ["%d.BillingInfo.Money" % known,
                                                  "%d.AutorizeInfo.Name" % unique])
                try:
                    first, second = json.loads(text)
                    ok = (first == {"return": MONEY[known], "code": 0,
                                    "path": "API.Client.%d.BillingInfo.Money" % known}
                          and second["code"] == 202
                          and second["path"] == "API.Client.%d.AutorizeInfo.Name" % unique)
                except ValueError:
                    ok = False
                if not ok:
                    errors.append((t, i, text))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert errors == []


def test_close_races_with_calls(sim):
    """close() from one thread while others call: every call either answers or raises 9007."""
    from mikrobill import MikroBILLError
    for _ in range(20):
        api = make_api(sim.port)
        outcomes = []
        barrier = threading.Barrier(5)

        def caller():
            barrier.wait()
            for _ in range(10):
                try:
                    outcomes.append(json.loads(api.Process("API.Client.%d.BillingInfo.Money" % C1)))
                except MikroBILLError as exc:
                    outcomes.append(exc.code)

        def closer():
            barrier.wait()
            api.close()

        threads = [threading.Thread(target=caller) for _ in range(4)] + [threading.Thread(target=closer)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert api.closed
        allowed = ({"return": "100.01", "code": 0}, 9007)
        # A call that got the handle just before close() may see the library's 9007 error reply.
        assert all(o in allowed or (isinstance(o, dict) and o.get("code") == 9007) for o in outcomes), outcomes


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cycle(port, i):
    # Three ways to let go of an instance: close(), the with block, and garbage collection.
    if i % 3 == 0:
        api = make_api(port)
        assert api.CheckConnection()
        api.close()
    elif i % 3 == 1:
        with make_api(port) as api:
            assert api.CheckConnection()
    else:
        api = make_api(port)
        assert api.CheckConnection()
        del api


def test_thousand_instances_do_not_leak(sim):
    for i in range(100):
        cycle(sim.port, i)
    gc.collect()
    fds_before = open_fds()
    rss_before = rss_bytes()
    for i in range(1000):
        cycle(sim.port, i)
    gc.collect()
    # Every connection and handle is gone: not one descriptor more than before.
    assert open_fds() == fds_before
    # A leak of even one small allocation per client (config, keys, buffers) times 1000 clients
    # would be visible; allocator noise is far below 8 MiB.
    assert rss_bytes() - rss_before < 8 * 1024 * 1024


def test_garbage_collected_instances_release_their_socket(sim):
    gc.collect()
    fds_before = open_fds()
    apis = [make_api(sim.port) for _ in range(20)]
    for api in apis:
        assert api.CheckConnection()
    assert open_fds() == fds_before + 20
    del apis, api
    gc.collect()
    assert open_fds() == fds_before


def test_construction_errors_are_per_thread(sim):
    """mb_last_error_message is per thread: concurrent failing and succeeding constructions each
    see their own outcome."""
    from mikrobill import MikroBILLError
    results = {}
    barrier = threading.Barrier(8)

    def build(n):
        barrier.wait()
        for _ in range(25):
            try:
                if n % 3 == 0:
                    make_api(sim.port).close()
                elif n % 3 == 1:
                    make_api(sim.port, key1="bad key %d" % n).close()
                else:
                    make_api(0).close()
                results.setdefault(n, []).append("constructed")
            except MikroBILLError as exc:
                results.setdefault(n, []).append(exc.code)

    threads = [threading.Thread(target=build, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == {n: [("constructed", 9006, 9005)[n % 3]] * 25 for n in range(8)}
