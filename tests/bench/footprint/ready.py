#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# bench-footprint's clock (Python's standard library only): from T0 (ns since the epoch, taken
# just before `edgek server` was started) until the node is Ready with a heartbeat of this run:
# its Ready condition True and its Lease renewed at or after T0 (after a restart the stored
# Node still says Ready from the last run; only a fresh renewal shows the new agent is up).
#   ready.py TLS_DIR T0_NS [TIMEOUT_S]     prints the seconds from T0 to Ready
import datetime
import http.client
import json
import ssl
import sys
import time

API = ("127.0.0.1", 6443)


def main():
    tls, t0 = sys.argv[1], int(sys.argv[2]) / 1e9
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    ctx = None
    conn = None
    errors = {}
    while time.time() - t0 < timeout:
        try:
            if ctx is None:
                ctx = ssl.create_default_context(cafile=tls + "/server-ca.crt")
                ctx.load_cert_chain(tls + "/client-admin.crt", tls + "/client-admin.key")
            if conn is None:
                conn = http.client.HTTPSConnection(*API, context=ctx, timeout=1)
            if ready(conn, t0):
                print(f"{time.time() - t0:.3f}")
                if errors:
                    print(f"bench-footprint: while waiting: {errors}", file=sys.stderr)
                return
        except (OSError, http.client.HTTPException, ValueError) as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            conn = None  # not listening yet, or the certificates are still being written
            if ctx is not None and not ctx.get_ca_certs():
                ctx = None
        time.sleep(0.005)
    raise SystemExit(f"bench-footprint: the node was not Ready within {timeout} s")


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return json.loads(body) if r.status == 200 else None


def ready(conn, t0):
    nodes = get(conn, "/api/v1/nodes")
    for node in (nodes or {}).get("items", []):
        conds = node.get("status", {}).get("conditions", [])
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in conds):
            continue
        name = node["metadata"]["name"]
        lease = get(conn, f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}")
        renew = (lease or {}).get("spec", {}).get("renewTime")
        if renew:
            t = datetime.datetime.strptime(renew.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
            if t.replace(tzinfo=datetime.timezone.utc).timestamp() >= t0 - 0.001:
                return True
    return False


main()
