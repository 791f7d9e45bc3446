"""bench/report: one markdown table for every server, each figure with its ratio to
the best peer (Unbound, Knot Resolver, PowerDNS Recursor: not tern, not the
ceiling), the goals of issue 6 (and for DoT and DoH, of issue 4) for tern, and
bench/RESULTS.md.
"""

import datetime
import os
import platform
import statistics
import subprocess


def median_spread(values):
    """(median, half the range as a fraction of the median) of @values."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    med = statistics.median(values)
    return med, ((max(values) - min(values)) / 2 / med if med else 0.0)


def per_round(res, phase, key):
    """Median and spread of @key over the rounds of @phase, per server."""
    out = {}
    for name, rounds in res[phase].items():
        out[name] = median_spread([r[key] for r in rounds if r and r.get(key) is not None])
    return out


def single(res, phase, key):
    """@key of @phase, measured once per server (no spread)."""
    return {name: ((r[key], None) if r and r.get(key) is not None else (None, None))
            for name, r in res[phase].items()}


def encrypted_figures(res, med):
    """The DoT and DoH rows (issue 4): cache hits over one connection per dnsperf
    client, new connections with full and resumed handshakes, instructions."""
    if not any(res.get(k) for k in ("dot", "doh", "hs_new", "hs_resume", "instructions_dot",
                                    "instructions_doh")):
        return []
    rows = []
    for mode, label in (("dot", "DoT"), ("doh", "DoH (HTTP/2, GET)")):
        if not res.get(mode):
            continue
        rows += [
            ("%s cache hits: queries/s (%s)" % (label, med), per_round(res, mode, "qps"),
             "high", "{:,.0f}", ("≥ best peer (issue 4)", lambda t, b, c: t >= b)),
            ("%s cache hits: server CPU µs per answered query (%s)" % (label, med),
             per_round(res, mode, "cpu_us"), "low", "{:.2f}",
             ("≤ 0.7 × best peer (issue 4)", lambda t, b, c: t <= 0.7 * b)),
        ]
    for what, label in (("hs_new", "full TLS handshake"),
                        ("hs_resume", "resumed TLS handshake (ticket)")):
        if not res.get(what):
            continue
        rows += [
            ("new DoT connections/s, each a %s and one cached query (%s)" % (label, med),
             per_round(res, what, "per_s"), "high", "{:,.0f}", None),
            ("server CPU µs per new DoT connection, %s (%s)" % (label, med),
             per_round(res, what, "cpu_us"), "low", "{:.1f}", None),
        ]
    if res.get("hs_resume"):
        rows.append(("share of offered sessions resumed", per_round(res, "hs_resume", "resumed"),
                     "high", "{:.2f}", None))
    for mode, label in (("dot", "DoT"), ("doh", "DoH")):
        if res.get("instructions_" + mode):
            rows.append(("user-space instructions per cache-hit query over one %s connection "
                         "(callgrind)" % label, single(res, "instructions_" + mode, "per_query"),
                         "low", "{:,.0f}", None))
    return rows


# Each figure: label, values per server {name: (value, spread)}, better "low"/"high",
# format, and the goal for tern (text, check(tern, best_peer, ceiling) -> bool).
def figures(res):
    rounds = res["params"]["rounds"]
    med = "median of %d, ±half-range" % rounds if rounds > 1 else "1 round"
    lat_rate = res["params"]["latency_qps"]
    thr = per_round(res, "throughput", "qps")
    cpu = per_round(res, "throughput", "cpu_us")
    avg = {k: (v[0] * 1e6 if v[0] is not None else None, v[1])
           for k, v in per_round(res, "latency", "avg_s").items()}
    p99 = {k: (v[0] * 1e6 if v[0] is not None else None, v[1])
           for k, v in per_round(res, "latency", "p99_s").items()}
    return [
        ("cache hits: queries/s (%s)" % med, thr, "high", "{:,.0f}",
         ("≥ best peer and ≥ 0.9 × ceiling",
          lambda t, b, c: t >= b and (c is None or t >= 0.9 * c))),
        ("cache hits: server CPU µs per answered query (%s)" % med, cpu, "low", "{:.2f}",
         ("≤ 0.7 × best peer", lambda t, b, c: t <= 0.7 * b)),
        ("latency at %s q/s: average µs (%s)" % ("{:,}".format(lat_rate), med), avg, "low",
         "{:.0f}", None),
        ("latency at %s q/s: p99 µs (%s)" % ("{:,}".format(lat_rate), med), p99, "low", "{:.0f}",
         ("≤ best peer", lambda t, b, c: t <= b)),
        ("user-space instructions per cache-hit query (callgrind)",
         single(res, "instructions", "per_query"), "low", "{:,.0f}",
         ("≤ 0.5 × best peer", lambda t, b, c: t <= 0.5 * b)),
    ] + encrypted_figures(res, med) + [
        ("cold, %d names: wall time s (%s)" % (res["params"]["names"], med),
         per_round(res, "cold", "wall_s"), "low", "{:.3f}",
         ("≤ best peer", lambda t, b, c: t <= b)),
        ("cold: server CPU time s (%s)" % med, per_round(res, "cold", "cpu_s"), "low", "{:.3f}",
         None),
        ("cold: upstream queries sent (%s)" % med, per_round(res, "cold", "upstream"), "low",
         "{:,.0f}", ("≤ best peer", lambda t, b, c: t <= b)),
        ("memory after cold: bytes per cached RRset (%s)" % med,
         per_round(res, "cold", "bytes_per_rrset"), "low", "{:,.0f}",
         ("≤ leanest peer", lambda t, b, c: t <= b)),
    ] + validating_figures(res, med)


def validating_ratio(res, key):
    """Per server, median and spread over the rounds of validating ÷ not validating."""
    out = {}
    for name, rounds in res.get("cold_validating", {}).items():
        plain = res["cold"].get(name, [])
        ratios = [v[key] / p[key] for v, p in zip(rounds, plain)
                  if v and p and v.get(key) and p.get(key)]
        out[name] = median_spread(ratios)
    return out


def validating_figures(res, med):
    """Issue 3: the cold run again with DNSSEC validation on, and its cost."""
    if not res.get("cold_validating"):
        return []
    return [
        ("cold, validating: wall time s (%s)" % med, per_round(res, "cold_validating", "wall_s"),
         "low", "{:.3f}", None),
        ("cold, validating: server CPU time s (%s)" % med,
         per_round(res, "cold_validating", "cpu_s"), "low", "{:.3f}", None),
        ("cold, validating: upstream queries sent (%s)" % med,
         per_round(res, "cold_validating", "upstream"), "low", "{:,.0f}", None),
        ("cold: wall time validating ÷ not validating (%s)" % med,
         validating_ratio(res, "wall_s"), "low", "{:.2f}",
         ("≤ 1.2 (issue 3)", lambda t, b, c: t <= 1.2)),
        ("cold: server CPU time validating ÷ not validating (%s)" % med,
         validating_ratio(res, "cpu_s"), "low", "{:.2f}", None),
    ]


def best_peer(values, peers, better):
    got = [values[p][0] for p in peers if values.get(p, (None,))[0] is not None]
    if not got:
        return None
    return max(got) if better == "high" else min(got)


def cell(value, spread, best, fmt):
    if value is None:
        return "—"
    text = fmt.format(value)
    if spread:
        text += " ±%.0f%%" % (spread * 100) if spread >= 0.01 else " ±<1%"
    if best:
        text += " (%.2f)" % (value / best)
    return text


def table(res):
    """The main table, markdown, and the list of tern's goals met / missed."""
    servers = res["servers"]
    peers = [s for s in servers if s in res["peers"]]
    head = ["figure"] + servers + ["goal for tern", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, values, better, fmt, goal in figures(res):
        best = best_peer(values, peers, better)
        row = [label] + [cell(*values.get(s, (None, None)), best, fmt) for s in servers]
        met = ""
        if goal:
            t = values.get("tern", (None,))[0]
            c = values.get("ceiling", (None,))[0]
            if t is not None and best is not None:
                met = "yes" if goal[1](t, best, c) else "**no**"
            row.append(goal[0])
        else:
            row.append("")
        row.append(met)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cache_table(res):
    cb = res.get("cachebench")
    if not cb:
        return "(cache micro-benchmark not run)"
    lines = ["| cache (in process, tern's cache/) | 1 thread | 2 threads | 2 / 1 | goal |",
             "|---|---|---|---|---|"]
    for what, key, goal in [("inserts/s (cache_stash_many, 64 per batch)", "inserts_per_s", ""),
                            ("lookups/s (cache_find)", "finds_per_s", "≥ 1.8"),
                            ("lookups/s (cache_read, zero-copy)", "reads_per_s", "≥ 1.8"),
                            ("lookups/s (cache_read, held in batches of 32)", "held_reads_per_s",
                             "≥ 1.8"),
                            ("control, no cache code: random byte reads of an array as big as "
                             "the cache files", "control_reads_per_s", "")]:
        if key + "_1t" not in cb:
            continue
        one, two = cb[key + "_1t"]["median"], cb[key + "_2t"]["median"]
        ratio = two / one
        met = ("" if not goal else (" (met)" if ratio >= 1.8 else " (**not met**)"))
        lines.append("| %s | %s | %s | %.2f | %s%s |" % (what, "{:,.0f}".format(one),
                                                         "{:,.0f}".format(two), ratio, goal, met))
    if "reads_per_s_1t" not in cb:
        lines.append("| lookups/s (cache_read) | — | — | — | not in cache/cache.h yet |")
    return "\n".join(lines)


def machine():
    model = "?"
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, universal_newlines=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "%s, %d cores, Linux %s" % (model, os.cpu_count(), platform.release())


def markdown(res):
    p = res["params"]
    out = ["# bench/ results", "",
           "- date: %s" % res["date"],
           "- machine: %s" % res["machine"],
           "- command: `%s`" % res["command"],
           "- tern: %s" % res["tern_commit"],
           "- versions: %s" % "; ".join("%s: %s" % kv for kv in res["versions"].items()),
           "- settings: one worker thread each, 127.0.0.1, the simnet's root hints (loopback "
           "upstreams allowed), QNAME minimisation on, DNSSEC validation %s, query logging off, "
           "each cache in its own directory on tmpfs." % ("ON (trust anchor: the simnet's root.ds)"
                                                           if p["dnssec"] else "OFF for all"),
           "- load: dnsperf pinned to CPU %d, each server pinned to CPU %d; %d questions "
           "(A/AAAA/MX/TXT of zoneNNN.test names, one RRset each); cache hits: `dnsperf -c 16 "
           "-q %d -l %s` per round; latency: `-Q %d -l %s`; cold: `-c 4 -q %d -n 1` from an "
           "empty cache; callgrind: %d cached queries over %d names, minus an idle run as long."
           % (p["client_cpu"], p["server_cpu"], p["names"], p["outstanding"], p["seconds"],
              p["latency_qps"], p["latency_seconds"], p["cold_outstanding"], p["cg_queries"],
              p["cg_names"]),
           ] + ([
           "- DoT and DoH: cache hits with `dnsperf -m dot` and `-m doh -O doh-method=GET` "
           "(`-c %d -q %d -l %s`: %d connections, kept); new connections: bench/handshake.py "
           "for %s s, one connection after another, each a TLS 1.3 handshake (full, or resuming "
           "the previous connection's ticket) and one cached DoT query; callgrind as above over "
           "one connection." % (p["enc_clients"], p["outstanding"], p["enc_seconds"],
                                p["enc_clients"], p["hs_seconds"])] if "enc_clients" in p else []) + [
           "",
           "Each cell: the figure, then (in brackets) its ratio to the best peer — the best of "
           "unbound, kresd and pdns_recursor; tern and the ceiling are not peers. "
           "± is half the range over the rounds, as a share of the median.",
           "", table(res), "", cache_table(res), ""]
    if res["notes"]:
        out += ["Notes:", ""] + ["- " + n for n in res["notes"]] + [""]
    if res["failures"]:
        out += ["FAILURES:", ""] + ["- " + f for f in res["failures"]] + [""]
    return "\n".join(out)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
