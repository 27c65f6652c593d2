"""The referee of the Kafka tests: kafka-python's consumer connects (ApiVersions, SASL with
the server proof checked, Metadata) and prints what it learned as one JSON line, or the
error that stopped it. tests/it/kafka.rs runs it against each scripted broker
(kafka_broker.py) and Tansu before probe, so that every fixture is one the real client
reads the same way.

    python3 kafka_client.py BOOTSTRAP [--mechanism M --user U --password P] [--topic T]
"""

import argparse
import json
import logging
import sys

from kafka import KafkaConsumer
from kafka.cluster import ClusterMetadata

p = argparse.ArgumentParser()
p.add_argument("bootstrap")
p.add_argument("--mechanism")
p.add_argument("--user")
p.add_argument("--password")
p.add_argument("--topic", default="orders")
p.add_argument("--ca-file", help="speak TLS, trusting this CA")
args = p.parse_args()


class Reasons(logging.Handler):
    """The client's own words for why a connection failed (it retries until its timeout)."""

    seen = []

    def emit(self, record):
        self.seen.append(record.getMessage().split(">: ")[-1])


logging.getLogger("kafka").addHandler(Reasons(level=logging.ERROR))
logging.getLogger("kafka").setLevel(logging.ERROR)
logging.getLogger("kafka").propagate = False

# The first Metadata reply as kafka-python decoded it: what the bootstrap broker said, even
# when the client then fails to reach the brokers it lists.
first = {}
update = ClusterMetadata.update_metadata


def recording(self, metadata):
    if not first:
        first["brokers"] = sorted([b.node_id, b.host, b.port] for b in metadata.brokers)
        first["controller"] = metadata.controller_id
    return update(self, metadata)


ClusterMetadata.update_metadata = recording
config = dict(bootstrap_servers=args.bootstrap, request_timeout_ms=3000, bootstrap_timeout_ms=4000)
if args.ca_file:
    config.update(security_protocol="SSL", ssl_cafile=args.ca_file)
if args.mechanism:
    config.update(
        security_protocol="SASL_SSL" if args.ca_file else "SASL_PLAINTEXT",
        sasl_mechanism=args.mechanism,
        sasl_plain_username=args.user,
        sasl_plain_password=args.password,
    )
try:
    consumer = KafkaConsumer(**config)
    topics = consumer.topics()
    cluster = consumer._client.cluster
    partitions = {}
    for index in sorted(cluster.partitions_for_topic(args.topic) or []):
        meta = cluster._partitions[args.topic][index]
        partitions[index] = [meta.leader_id, len(meta.replica_nodes), len(meta.isr_nodes)]
    controller = cluster.controller
    print(json.dumps({
        "brokers": sorted([b.node_id, b.host, b.port] for b in cluster.brokers()),
        "controller": controller.node_id if controller is not None else None,
        "topics": sorted(topics),
        "partitions": partitions,
        "bootstrap": first,
    }))
    consumer.close()
except Exception as error:  # what stopped the real client is the fixture's point
    print(json.dumps({
        "error": "%s: %s" % (type(error).__name__, error),
        "reasons": sorted(set(Reasons.seen)),
        "bootstrap": first,
    }))
sys.stdout.flush()
