"""Readiness latency: time from a dependency's port opening to the waiting command's start.

Usage: readiness.py ROUNDS COMMAND... where COMMAND contains {port} and {stamp}; the command
must wait for 127.0.0.1:{port}, then run something that writes time.time_ns() to {stamp}.
Prints the median latency in ms.
"""
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time

rounds = int(sys.argv[1])
template = sys.argv[2:]
latencies = []
for _ in range(rounds):
    probe_socket = socket.socket()
    probe_socket.bind(("127.0.0.1", 0))
    port = probe_socket.getsockname()[1]
    probe_socket.close()
    stamp = tempfile.mktemp()
    command = [word.format(port=port, stamp=stamp) for word in template]
    waiter = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(1.0, 2.0))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    opened = time.time_ns()
    waiter.wait(timeout=30)
    with open(stamp) as f:
        started = int(f.read().strip())
    os.unlink(stamp)
    listener.close()
    latencies.append((started - opened) / 1e6)
print("%.1f" % statistics.median(latencies))
