"""CPU of checking PostgreSQL once a second, the two ways (bench/serve.sh, issue 29).

  serve_cpu.py exec SECONDS PROBE URL
      Runs `PROBE postgres URL -q` once a second, each a new process that the script forks,
      execs and waits for, as a kubelet's exec probe does (without the container runtime's
      own cost, which is larger still). Prints: cpu_ms failures
  serve_cpu.py serve SECONDS PROBE URL [RSS_AT...]
      Starts `PROBE serve --listen 127.0.0.1:0 --ready URL --interval 10s` and asks
      GET /readyz once a second, as a kubelet's httpGet probe does. Prints: cpu_ms failures,
      then serve's VmRSS in KiB at each second of RSS_AT.

CPU is user + system time from wait4 (the kernel's per-task runtime, not ticks): the probe
processes' own in the first case, the serve process's whole life (start-up included) in the
second. The PostgreSQL server's side (a backend per login) is not counted in either.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time


def cpu_ms(usage):
    return (usage.ru_utime + usage.ru_stime) * 1000


def get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    return int(reply[9:12]) if reply.startswith(b"HTTP/1.1 ") else 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def each_second(seconds, work):
    started = time.monotonic()
    for tick in range(seconds):
        work(tick)
        time.sleep(max(0.0, started + tick + 1 - time.monotonic()))


def exec_probes(seconds, probe, url):
    total, failures = 0.0, 0

    def once(_):
        nonlocal total, failures
        child = subprocess.Popen([probe, "postgres", url, "-q"], stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = status
        total += cpu_ms(usage)
        failures += status != 0

    each_second(seconds, once)
    print(f"{total:.1f} {failures}")


def serve(seconds, probe, url, rss_at):
    child = subprocess.Popen(
        [probe, "serve", "--listen", "127.0.0.1:0", "--ready", url, "--interval", "10s"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    line = child.stderr.readline().decode()
    port = int(line.rsplit(":", 1)[1])
    threading.Thread(target=lambda: child.stderr.read(), daemon=True).start()
    failures, rss = 0, {}
    deadline = time.monotonic() + 10
    while get(port, b"/readyz") != 200:
        if time.monotonic() > deadline:
            sys.exit("serve never became ready")
        time.sleep(0.05)

    def once(tick):
        nonlocal failures
        failures += get(port, b"/readyz") != 200
        if tick + 1 in rss_at:
            rss[tick + 1] = rss_kib(child.pid)

    each_second(seconds, once)
    child.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(child.pid, 0)
    print(f"{cpu_ms(usage):.1f} {failures}", *(rss.get(at, -1) for at in rss_at))


mode, seconds, probe, url = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == "exec":
    exec_probes(seconds, probe, url)
else:
    serve(seconds, probe, url, [int(at) for at in sys.argv[5:]])
