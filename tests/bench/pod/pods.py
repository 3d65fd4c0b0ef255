#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# bench-pod's driver (Python's standard library only): watches pods in the namespace `default`
# and times each pod from its create request to the watch event showing it Ready.
# Pods name their node (spec.nodeName, $EK_BENCH_NODE): edgek has no scheduler yet.
#   pods.py TLS_DIR seq N        N pods one after another; prints "p50_ms p99_ms"
#   pods.py TLS_DIR burst N      N pods created at once; prints seconds until all are Ready
#   pods.py TLS_DIR clean        deletes every pod (grace 0) and waits until none is left
import http.client
import json
import os
import ssl
import sys
import threading
import time

API = ("127.0.0.1", 6443)
PODS = "/api/v1/namespaces/default/pods"


def context(tls):
    ctx = ssl.create_default_context(cafile=tls + "/server-ca.crt")
    ctx.load_cert_chain(tls + "/client-admin.crt", tls + "/client-admin.key")
    return ctx


def request(ctx, method, path, body=None):
    c = http.client.HTTPSConnection(*API, context=ctx, timeout=60)
    data = json.dumps(body).encode() if body is not None else None
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.read()
    c.close()
    if r.status >= 300:
        raise SystemExit(f"bench-pod: {method} {path}: {r.status} {out[:300]!r}")
    return json.loads(out)


def pod(name):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "pod"}},
        "spec": {
            "nodeName": os.environ["EK_BENCH_NODE"],
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "busybox:e2e", "imagePullPolicy": "Never",
                            "command": ["sleep", "100000"]}],
        },
    }


class Watch(threading.Thread):
    """Records the first time each pod is seen Ready."""

    def __init__(self, ctx, rv):
        super().__init__(daemon=True)
        self.ready, self.cond = {}, threading.Condition()
        self.conn = http.client.HTTPSConnection(*API, context=ctx, timeout=600)
        self.conn.request("GET", f"{PODS}?watch=1&resourceVersion={rv}")
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise SystemExit(f"bench-pod: watch: {self.resp.status}")

    def run(self):
        for line in self.resp:
            now = time.monotonic()
            ev = json.loads(line)
            obj = ev.get("object", {})
            conds = (obj.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                name = obj["metadata"]["name"]
                with self.cond:
                    self.ready.setdefault(name, now)
                    self.cond.notify_all()

    def wait(self, names, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(n in self.ready for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in self.ready]
                    raise SystemExit(f"bench-pod: not Ready after {timeout}s: {missing[:5]}")
                self.cond.wait(left)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    tls, mode = sys.argv[1], sys.argv[2]
    ctx = context(tls)
    if mode == "clean":
        request(ctx, "DELETE", PODS + "?gracePeriodSeconds=0")
        for _ in range(600):
            if not request(ctx, "GET", PODS)["items"]:
                return
            time.sleep(0.1)
        raise SystemExit("bench-pod: pods still there after 60s")
    n = int(sys.argv[3])
    w = Watch(ctx, request(ctx, "GET", PODS)["metadata"]["resourceVersion"])
    w.start()
    if mode == "seq":
        times = []
        for i in range(n):
            name = f"seq-{i}"
            t0 = time.monotonic()
            request(ctx, "POST", PODS, pod(name))
            w.wait([name], 30)
            times.append((w.ready[name] - t0) * 1000)
        print(f"{pct(times, 50):.1f} {pct(times, 99):.1f}")
    elif mode == "burst":
        names = [f"burst-{i}" for i in range(n)]
        t0 = time.monotonic()
        threads = []
        # Eight clients at once, as a controller creating pods would.
        for k in range(8):
            part = names[k::8]
            th = threading.Thread(target=lambda ps: [request(ctx, "POST", PODS, pod(p)) for p in ps],
                                  args=(part,))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        w.wait(names, 120)
        print(f"{max(w.ready[x] for x in names) - t0:.2f}")


main()
