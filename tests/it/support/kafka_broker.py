"""A scripted Kafka broker for what Tansu cannot be made to do: no controller, a leaderless
or under-replicated partition, a broker that does not list itself, an old broker that
refuses ApiVersions v3, SCRAM logins (Tansu's memory storage keeps no users) with a right,
missing or wrong server proof, and both ways of refusing a wrong password (Apache Kafka's
error 58, Tansu's `e=invalid-proof`).

Every request is decoded and every reply encoded by kafka-python's protocol classes (Apache
Kafka's message schemas), and kafka_client.py checks each scenario with kafka-python's
client before probe is tested against it (tests/it/kafka.rs).

    python3 kafka_broker.py PORT [--scenario S] [--sasl MECHS --user U --password P]
        [--proof ok|missing|wrong] [--refuse error|invalid-proof] [--old] [--metadata-max N]
        [--cert PEM --key PEM]

Prints "ready" once listening; serves until killed.
"""

import argparse
import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
import sys
import threading

from kafka.protocol.metadata import (
    ApiVersionsRequest,
    ApiVersionsResponse,
    MetadataRequest,
    MetadataResponse,
)
from kafka.protocol.sasl import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

REQUESTS = {
    18: ApiVersionsRequest,
    3: MetadataRequest,
    17: SaslHandshakeRequest,
    36: SaslAuthenticateRequest,
}
NODE = 1
TOPIC = "orders"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument(
        "--scenario",
        default="ok",
        choices=["ok", "no-controller", "leaderless", "under-replicated", "not-listed", "no-brokers"],
    )
    p.add_argument("--sasl", default="", help="mechanisms offered, comma-separated")
    p.add_argument("--user", default="")
    p.add_argument("--password", default="")
    p.add_argument("--proof", default="ok", choices=["ok", "missing", "wrong"])
    p.add_argument("--refuse", default="error", choices=["error", "invalid-proof"])
    p.add_argument("--old", action="store_true", help="refuse ApiVersions v3 (before Kafka 2.4)")
    p.add_argument("--metadata-max", type=int, default=12)
    p.add_argument("--cert", help="speak TLS (an SSL or SASL_SSL listener) with this certificate")
    p.add_argument("--key")
    return p.parse_args()


ARGS = parse_args()


def api_versions(version):
    keys = [(18, 0, 2 if ARGS.old else 3), (3, 0, ARGS.metadata_max)]
    if ARGS.sasl:
        keys += [(17, 0, 1), (36, 0, 2)]
    return ApiVersionsResponse(
        version=version,
        error_code=0,
        api_keys=[
            ApiVersionsResponse.ApiVersion(api_key=k, min_version=lo, max_version=hi, version=version)
            for k, lo, hi in keys
        ],
        throttle_time_ms=0,
    )


def metadata(version, topics):
    Broker = MetadataResponse.MetadataResponseBroker
    Topic = MetadataResponse.MetadataResponseTopic
    Partition = Topic.MetadataResponsePartition
    port = ARGS.port
    brokers = [Broker(node_id=NODE, host="127.0.0.1", port=port, rack=None, version=version)]
    if ARGS.scenario == "not-listed":
        brokers = [Broker(node_id=2, host="127.0.0.1", port=port + 1, rack=None, version=version)]
    elif ARGS.scenario == "no-brokers":
        brokers = []
    controller = -1 if ARGS.scenario == "no-controller" else NODE

    def partition(index):
        leader, replicas, isr = NODE, [NODE, 2, 3], [NODE, 2, 3]
        if ARGS.scenario == "leaderless" and index == 1:
            leader, isr = -1, []
        if ARGS.scenario == "under-replicated" and index == 2:
            isr = [NODE]
        return Partition(
            error_code=5 if leader < 0 else 0,
            partition_index=index,
            leader_id=leader,
            leader_epoch=0,
            replica_nodes=replicas,
            isr_nodes=isr,
            offline_replicas=[],
            version=version,
        )

    reply_topics = []
    for name in topics:
        if name == TOPIC:
            reply_topics.append(Topic(
                error_code=0, name=name, topic_id=None, is_internal=False,
                partitions=[partition(i) for i in range(3)],
                authorized_operations=None, version=version,
            ))
        else:
            reply_topics.append(Topic(
                error_code=3, name=name, topic_id=None, is_internal=False,
                partitions=[], authorized_operations=None, version=version,
            ))
    return MetadataResponse(
        version=version,
        throttle_time_ms=0,
        brokers=brokers,
        cluster_id="scripted",
        controller_id=controller,
        topics=reply_topics,
        authorized_operations=None,
    )


