#!/usr/bin/env python3
"""A real gRPC server (grpcio, the reference implementation) for probe's tests.

usage: grpc_server.py PORT [--no-health] [--tls CERT KEY] [--client-ca CA]

Serves grpc.health.v1.Health with the overall health ("") SERVING and the service
"probe.Test" SERVING, unless --no-health. Each line on stdin "SERVICE STATUS" (e.g.
"probe.Test NOT_SERVING") sets a status, then "ok" is printed. Prints "ready" when it
listens. Exits when stdin closes.
"""

import sys
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def main():
    args = sys.argv[1:]
    port = int(args.pop(0))
    with_health = "--no-health" not in args
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = health.HealthServicer()
    if with_health:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        servicer.set("probe.Test", health_pb2.HealthCheckResponse.SERVING)
    address = f"127.0.0.1:{port}"
    if "--tls" in args:
        at = args.index("--tls")
        cert = open(args[at + 1], "rb").read()
        key = open(args[at + 2], "rb").read()
        client_ca = None
        if "--client-ca" in args:
            client_ca = open(args[args.index("--client-ca") + 1], "rb").read()
        credentials = grpc.ssl_server_credentials(
            [(key, cert)],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )
        server.add_secure_port(address, credentials)
    else:
        server.add_insecure_port(address)
    server.start()
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2:
            service, status = words
            servicer.set(service, health_pb2.HealthCheckResponse.ServingStatus.Value(status))
            print("ok", flush=True)
    server.stop(0)


if __name__ == "__main__":
    main()
