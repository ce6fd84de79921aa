#!/usr/bin/python3
"""Turns the JSON of tools/bench/guest_bench.py into build/bench/results.json
(the same, with a verdict per measure), results.md (a table: measure,
baseline, cmbmap, ratio, goal, met) and PNG plots (matplotlib)."""
import argparse
import json
import os
import sys

ORDER = ["pagecache_ratio", "fill_ratio", "scrub_ratio", "passthrough_overhead", "revoke_ratio", "lease_break_ms",
         "p2p_host_bytes", "commit_ratio", "cpu_read_ratio", "scale_map_cost", "revoke_many", "writeback_stall",
         "share_fairness", "big_fill_ratio"]


def verdict(name, m):
    """True/False against the goal, None where there is no goal or no number."""
    if "ratio" not in m:
        return None
    med = m["ratio"]["median"]
    if name == "p2p_host_bytes":  # "0 beyond metadata": under 1% of what the plain copy touched
        return m["cmbmap"]["median"] <= 0.01 * m["baseline"]["median"]
    if name == "fill_ratio":  # every engine at every size
        return all(r["ratio"]["median"] >= m["goal_min"] for r in m["rows"])
    if name == "passthrough_overhead":
        return med <= m["goal_max"] and m["disabled"]["ratio"]["median"] <= m["disabled"]["goal_max"]
    if "goal_max" in m:
        return med <= m["goal_max"]
    if "goal_min" in m:
        return med >= m["goal_min"]
    return None


def fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def cell(s):
    return "—" if not s else f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


def table(res):
    lines = ["| measure | baseline | cmbmap | ratio: median (min–max) | goal | met |",
             "|---|---|---|---|---|---|"]
    for name in ORDER:
        m = res["measures"].get(name, {"missing": "not run"})
        if "missing" in m or "error" in m:
            lines.append(f"| `{name}` | — | — | missing: {m.get('missing') or m.get('error')} | — | — |")
            continue
        met = {True: "yes", False: "**no**", None: "—"}[m["met"]]
        lines.append(f"| `{name}` | {cell(m.get('baseline'))} | {cell(m.get('cmbmap'))} | {cell(m['ratio'])} "
                     f"| {m.get('goal') or 'none (reported)'} | {met} |")
        if name == "passthrough_overhead":
            d = m["disabled"]
            lines.append(f"| `passthrough_overhead` (CMBMAP_DISABLE=1) | {cell(m.get('baseline'))} "
                         f"| {cell(d['cmbmap'])} | {cell(d['ratio'])} | <= 1.01 | "
                         f"{'yes' if d['ratio']['median'] <= d['goal_max'] else '**no**'} |")
        if name == "commit_ratio":
            h = m["host_ram_bytes"]
            lines.append(f"| `commit_ratio` host RAM holding the data (bytes) | {cell(h['page_cache_msync'])} "
                         f"(page-cache msync) | {cell(h['cmbmap'])} | — | 0 beyond metadata | "
                         f"{'yes' if h['cmbmap']['median'] <= 0.01 * max(h['page_cache_msync']['median'], 1) else '**no**'} |")
        if name == "cpu_read_ratio":
            c = m["cold"]
            lines.append(f"| `cpu_read_ratio` (cold page cache) | {cell(c['baseline'])} | {cell(m['cmbmap'])} "
                         f"| {cell(c['ratio'])} | none (reported) | — |")
    units = [f"- `{n}`: {res['measures'][n]['unit']}; {res['measures'][n].get('note', '')}"
             for n in ORDER if "unit" in res["measures"].get(n, {})]
    mach = res["machine"]
    head = (f"Measured {res['when']}{' (quick run)' if res['quick'] else ''} in the emulated test machine: "
            f"kernel {mach['kernel']}, {mach['cpus']} vCPUs, QEMU {mach['qemu']} (TCG), "
            f"{mach['cmb_mib']} MiB CMB.")
    return "\n".join([head, "", *lines, "", *units, ""])