class Scram:
    """The server side of RFC 5802, as Kafka runs it (no SASLprep, no channel binding)."""

    def __init__(self, mechanism):
        self.hash = hashlib.sha256 if mechanism.endswith("256") else hashlib.sha512
        self.name = "sha256" if mechanism.endswith("256") else "sha512"
        self.salt = os.urandom(16)
        self.iterations = 4096

    def hmac(self, key, msg):
        return hmac.new(key, msg, self.hash).digest()

    def first(self, client_first):
        bare = client_first.split(b",", 2)[2]
        attrs = dict(a.split(b"=", 1) for a in bare.split(b","))
        self.user = attrs[b"n"].decode().replace("=2C", ",").replace("=3D", "=")
        self.nonce = attrs[b"r"] + base64.b64encode(os.urandom(12))
        self.server_first = b"r=%s,s=%s,i=%d" % (self.nonce, base64.b64encode(self.salt), self.iterations)
        self.auth_message = bare + b"," + self.server_first
        return self.server_first

    def final(self, client_final):
        without_proof, proof = client_final.rsplit(b",p=", 1)
        auth_message = self.auth_message + b"," + without_proof
        salted = hashlib.pbkdf2_hmac(self.name, ARGS.password.encode(), self.salt, self.iterations)
        client_key = self.hmac(salted, b"Client Key")
        stored_key = self.hash(client_key).digest()
        signature = self.hmac(stored_key, auth_message)
        expected = bytes(a ^ b for a, b in zip(client_key, signature))
        ok = self.user == ARGS.user and hmac.compare_digest(expected, base64.b64decode(proof))
        server_signature = self.hmac(self.hmac(salted, b"Server Key"), auth_message)
        return ok, b"v=" + base64.b64encode(server_signature)


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def serve(conn):
    mechanism, scram, authenticated = None, None, not ARGS.sasl
    try:
        while True:
            size = struct.unpack(">i", read_exact(conn, 4))[0]
            frame = read_exact(conn, size)
            api_key, version, correlation_id = struct.unpack(">hhi", frame[:8])
            if api_key == 18 and ARGS.old and version >= 3:
                # A broker before 2.4: UNSUPPORTED_VERSION and a v0 body with what it speaks.
                reply = ApiVersionsResponse(version=0, error_code=35, api_keys=[
                    ApiVersionsResponse.ApiVersion(api_key=18, min_version=0, max_version=2, version=0)
                ])
                send(conn, reply, 0, correlation_id)
                continue
            request = REQUESTS[api_key].decode(frame, version=version, header=True)
            if api_key == 18:
                send(conn, api_versions(version), version, correlation_id)
            elif api_key == 17:
                mechanism = request.mechanism
                offered = ARGS.sasl.split(",") if ARGS.sasl else []
                code = 0 if mechanism in offered else (33 if offered else 34)
                send(conn, SaslHandshakeResponse(version=version, error_code=code, mechanisms=offered), version, correlation_id)
                if code:
                    return
            elif api_key == 36:
                data = request.auth_bytes
                reply, close = auth_step(mechanism, data, scram)
                if mechanism.startswith("SCRAM") and scram is None:
                    scram = reply.pop("scram")
                elif reply.pop("done", False):
                    authenticated = reply.get("error_code", 0) == 0
                send(conn, SaslAuthenticateResponse(version=version, session_lifetime_ms=0, **reply), version, correlation_id)
                if close:
                    return
            elif api_key == 3:
                if not authenticated:
                    return  # Apache Kafka closes a SASL listener's unauthenticated requests.
                # All topics (null, as kafka-python asks): the one there is.
                topics = [TOPIC] if request.topics is None else [t.name for t in request.topics]
                send(conn, metadata(version, topics), version, correlation_id)
    except (EOFError, ConnectionError, OSError):
        pass
    finally:
        conn.close()


def auth_step(mechanism, data, scram):
    """The reply fields for one SaslAuthenticate step, and whether to close after it."""
    refused = dict(error_code=58, error_message="Authentication failed during authentication due to invalid credentials with SASL mechanism " + mechanism, auth_bytes=b"", done=True)
    if mechanism == "PLAIN":
        _, user, password = data.split(b"\0", 2)
        if user.decode() == ARGS.user and password.decode() == ARGS.password:
            return dict(error_code=0, error_message=None, auth_bytes=b"", done=True), False
        return refused, True
    if scram is None:
        scram = Scram(mechanism)
        return dict(error_code=0, error_message=None, auth_bytes=scram.first(data), scram=scram), False
    ok, server_final = scram.final(data)
    if not ok:
        if ARGS.refuse == "invalid-proof":
            # Tansu: no error code, SCRAM's own error in the bytes.
            return dict(error_code=0, error_message=None, auth_bytes=b"e=invalid-proof", done=True), True
        return refused, True
    if ARGS.proof == "missing":
        server_final = b""
    elif ARGS.proof == "wrong":
        server_final = b"v=" + base64.b64encode(b"\0" * len(base64.b64decode(server_final[2:])))
    return dict(error_code=0, error_message=None, auth_bytes=server_final, done=True), False


def send(conn, reply, version, correlation_id):
    reply.with_header(correlation_id=correlation_id)
    conn.sendall(reply.encode(header=True, framed=True))


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", ARGS.port))
    listener.listen(16)
    context = None
    if ARGS.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(ARGS.cert, ARGS.key)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=accepted, args=(conn, context), daemon=True).start()


def accepted(conn, context):
    if context is not None:
        try:
            conn.settimeout(10)
            conn = context.wrap_socket(conn, server_side=True)
            conn.settimeout(None)
        except (ssl.SSLError, OSError):
            conn.close()
            return
    serve(conn)


if __name__ == "__main__":
    main()
