#!/usr/bin/env python3
"""Summarizes bench/http/run.sh's runs.txt: a table of medians, side-by-side ratios, the aims.

    summarize.py [--meta META] [--json OUT.json] runs.txt

Each line of runs.txt is one wrk run as key=value tokens (server, test, pipeline, conns, rep,
rps, p50_ms, p99_ms, cpu_*, load, ...). Ratios are taken within a pass (runs minutes apart on
the same box), then the median over passes, so that a slow phase of the shared host hits both
sides of a ratio alike.
"""
import argparse
import json
import statistics

AIM_OF_NGINX = 0.9  # issue 12: keep-alive answers >= 90 % of nginx's fixed 200
AIM_P99_MS = 3.0
AIM_OF_NODE = 5.0  # >= 5x the Node + Redis peer's best configuration
AIM_STRICT_OF_NODE_ALWAYS = 3.0  # strict >= 3x the peer with appendfsync always
AIM_PIPELINED_RPS = 250_000

NUMBERS = ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "requests", "load", "cpu_server",
           "cpu_redis", "cpu_wrk", "cpu_other", "us_per_request")
SUMMED = ("p50_ms", "p99_ms", "cpu_server", "cpu_redis", "cpu_wrk", "cpu_other", "load",
          "us_per_request")


def parse(path):
    runs = []
    with open(path) as lines:
        for line in lines:
            if not line.strip() or line.startswith("run.sh:"):
                continue
            run = dict(token.split("=", 1) for token in line.split() if "=" in token)
            for key in NUMBERS:
                if key in run:
                    run[key] = float(run[key])
            run["conns"] = int(run["conns"])
            run["pipeline"] = int(run["pipeline"])
            run["rep"] = int(run["rep"])
            runs.append(run)
    return runs


def key_of(run):
    return (run["server"], run["test"], run["pipeline"], run["conns"])


def rows_of(runs):
    groups = {}
    for run in runs:
        groups.setdefault(key_of(run), []).append(run)
    rows = []
    for (server, test, pipeline, conns), group in groups.items():
        rates = [run["rps"] for run in group]
        row = {"server": server, "test": test, "pipeline": pipeline, "conns": conns,
               "runs": len(group), "rps": statistics.median(rates), "rps_min": min(rates),
               "rps_max": max(rates), "rps_all": rates}
        for key in SUMMED:
            row[key] = statistics.median(run[key] for run in group)
        rows.append(row)
    return rows


def rate(runs, rep, server, test, conns, pipeline=1):
    for run in runs:
        if (run["rep"], run["server"], run["test"], run["conns"], run["pipeline"]) == (
                rep, server, test, conns, pipeline):
            return run["rps"]
    return None


def best_node(runs, rep, persistence, conns=None):
    rates = [run["rps"] for run in runs
             if run["rep"] == rep and run["server"].startswith("node-")
             and run["server"].endswith("-redis-" + persistence) and run["test"] == "book"
             and (conns is None or run["conns"] == conns)]
    return max(rates) if rates else None


def ratio(runs, numerator, denominator):
    """Median over passes of numerator(rep) / denominator(rep); (median, all)."""
    values = []
    for rep in sorted({run["rep"] for run in runs}):
        top, bottom = numerator(rep), denominator(rep)
        if top and bottom:
            values.append(top / bottom)
    return (statistics.median(values), values) if values else (None, [])


def ratios_of(runs):
    conns = sorted({run["conns"] for run in runs if run["pipeline"] == 1})
    out = []

    def add(name, numerator, denominator, aim=None):
        median, values = ratio(runs, numerator, denominator)
        if median is not None:
            out.append({"ratio": name, "median": median, "all": values, "aim": aim})

    for c in conns:
        for test in ("book", "get", "soldout"):
            add(f"admitd off {test} c{c} / nginx GET c{c}",
                lambda r, t=test, c=c: rate(runs, r, "admitd-off", t, c),
                lambda r, c=c: rate(runs, r, "nginx", "get", c), AIM_OF_NGINX)
        add(f"admitd off book c{c} / nginx POST (book.lua) c{c}",
            lambda r, c=c: rate(runs, r, "admitd-off", "book", c),
            lambda r, c=c: rate(runs, r, "nginx", "post", c))
        add(f"nginx POST (book.lua) c{c} / nginx GET c{c}",
            lambda r, c=c: rate(runs, r, "nginx", "post", c),
            lambda r, c=c: rate(runs, r, "nginx", "get", c))
        add(f"admitd off book c{c} / best Node+Redis (no persistence) c{c}",
            lambda r, c=c: rate(runs, r, "admitd-off", "book", c),
            lambda r, c=c: best_node(runs, r, "none", c))
        add(f"admitd strict book c{c} / best Node+Redis appendfsync always c{c}",
            lambda r, c=c: rate(runs, r, "admitd-strict", "book", c),
            lambda r, c=c: best_node(runs, r, "always", c))
    best = lambda server: lambda r: max(
        (rate(runs, r, server, "book", c) or 0) for c in conns) or None
    add("admitd off best book / Node+Redis best (any layout, any c, no persistence)",
        best("admitd-off"), lambda r: best_node(runs, r, "none"), AIM_OF_NODE)
    add("admitd strict best book / Node+Redis appendfsync always best",
        best("admitd-strict"), lambda r: best_node(runs, r, "always"), AIM_STRICT_OF_NODE_ALWAYS)
    return out