def plots(res, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: python3-matplotlib missing: no plots (make deps installs it)", file=sys.stderr)
        return []
    made = []
    m = res["measures"]

    def save(fig, name):
        path = os.path.join(outdir, name)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)

    fr = m.get("fill_ratio", {})
    if "rows" in fr:
        sizes = sorted({r["mib"] for r in fr["rows"]})
        engines = ["pread", "uring", "passthru"]
        fig, ax = plt.subplots(figsize=(7, 4))
        w = 0.8 / len(engines)
        for i, e in enumerate(engines):
            rows = [next(r for r in fr["rows"] if r["engine"] == e and r["mib"] == s) for s in sizes]
            med = [r["ratio"]["median"] for r in rows]
            err = [[max(0, r["ratio"]["median"] - r["ratio"]["min"]) for r in rows],
                   [max(0, r["ratio"]["max"] - r["ratio"]["median"]) for r in rows]]
            ax.bar([x + i * w for x in range(len(sizes))], med, w, yerr=err, capsize=3, label=e)
        ax.axhline(0.9, color="k", ls="--", lw=1, label="goal 0.9")
        ax.set_xticks([x + w for x in range(len(sizes))], [f"{s} MiB" for s in sizes])
        ax.set_xlabel("mapping size")
        ax.set_ylabel("fill bandwidth / raw O_DIRECT pread (ratio)")
        ax.set_title("fill_ratio: filling CMB memory, per engine")
        ax.legend()
        save(fig, "fill_ratio.png")

    cr = m.get("cpu_read_ratio", {})
    if "cmbmap" in cr:
        fig, ax = plt.subplots(figsize=(6, 4))
        labels = ["CMB (cmbmap)", "page cache, cold", "page cache, warm"]
        vals = [cr["cmbmap"], cr["cold"]["baseline"], cr["baseline"]]
        ax.bar(labels, [v["median"] for v in vals],
               yerr=[[max(0, v["median"] - v["min"]) for v in vals], [max(0, v["max"] - v["median"]) for v in vals]],
               capsize=4,
               color=["tab:orange", "tab:gray", "tab:blue"])
        ax.set_yscale("log")
        ax.set_ylabel("read throughput (MB/s, log scale)")
        ax.set_title("cpu_read_ratio: CPU loads from device memory are slow")
        save(fig, "cpu_read.png")

    hb = m.get("p2p_host_bytes", {})
    if "cmbmap" in hb:
        fig, ax = plt.subplots(figsize=(6, 4))
        vals = [hb["baseline"]["median"] / 2**20, hb["cmbmap"]["median"] / 2**20]
        ax.bar(["plain mmap", "cmbmap"], vals, color=["tab:blue", "tab:orange"])
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.2f} MiB", ha="center", va="bottom")
        ax.set_ylabel("host RAM touched (MiB: page cache + RSS growth)")
        ax.set_title("p2p_host_bytes: 16 MiB copied to the second drive")
        save(fig, "p2p_host_bytes.png")

    names = [n for n in ("pagecache_ratio", "revoke_ratio", "passthrough_overhead") if "ratio" in m.get(n, {})]
    if names:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for i, n in enumerate(names):
            r = m[n]["ratio"]
            ax.errorbar([r["median"]], [i], xerr=[[max(0, r["median"] - r["min"])], [max(0, r["max"] - r["median"])]],
                        fmt="o", capsize=4)
            goal = m[n].get("goal_max")
            if goal is not None:
                ax.plot([goal], [i], "k|", ms=18)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("ratio to the baseline (dot: median, bar: min–max, tick: goal)")
        ax.set_title("ratios against their goals")
        save(fig, "ratios.png")
    return made


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("raw", help="JSON written by guest_bench.py")
    ap.add_argument("outdir")
    a = ap.parse_args()
    with open(a.raw) as f:
        res = json.load(f)
    for name, m in res["measures"].items():
        m["met"] = verdict(name, m) if "ratio" in m else None
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = table(res)
    with open(os.path.join(a.outdir, "results.md"), "w") as f:
        f.write(md)
    made = plots(res, a.outdir)
    print(md)
    for p in made:
        print(f"plot: {p}")


if __name__ == "__main__":
    main()
