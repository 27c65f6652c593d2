"""CPU of checking PostgreSQL once a second, the two ways (bench/serve.sh, issue 29).

  serve_cpu.py exec SECONDS PROBE URL
      Runs `PROBE postgres URL -q` once a second, each a new process that the script forks,
      execs and waits for, as a kubelet's exec probe does (without the container runtime's
      own cost, which is larger still). Prints: cpu_ms failures
  serve_cpu.py serve SECONDS PROBE URL [RSS_AT...]
      Starts `PROBE serve --listen 127.0.0.1:0 --ready URL --interval 10s` and asks
      GET /readyz once a second, as a kubelet's httpGet probe does. Prints: cpu_ms failures
      server_ms steady_ms, then serve's VmRSS in KiB at each second of RSS_AT. steady_ms
      leaves out the start (process, threads, the first checks: the first PostgreSQL login
      derives the SCRAM key that later ones reuse): the CPU from the first 200 to the end.
  serve_cpu.py floor SECONDS SERVER PORT
      The same GETs to SERVER PORT (bench/floor/serve.c, the least a server can do per
      request): its CPU, what the kernel's TCP costs. Prints: cpu_ms

CPU is user + system time from wait4 (the kernel's per-task runtime, not ticks): the probe
processes' own in the first case, the serve process's whole life (start-up included) in the
second. With PG_PID (the postmaster's pid) set, the PostgreSQL server's side is printed
after the failures too: the postmaster's own CPU and that of the backends it reaped (one
per login), from /proc/PG_PID/stat in clock ticks (10 ms).
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


def server_ms():
    """The postmaster's CPU and its reaped children's (backends), in ms; 0 without PG_PID."""
    pid = os.environ.get("PG_PID")
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime: fields 14-17 of stat(5), here 11-14 after the name.
    ticks = sum(int(value) for value in fields[11:15])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def threads_ms(pid):
    """CPU of every thread of `pid` so far (schedstat, ns): serve's threads live as long as
    it does."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total / 1e6


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

    before = server_ms()
    each_second(seconds, once)
    print(f"{total:.1f} {failures} {server_ms() - before:.0f}")


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
    before = server_ms()
    deadline = time.monotonic() + 10
    while get(port, b"/readyz") != 200:
        if time.monotonic() > deadline:
            sys.exit("serve never became ready")
        time.sleep(0.05)
    steady = threads_ms(child.pid)

    def once(tick):
        nonlocal failures
        failures += get(port, b"/readyz") != 200
        if tick + 1 in rss_at:
            rss[tick + 1] = rss_kib(child.pid)

    each_second(seconds, once)
    steady = threads_ms(child.pid) - steady
    child.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(child.pid, 0)
    server = server_ms() - before
    print(f"{cpu_ms(usage):.1f} {failures} {server:.0f} {steady:.1f}", *(rss.get(at, -1) for at in rss_at))


def floor(seconds, server, port):
    child = subprocess.Popen([server, str(port)], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            get(port, b"/readyz")
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("the floor server never answered")
            time.sleep(0.05)
    each_second(seconds, lambda _: get(port, b"/readyz"))
    child.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(child.pid, 0)
    print(f"{cpu_ms(usage):.1f}")


mode, seconds, probe, url = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == "exec":
    exec_probes(seconds, probe, url)
elif mode == "floor":
    floor(seconds, probe, int(url))
else:
    serve(seconds, probe, url, [int(at) for at in sys.argv[5:]])