def aims_of(rows, ratios):
    by_key = {(row["server"], row["test"], row["pipeline"], row["conns"]): row for row in rows}
    aims = []
    for row in rows:
        if row["server"].startswith("admitd") and row["pipeline"] == 1:
            aims.append({"aim": f"{row['server']} {row['test']} c{row['conns']} p99 <= "
                                f"{AIM_P99_MS:g} ms",
                         "measured": f"{row['p99_ms']:.2f} ms", "met": row["p99_ms"] <= AIM_P99_MS})
    for entry in ratios:
        if entry["aim"] is not None:
            aims.append({"aim": f"{entry['ratio']} >= {entry['aim']:g}",
                         "measured": f"{entry['median']:.2f}", "met": entry["median"] >= entry["aim"]})
    for (server, test, pipeline, conns), row in sorted(by_key.items()):
        if server.startswith("admitd") and pipeline > 1:
            aims.append({"aim": f"{server} book c{conns} x{pipeline} pipelined >= "
                                f"{AIM_PIPELINED_RPS // 1000} k/s",
                         "measured": f"{row['rps'] / 1000:.0f} k/s",
                         "met": row["rps"] >= AIM_PIPELINED_RPS})
    return aims


def label(row):
    names = {"book": "book", "get": "GET", "soldout": "sold out (409)", "post": "POST (book.lua)"}
    text = f"{row['server']} {names.get(row['test'], row['test'])} c{row['conns']}"
    return text + (f" x{row['pipeline']} pipelined" if row["pipeline"] > 1 else "")


def latency(row, key):
    # Pipelined, wrk times each write of `pipeline` requests, and its coordinated-omission
    # correction (which assumes one request per write) can leave a percentile at 0.
    if row["pipeline"] > 1:
        return f"{row[key]:.2f}/write" if row[key] > 0 else "n/a"
    return f"{row[key]:.2f}"


def table(rows, ratios, aims):
    order = ["admitd-off", "admitd-strict", "node-single-redis-none", "node-cluster2-redis-none",
             "node-single-redis-always", "node-cluster2-redis-always", "nginx"]
    rows = sorted(rows, key=lambda row: (order.index(row["server"]) if row["server"] in order
                                         else len(order), row["test"], row["pipeline"], row["conns"]))
    lines = ["| run | req/s (median) | min-max | p50 ms | p99 ms | server CPU % | server us "
             "per answer | wrk CPU % | other CPU % | load |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(f"| {label(row)} | {row['rps']:,.0f} | {row['rps_min']:,.0f}-"
                     f"{row['rps_max']:,.0f} | {latency(row, 'p50_ms')} | "
                     f"{latency(row, 'p99_ms')} | {row['cpu_server']:.0f} | "
                     f"{row['us_per_request']:.1f} | {row['cpu_wrk']:.0f} | "
                     f"{row['cpu_other']:.0f} | {row['load']:.2f} |")
    lines += ["", "| ratio, same pass (median of passes) | median | each pass |",
              "| --- | ---: | --- |"]
    for entry in ratios:
        each = ", ".join(f"{value:.2f}" for value in entry["all"])
        lines.append(f"| {entry['ratio']} | {entry['median']:.2f} | {each} |")
    lines += ["", "| aim (issue 12) | measured | met |", "| --- | ---: | --- |"]
    for aim in aims:
        lines.append(f"| {aim['aim']} | {aim['measured']} | {'yes' if aim['met'] else 'no'} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs")
    parser.add_argument("--meta")
    parser.add_argument("--json")
    args = parser.parse_args()
    runs = parse(args.runs)
    rows = rows_of(runs)
    ratios = ratios_of(runs)
    aims = aims_of(rows, ratios)
    print(table(rows, ratios, aims))
    if args.json:
        meta = open(args.meta).read().strip() if args.meta else ""
        with open(args.json, "w") as out:
            json.dump({"meta": meta, "rows": rows, "ratios": ratios, "aims": aims, "runs": runs},
                      out, indent=1)


if __name__ == "__main__":
    main()
