#!/usr/bin/env python3
"""The floor under CPGBench's latency figure on this machine: a message's path with no
product in it.

Three processes, the shape of a CPG delivery from node 1 to a member on node 2: the client
writes 64 bytes to A over TCP (as the bench writes CPG.MCAST to node 1), A sends them to B in
a UDP datagram (node 1's multicast to node 2), B writes them back to the client over TCP
(node 2's push to its member). Each process blocks in recv between messages, as the nodes
and the bench do, and does nothing else. At 100 messages/s (one every 10 ms, as the bench's
latency phase) every hop wakes an idle process.

Usage: python3 Bench/wakeup-floor.py [messages] [interval_ms]     (default 1000, 10)
Prints p50/p90/p99 of the client's send -> receive time in milliseconds.
"""
import os
import socket
import sys
import time

def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    interval = (float(sys.argv[2]) if len(sys.argv) > 2 else 10.0) / 1000.0

    # Sockets bound before forking, on ephemeral ports of 127.0.0.1.
    a_listen = socket.socket(); a_listen.bind(("127.0.0.1", 0)); a_listen.listen(1)
    c_listen = socket.socket(); c_listen.bind(("127.0.0.1", 0)); c_listen.listen(1)
    b_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b_udp.bind(("127.0.0.1", 0))
    b_address = b_udp.getsockname()

    pids = []
    pid = os.fork()
    if pid == 0:  # A: TCP in, UDP out
        conn, _ = a_listen.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        while True:
            data = conn.recv(64)
            if not data:
                os._exit(0)
            out.sendto(data, b_address)
    pids.append(pid)
    pid = os.fork()
    if pid == 0:  # B: UDP in, TCP out to the client
        push = socket.create_connection(c_listen.getsockname())
        push.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data, _ = b_udp.recvfrom(64)
            if data == b"q" * 64:
                os._exit(0)
            push.sendall(data)
    pids.append(pid)

    to_a = socket.create_connection(a_listen.getsockname())
    to_a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    from_b, _ = c_listen.accept()
    samples = []
    payload = b"m" * 64
    for i in range(count + 20):
        time.sleep(interval)
        start = time.perf_counter_ns()
        to_a.sendall(payload)
        got = 0
        while got < 64:
            got += len(from_b.recv(64 - got))
        if i >= 20:  # the first messages warm the connections
            samples.append((time.perf_counter_ns() - start) / 1e6)
    to_a.sendall(b"q" * 64)
    to_a.close()
    for p in pids:
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass
        os.waitpid(p, 0)
    samples.sort()
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    print(f"{count} messages every {interval * 1000:.0f} ms, client -> A (TCP) -> B (UDP) -> client (TCP): "
          f"p50 {pick(0.5):.3f} ms, p90 {pick(0.9):.3f} ms, p99 {pick(0.99):.3f} ms")

if __name__ == "__main__":
    main()
