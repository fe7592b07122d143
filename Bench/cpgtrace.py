#!/usr/bin/env python3
"""Timeline of CPG latency messages from a traced CPGBench latency run.

    TOTEMKV_CPG_TRACE=/tmp/ct/node CPGBENCH_TRACE=/tmp/ct/bench \\
        CPGBench <totemkv> 1 latency
    python3 Bench/cpgtrace.py /tmp/ct/bench /tmp/ct/node.*

The nodes' files hold (time ns, point, detail) records (Sources/Node/CPGTrace.swift), the
bench's file "<member> <send stamp> <latency ns>" lines and "reply <time>" lines. Every
offset printed is from the bench's send stamp (one clock: CLOCK_MONOTONIC), in µs; p25, p50
and p90 over the messages that have the step (the nodes' last partial batch is not
written, so the last messages lack the node steps).
"""
import struct
import sys
from bisect import bisect_left

NAMES = {0: "nodeID", 1: "mcastAdmitted", 2: "mcastStepped", 3: "unicastFlushed", 4: "totemTimerFired",
         5: "delivered", 6: "handedOver", 7: "pushResumed", 8: "pushWritten", 9: "packetReceived",
         10: "broadcastsFlushed", 11: "clientRead", 12: "unicastFlushing"}
DELIVER_OWN = 7


def load_node(path):
    data = open(path, "rb").read()
    n = len(data) // 24
    records = [struct.unpack_from("<QQQ", data, i * 24) for i in range(n)]
    node = next((d for (_, p, d) in records if p == 0), None)
    return node, records


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def first_after(times, t, limit):
    i = bisect_left(times, t)
    return times[i] if i < len(times) and times[i] < limit else None


