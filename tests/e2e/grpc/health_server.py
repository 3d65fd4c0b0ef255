#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A gRPC health server for tests/e2e/53-probes.sh, on Debian's python3-grpcio (the gRPC C core):
# grpc.health.v1.Health/Check answers with the status named in STATE_FILE (SERVING or
# NOT_SERVING) for the service "" or "app", and NOT_FOUND for any other service. Messages are
# encoded by hand (HealthCheckResponse is one enum field), so no generated code is needed.
#   health_server.py ADDRESS:PORT STATE_FILE
import sys
import time
from concurrent import futures

import grpc

STATUS = {"SERVING": 1, "NOT_SERVING": 2}


def service_of(request):
    # HealthCheckRequest { string service = 1; }
    if len(request) >= 2 and request[0] == 0x0A:
        return request[2 : 2 + request[1]].decode()
    return ""


def check(request, context):
    if service_of(request) not in ("", "app"):
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
    with open(sys.argv[2]) as f:
        state = f.read().strip()
    return bytes([0x08, STATUS.get(state, 0)])


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(check)}
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(sys.argv[1])
    server.start()
    print("serving", sys.argv[1], flush=True)
    while True:
        time.sleep(3600)


main()