def main():
    bench, node_paths = sys.argv[1], sys.argv[2:]
    latency = {}  # (member, stamp) -> ns
    replies = []
    for line in open(bench):
        parts = line.split()
        if parts[0] == "reply":
            replies.append(int(parts[1]))
        else:
            latency[(int(parts[0]), int(parts[1]))] = int(parts[2])
    replies.sort()
    stamps = sorted({s for (_, s) in latency})
    nodes = {}
    for path in node_paths:
        node, records = load_node(path)
        if node is not None:
            nodes[node] = records
    rows = {}  # step name -> list of offsets (µs)
    held = {"held": 0, "not held": 0}
    tokens_before = []
    last_token_gap = []

    def add(name, value):
        rows.setdefault(name, []).append(value / 1000)

    index = {}
    for node, records in nodes.items():
        by_point, by_detail = {}, {}
        for (t, p, d) in records:
            by_point.setdefault(p, []).append((t, d))
            if p in (1, 5):
                by_detail.setdefault((p, d), []).append(t)
        for lst in by_point.values():
            lst.sort()
        index[node] = (by_point, {k: sorted(v) for k, v in by_point.items()}, by_detail)

    def window(node, point, start, limit, detail=None):
        pairs = index[node][0].get(point, [])
        i = bisect_left(pairs, (start, -1))
        out = []
        while i < len(pairs) and pairs[i][0] < limit:
            if detail is None or pairs[i][1] == detail:
                out.append(pairs[i])
            i += 1
        return out

    for i, t0 in enumerate(stamps):
        limit = stamps[i + 1] if i + 1 < len(stamps) else t0 + 10_000_000
        prev = stamps[i - 1] if i > 0 else t0 - 10_000_000
        for member in (1, 2, 3):
            if (member, t0) in latency:
                add(f"bench: member {member} push read", latency[(member, t0)])
        r = first_after(replies, t0, limit)
        if r is not None:
            add("bench: +OK read (sender)", r - t0)
        for node in sorted(nodes):
            by_detail = index[node][2]
            admitted = by_detail.get((1, t0), [])
            if admitted:
                a = admitted[0]
                add(f"node {node}: mcast admitted", a - t0)
                read = window(node, 11, t0, a)
                if read:
                    add(f"node {node}: client read", read[-1][0] - t0)
                flushing = window(node, 12, a, limit)
                if flushing:
                    add(f"node {node}: token flushing (sendmmsg called)", flushing[0][0] - t0)
                stepped = window(node, 2, a, limit)
                if stepped:
                    add(f"node {node}: mcast stepped (UDP sent)", stepped[0][0] - t0)
                    before = window(node, 2, prev, a)
                    if before and stepped[0][1] > before[-1][1]:
                        held["held"] += 1
                    else:
                        held["not held"] += 1
                toks = window(node, 9, prev, a, detail=1)
                tokens_before.append(len(toks))
                if toks:
                    last_token_gap.append((a - toks[-1][0]) / 1000)
                fired = window(node, 4, a, limit, detail=DELIVER_OWN)
                if fired:
                    add(f"node {node}: deliverOwn fired", fired[0][0] - t0)
                flushed = window(node, 3, a, limit)
                if flushed:
                    add(f"node {node}: token flushed", flushed[0][0] - t0)
            else:
                got = window(node, 9, t0, limit, detail=2)
                if got:
                    add(f"node {node}: mcast received", got[0][0] - t0)
                tok = window(node, 9, t0, limit, detail=1)
                if tok:
                    add(f"node {node}: first token received", tok[0][0] - t0)
            delivered = by_detail.get((5, t0), [])
            if not delivered:
                continue
            d0 = delivered[0]
            add(f"node {node}: delivered", d0 - t0)
            for point, name in ((6, "handed over"), (7, "push task resumed"), (8, "push written")):
                ts = window(node, point, d0, limit)
                if ts:
                    add(f"node {node}: {name}", ts[0][0] - t0)
            # Per message rather than a difference of p50s (cpg-2026-11-26f.md).
            written = window(node, 8, d0, limit)
            if written:
                add(f"node {node}: push written - delivered (per message)", written[0][0] - d0)
                if not by_detail.get((1, t0)):
                    tok = window(node, 9, t0, limit, detail=1)
                    before = 1 if tok and tok[0][0] < written[0][0] else 0
                    rows.setdefault(f"node {node}: token read before the push (count)", []).append(before)
    # In-process steps (no wake-up inside them, so they track the node's CPU more than the
    # machine's wake-ups do; cpg-2026-11-26g.md): a message's read to its delivery, and a
    # token's read to the flush that forwarded it (this one contains the `sendmsg`, and with
    # it the next node's wake-up on a busy vCPU).
    for node, records in sorted(nodes.items()):
        ordered = sorted(records)
        last_message_read = None
        for i, (t, p, d) in enumerate(ordered):
            if p == 9 and d == 2:
                last_message_read = t
            elif p == 5 and d != 0 and last_message_read is not None and t - last_message_read < 300_000:
                add(f"node {node}: message read -> delivered (in-process)", t - last_message_read)
                last_message_read = None
            elif p == 9 and d == 1:
                for (t2, p2, _) in ordered[i + 1:i + 8]:
                    if p2 == 9:
                        break
                    if p2 == 3:
                        if t2 - t < 300_000:
                            add(f"node {node}: token read -> forwarded (in-process)", t2 - t)
                        break
    print(f"{len(stamps)} messages; sent on the held token: {held}")
    if tokens_before:
        print(f"tokens received by the sender's node since the previous message: p50 {pct(tokens_before, .5)}, "
              f"max {max(tokens_before)}; last token before the admission (µs): p10 {pct(last_token_gap, .1):.0f} "
              f"p50 {pct(last_token_gap, .5):.0f}")
    print(f"{'step':55} {'n':>5} {'p25 µs':>8} {'p50 µs':>8} {'p90 µs':>8}")
    for name in sorted(rows, key=lambda k: pct(rows[k], .5)):
        if name.endswith("(count)"):
            print(f"{name:55} {len(rows[name]):5} {sum(rows[name]):8d}")
            continue
        print(f"{name:55} {len(rows[name]):5} {pct(rows[name], .25):8.1f} {pct(rows[name], .5):8.1f} "
              f"{pct(rows[name], .9):8.1f}")


if __name__ == "__main__":
    main()
