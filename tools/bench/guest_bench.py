#!/usr/bin/python3
"""The measures of `make bench`, run inside the test machine (root, an
emulated NVMe drive with a CMB on /mnt/nvme, a second one on /mnt/nvme2).

Every figure is a ratio against a baseline measured here, in the same run,
interleaved round by round so the emulator's noise hits both alike; each is
reported as min / median / max over the rounds. Writes one JSON document
(--out) that tools/bench/report.py turns into a table and plots."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
LIB = os.path.join(BUILD, "libcmbmap.so")
B = lambda name: os.path.join(BUILD, "bench", name)  # noqa: E731


def say(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env(shim, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("CMBMAP_") and k != "LD_PRELOAD"}
    if shim:
        e.update({"LD_PRELOAD": LIB, "CMBMAP_MIN_SIZE": "0"})
    e.update(extra)
    return e


def run(args, shim=False, **extra):
    return subprocess.run(args, env=env(shim, **extra), check=True, capture_output=True, text=True).stdout.split()


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")


def cached_bytes(path):
    out = subprocess.run(["fincore", "-b", "-n", "-o", "RES", path], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


def random_file(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    subprocess.run(["sync"], check=True)


def spread(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "n": len(values)}


def best_ratio(num, den):
    """num/den over interleaved rounds: noise under emulation only ever adds time, so the
    middle figure is best against best (min/min); per-round ratios give min and max."""
    per_round = [a / b for a, b in zip(num, den)]
    return {"min": min(per_round), "median": min(num) / min(den), "max": max(per_round), "n": len(per_round),
            "median_round": statistics.median(per_round)}


def paired_rate_ratio(num, den):
    """num/den rates (MB/s) measured in pairs, one right after the other: the median of the
    pairs' ratios (a pair shares the emulator's mood of the moment); best against best
    (max/max) alongside, which one lucky round of either side moves."""
    per_round = [a / b for a, b in zip(num, den)]
    return {"min": min(per_round), "median": statistics.median(per_round), "max": max(per_round),
            "n": len(per_round), "best_vs_best": max(num) / max(den)}


def served_or_fail(word, what):
    if word != "served":
        raise RuntimeError(f"{what}: the mapping was not served ({word})")


# --- the measures -------------------------------------------------------------


def pagecache_ratio(cfg):
    """Page-cache bytes per mapped byte after reading a whole 16 MiB mapping."""
    f = "/mnt/nvme/bench-pagecache"
    random_file(f, 16 << 20)
    base, cmb = [], []
    for r in range(cfg.reps):
        drop_caches()
        run([B("readbench"), f])
        base.append(cached_bytes(f) / (16 << 20))
        drop_caches()
        served_or_fail(run([B("readbench"), f], shim=True)[2], "pagecache_ratio")
        cmb.append(cached_bytes(f) / (16 << 20))
        say(f"pagecache round {r + 1}/{cfg.reps}: plain {base[-1]:.3f}, cmbmap {cmb[-1]:.3f}")
    os.unlink(f)
    return {"unit": "page-cache bytes / mapped bytes", "goal": "<= 0.01", "goal_max": 0.01,
            "baseline": spread(base), "cmbmap": spread(cmb), "ratio": spread(cmb),
            "note": "after reading every byte of a served 16 MiB mapping; baseline: plain mmap"}


def fill_ratio(cfg):
    """Fill bandwidth of a served mapping vs raw O_DIRECT reads into p2pmem at the engine's depth."""
    rows = []
    for mib in cfg.fill_sizes:
        f = f"/mnt/nvme/bench-fill-{mib}"
        random_file(f, mib << 20)
        for engine in ("pread", "uring", "passthru"):
            raws, fills, scrubs = [], [], []
            for _ in range(cfg.fill_reps):
                drop_caches()
                # The baseline at the engine's own depth: one request at a time
                # for pread, 8 in flight (io_uring) for uring and passthru.
                raw = float(run([B("fillbench"), "raw" if engine == "pread" else "rawq", f])[0])
                drop_caches()
                out = run([B("fillbench"), "mapped", f], shim=True, CMBMAP_FILL=engine)
                served_or_fail(out[-1], f"fill_ratio {engine} {mib} MiB")
                raws.append(raw)
                fills.append(float(out[0]))
                scrubs.append(float(out[2]))
            ratio = paired_rate_ratio(fills, raws)
            rows.append({"engine": engine, "mib": mib, "raw_mbps": spread(raws), "fill_mbps": spread(fills),
                         "scrub_mbps": spread(scrubs), "ratio": ratio,
                         "scrub_ratio": spread([f / s for f, s in zip(fills, scrubs) if s] or [float("inf")])})
            say(f"fill {engine} {mib} MiB: median ratio {ratio['median']:.2f} (per round {ratio['min']:.2f}-"
                f"{ratio['max']:.2f}); best fill {max(fills):.0f} MB/s / best raw {max(raws):.0f} MB/s = "
                f"{ratio['best_vs_best']:.2f}")
        os.unlink(f)
    cfg.fill_rows = rows
    medians = [r["ratio"]["median"] for r in rows]
    return {"unit": "fill MB/s / raw O_DIRECT read MB/s at the engine's depth", "goal": ">= 0.9", "goal_min": 0.9,
            "ratio": {"min": min(medians), "median": statistics.median(medians), "max": max(medians),
                      "n": len(medians)},
            "rows": rows, "note": "per engine and size, the second mapping in a process (the first also sets up its io_uring rings and lease); baseline: 512 KiB O_DIRECT reads of the file into a p2pmem mapping whose pages were faulted in first (untimed, as cmbmap's allocation does before its fill), one at a time for the pread engine, 8 in flight by io_uring for uring and passthru (their depth), the ring set up beforehand (untimed, as cmbmap's are by a process's first mapping); each round measures the baseline and then cmbmap, and a row's middle figure is the median of its rounds' ratios (min and max: the extreme rounds; best_vs_best: the best fill rate over the best raw rate, which one lucky round moves); met only if every row's median is; the summary is over the rows' medians"}


def scrub_ratio(cfg):
    """Zeroing CMB memory on release vs filling it: time per byte, from the same runs."""
    rows = cfg.fill_rows
    if not rows:
        raise RuntimeError("needs fill_ratio's runs")
    per_row = [{"engine": r["engine"], "mib": r["mib"], "fill_mbps": r["fill_mbps"], "scrub_mbps": r["scrub_mbps"],
                "ratio": r["scrub_ratio"]} for r in rows]
    medians = [r["ratio"]["median"] for r in per_row]
    return {"unit": "scrub seconds / fill seconds for the same bytes (fill MB/s / scrub MB/s)",
            "goal": None,
            "baseline": spread([r["fill_mbps"]["median"] for r in rows]),
            "cmbmap": spread([r["scrub_mbps"]["median"] for r in rows]),
            "ratio": {"min": min(medians), "median": statistics.median(medians), "max": max(medians), "n": len(medians)},
            "rows": per_row,
            "note": "baseline: fill MB/s, cmbmap: scrub MB/s (CPU stores of zeros over the CMB BAR at munmap), per engine and size; "
                    "under TCG every store is emulated while the fill is QEMU's own DMA, so the ratio overstates the cost; "
                    "CMBMAP_SCRUB=0 skips it"}


def passthrough_overhead(cfg):
    """mmap/munmap loop on a file cmbmap does not serve (tmpfs), with and without the library."""
    f = "/run/bench-passthrough"
    with open(f, "wb") as fh:
        fh.write(os.urandom(1 << 20))
    t = {"plain": [], "preloaded": [], "disabled": []}
    # Each run reports its fastest batch of 100 (noise only adds time).
    loop = [B("mmap_loop"), f, str(cfg.pass_iters), str(cfg.pass_iters // 100)]
    for r in range(cfg.pass_rounds):
        t["plain"].append(float(run(loop)[0]))
        t["preloaded"].append(float(run(loop, shim=True)[0]))
        t["disabled"].append(float(run(loop, shim=True, CMBMAP_DISABLE="1")[0]))
    os.unlink(f)
    pre, dis = best_ratio(t["preloaded"], t["plain"]), best_ratio(t["disabled"], t["plain"])
    say(f"passthrough: preloaded {pre['median']:.3f}, disabled {dis['median']:.3f} (min/min)")
    return {"unit": "ns per mmap+munmap / without the library", "goal": "<= 1.03 (disabled <= 1.01)",
            "goal_max": 1.03, "baseline": spread(t["plain"]), "cmbmap": spread(t["preloaded"]), "ratio": pre,
            "disabled": {"cmbmap": spread(t["disabled"]), "ratio": dis, "goal_max": 1.01},
            "note": "a tmpfs file, never served; each run reports its fastest batch of 100 pairs, and the "
                    "ratio's middle figure is min/min over interleaved rounds (emulator noise only adds "
                    "time), min and max are per-round ratios"}


def lease_costs(cfg):
    """Lease-break round trip, and revocation + re-read vs pread (both from revokebench)."""
    f = "/mnt/nvme/bench-lease"
    random_file(f, 16 << 20)
    breaks, ratios, revoke_us, pread_us = [], [], [], []
    for r in range(cfg.reps):
        us, how = run([B("revokebench"), "break", f], shim=True)
        served_or_fail(how, "lease_break_ms")
        breaks.append(int(us) / 1000)
        a, b, how = run([B("revokebench"), "revoke", f], shim=True)
        served_or_fail(how, "revoke_ratio")
        revoke_us.append(int(a))
        pread_us.append(int(b))
        ratios.append(int(a) / int(b))
        say(f"lease round {r + 1}/{cfg.reps}: break {breaks[-1]:.1f} ms, revoke ratio {ratios[-1]:.2f}")
    os.unlink(f)
    brk = {"unit": "ms", "goal": None, "cmbmap": spread(breaks), "ratio": spread(breaks),
           "note": "another process's open(O_WRONLY) of a served file until it returns"}
    rev = {"unit": "(revoke + re-read) time / pread time", "goal": "<= 2", "goal_max": 2.0,
           "baseline": spread(pread_us), "cmbmap": spread(revoke_us), "ratio": spread(ratios),
           "note": "16 MiB served mapping given back (MADV_DONTNEED) and read again from a dropped "
                   "cache, vs pread of the same bytes from a dropped cache (microseconds)"}
    return brk, rev


def p2p_host_bytes(cfg):
    """Host RAM touched copying a mapped 16 MiB file to the second drive with O_DIRECT."""
    if not os.path.isdir("/mnt/nvme2"):
        return {"missing": "needs the second controller (/mnt/nvme2)"}
    src, dst = "/mnt/nvme/bench-p2p", "/mnt/nvme2/bench-p2p"
    random_file(src, 16 << 20)
    base, cmb, t_base, t_cmb = [], [], [], []
    for r in range(cfg.reps):
        for shim, acc, tt in ((False, base, t_base), (True, cmb, t_cmb)):
            drop_caches()
            secs, rss, how = run([B("p2pcopy"), src, dst], shim=shim)
            if shim:
                served_or_fail(how, "p2p_host_bytes")
            acc.append(int(rss) + cached_bytes(src) + cached_bytes(dst))
            tt.append(float(secs))
        if subprocess.run(["cmp", "-s", src, dst]).returncode:
            raise RuntimeError("p2p_host_bytes: the copy differs")
        say(f"p2p round {r + 1}/{cfg.reps}: plain {base[-1]} B, cmbmap {cmb[-1]} B of host RAM")
    os.unlink(src)
    os.unlink(dst)
    return {"unit": "bytes of host RAM (page cache + RSS growth)", "goal": "0 (beyond metadata)",
            "baseline": spread(base), "cmbmap": spread(cmb), "ratio": spread([c / b for c, b in zip(cmb, base)]),
            "seconds": {"baseline": spread(t_base), "cmbmap": spread(t_cmb)},
            "note": "O_DIRECT writes from the mapping to /mnt/nvme2 (controller 1); cmbmap's own thread "
                    "stack and statistics page are the remaining bytes"}


def cpu_read_ratio(cfg):
    """CPU read throughput of a served mapping vs the page cache (warm and cold)."""
    f = "/mnt/nvme/bench-read"
    random_file(f, cfg.read_mib << 20)
    cmb, warm, cold = [], [], []
    for r in range(cfg.reps):
        drop_caches()
        cold.append(float(run([B("readbench"), f])[0]))
        warm.append(float(run([B("readbench"), f])[0]))
        drop_caches()
        out = run([B("readbench"), f], shim=True)
        served_or_fail(out[2], "cpu_read_ratio")
        cmb.append(float(out[0]))
        say(f"read round {r + 1}/{cfg.reps}: cmb {cmb[-1]:.0f}, warm {warm[-1]:.0f}, cold {cold[-1]:.0f} MB/s")
    os.unlink(f)
    return {"unit": "read MB/s through the mapping / page cache MB/s", "goal": None,
            "baseline": spread(warm), "cmbmap": spread(cmb),
            "ratio": spread([c / w for c, w in zip(cmb, warm)]),
            "cold": {"baseline": spread(cold), "ratio": spread([c / w for c, w in zip(cmb, cold)])},
            "note": f"8-byte loads over a {cfg.read_mib} MiB mapping, page faults included; "
                    "warm: file already in the page cache"}


def commit_ratio(cfg):
    """msync of dirty pages from the CMB vs O_DIRECT pwrite of the same bytes from host memory."""
    f = "/mnt/nvme/bench-commit"
    random_file(f, cfg.commit_mib << 20)
    t_dir, t_cmb, ram_dir, ram_cmb, ram_pc, t_pc = [], [], [], [], [], []
    for r in range(cfg.reps):
        secs, ram, _ = run([B("commitbench"), "direct", f])
        t_dir.append(float(secs))
        ram_dir.append(int(ram))
        secs, ram, how = run([B("commitbench"), "msync", f], shim=True, CMBMAP_WRITABLE="1")
        served_or_fail(how, "commit_ratio")
        t_cmb.append(float(secs))
        ram_cmb.append(int(ram))
        drop_caches()
        secs, ram, _ = run([B("commitbench"), "msync", f])
        t_pc.append(float(secs))
        ram_pc.append(int(ram))
        say(f"commit round {r + 1}/{cfg.reps}: msync from CMB {t_cmb[-1] * 1000:.1f} ms, O_DIRECT pwrite "
            f"{t_dir[-1] * 1000:.1f} ms, page-cache msync {t_pc[-1] * 1000:.1f} ms; host RAM holding the "
            f"data {ram_cmb[-1]} B (page cache: {ram_pc[-1]} B)")
    os.unlink(f)
    return {"unit": "msync time from CMB / O_DIRECT pwrite time from host RAM", "goal": None,
            "baseline": spread(t_dir), "cmbmap": spread(t_cmb),
            "ratio": spread([c / d for c, d in zip(t_cmb, t_dir)]),
            "host_ram_bytes": {"cmbmap": spread(ram_cmb), "o_direct": spread(ram_dir), "page_cache_msync": spread(ram_pc)},
            "page_cache_msync_seconds": spread(t_pc),
            "note": f"{cfg.commit_mib} MiB, every page dirty (one store each), msync(MS_SYNC) of the whole "
                    "mapping: NVMe writes from CMB memory + flush + fdatasync; host RAM = the file's page "
                    "cache after the commit (cachestat) + the process's anonymous memory growth from mmap to the end of "
                    "the commit, vs the same stores and msync through the page cache"}


def scale_map_cost(cfg):
    """mmap+munmap of a small served file with N served ranges already live."""
    many, one = "/mnt/nvme/bench-scale-many", "/mnt/nvme/bench-scale-one"
    random_file(many, 64 << 10)
    random_file(one, 64 << 10)
    ns = {n: [] for n in cfg.scale_ns}
    held = {n: [] for n in cfg.scale_ns}
    # Interleaved round by round, so the emulator's noise hits every N alike.
    for r in range(cfg.scale_rounds):
        for n in cfg.scale_ns:
            out = run([B("scalebench"), many, one, str(n), str(cfg.scale_iters), str(cfg.scale_iters // 20)],
                      shim=True)
            served_or_fail(out[2], f"scale_map_cost N={n}")
            ns[n].append(float(out[0]))
            held[n].append(int(out[1]))
        say(f"scale round {r + 1}/{cfg.scale_rounds}: " + ", ".join(
            f"N={n} {ns[n][-1] / 1000:.0f} us ({held[n][-1]} served)" for n in cfg.scale_ns))
    os.unlink(many)
    os.unlink(one)
    lo, hi = cfg.scale_ns[0], cfg.scale_ns[-1]
    rows = [{"n": n, "ns": spread(ns[n]), "served": min(held[n])} for n in cfg.scale_ns]
    return {"unit": f"ns per mmap+munmap with N={hi} served ranges live / with N={lo}", "goal": "<= 1.5",
            "goal_max": 1.5, "baseline": spread(ns[lo]), "cmbmap": spread(ns[hi]),
            "ratio": best_ratio(ns[hi], ns[lo]),
            "rows": rows,
            "note": "a served 4 KiB read-only MAP_SHARED mapping of a second file, mapped, loaded once and "
                    "unmapped, while N 4 KiB mappings of another file are served; each run reports its "
                    "fastest batch, the ratio's middle figure is min/min over interleaved rounds; rows: "
                    "ns and the served count per N"}


def revoke_many(cfg):
    """Giving back N served ranges of one file at once (the program's own open for writing)."""
    f = "/mnt/nvme/bench-revoke-many"
    random_file(f, 64 << 10)
    us = {n: [] for n in cfg.revoke_ns}
    # Interleaved round by round, so the emulator's noise hits every N alike.
    for r in range(cfg.revoke_rounds):
        for n in cfg.revoke_ns:
            t, before, after = run([B("revokemany"), f, str(n)], shim=True)
            if int(before) != n or int(after) != 0:
                raise RuntimeError(f"revoke_many N={n}: {before} of {n} ranges served, {after} left after the open")
            us[n].append(float(t) / n)
        say(f"revoke round {r + 1}/{cfg.revoke_rounds}: " + ", ".join(
            f"N={n} {us[n][-1]:.0f} us per range" for n in cfg.revoke_ns))
    os.unlink(f)
    lo, hi = cfg.revoke_ns[0], cfg.revoke_ns[-1]
    return {"unit": f"us per range given back, N={hi} ranges of one file / N={lo}", "goal": "<= 1.5",
            "goal_max": 1.5, "baseline": spread(us[lo]), "cmbmap": spread(us[hi]),
            "ratio": best_ratio(us[hi], us[lo]),
            "rows": [{"n": n, "us_per_range": spread(us[n])} for n in cfg.revoke_ns],
            "note": "N 4 KiB read-only MAP_SHARED served mappings of one file, all given back by the "
                    "process's own open(O_WRONLY) of the file (timed); the ratio's middle figure is min/min "
                    "over interleaved rounds; rows: microseconds per range per N"}


def writeback_stall(cfg):
    """Another thread's longest mmap+munmap while a whole-mapping writeback runs, vs without one."""
    big, small, raw = "/mnt/nvme/bench-wb-big", "/mnt/nvme/bench-wb-small", "/mnt/nvme/bench-wb-raw"
    random_file(big, cfg.stall_mib << 20)
    random_file(small, 64 << 10)
    alone, during, wb, control, control_ms, breakdown = [], [], [], [], [], []
    for r in range(cfg.stall_reps):
        out = run([B("wbstall"), big, small, str(cfg.stall_mib), raw], shim=True, CMBMAP_WRITABLE="1")
        served_or_fail(out[4], "writeback_stall")
        alone.append(float(out[0]))
        during.append(float(out[1]))
        wb.append(float(out[2]))
        control.append(float(out[5]))
        control_ms.append(float(out[6]))
        parts = [dict(zip(("mmap_us", "load_us", "munmap_us", "cpu_us", "waits", "preempted"),
                          map(float, w.split("/")))) for w in out[7:10]]
        breakdown.append(dict(zip(("during", "alone", "control"), parts)))
        say(f"stall round {r + 1}/{cfg.stall_reps}: longest call {alone[-1] / 1000:.1f} ms alone, "
            f"{during[-1] / 1000:.1f} ms during a {wb[-1]:.0f} ms writeback ({out[3]} calls), "
            f"{control[-1] / 1000:.1f} ms during {control_ms[-1]:.0f} ms of plain O_DIRECT writes; "
            "where the longest calls' time went (mmap/load/munmap, on the CPU, waits, preemptions): " +
            "; ".join(f"{k} {p['mmap_us']:.0f}/{p['load_us']:.0f}/{p['munmap_us']:.0f} us, cpu {p['cpu_us']:.0f} us, "
                      f"{p['waits']:.0f} w, {p['preempted']:.0f} p" for k, p in breakdown[-1].items()))
    os.unlink(big)
    os.unlink(small)
    return {"unit": "longest mmap+munmap of thread B during thread A's writeback / without one (us)",
            "goal": "<= 2", "goal_max": 2.0, "baseline": spread(alone), "cmbmap": spread(during),
            "ratio": spread([d / a for a, d in zip(alone, during)]), "writeback_ms": spread(wb),
            "control_us": spread(control), "control_ratio": spread([c / a for a, c in zip(alone, control)]),
            "longest_calls": breakdown,
            "note": f"A: msync(MS_SYNC) of a {cfg.stall_mib} MiB writable served mapping, every page dirty "
                    "(NVMe writes from CMB memory); B: mmap, one load and munmap of a served 4 KiB file in a "
                    "loop, during the writeback and then alone for as long; control_ratio: B's longest call "
                    "while A writes as many bytes by plain O_DIRECT pwrite (no cmbmap lock involved) / alone: "
                    "what the emulated machine alone does to B"}


def big_fill_ratio(cfg):
    """A large file's whole mmap() vs raw O_DIRECT reads of the same bytes into p2pmem."""
    cmb_mib = int(os.environ.get("TESTVM_CMB_MB", "64"))
    mib = cfg.big_mib
    if cmb_mib < 2 * mib:
        raise RuntimeError(f"needs a CMB of at least {2 * mib} MiB (tools/bench/run boots one with --cmb-mb 1024); "
                           f"this machine has {cmb_mib} MiB")
    f = "/mnt/nvme/bench-big"
    random_file(f, mib << 20)
    raw_s, map_s, fill_mbps = [], [], []
    for r in range(cfg.big_reps):
        drop_caches()
        raw = float(run([B("fillbench"), "rawq", f])[0])
        drop_caches()
        out = run([B("fillbench"), "mapped", f], shim=True)
        served_or_fail(out[-1], f"big_fill_ratio {mib} MiB")
        raw_s.append(mib * 1.048576 / raw)
        map_s.append(mib * 1.048576 / float(out[1]))
        fill_mbps.append(float(out[0]))
        say(f"big fill round {r + 1}/{cfg.big_reps}: raw {raw:.0f} MB/s, whole mmap() {float(out[1]):.0f} MB/s "
            f"(its fill {fill_mbps[-1]:.0f} MB/s)")
    os.unlink(f)
    return {"unit": f"raw O_DIRECT read time / whole mmap() time, {mib} MiB file, {cmb_mib} MiB CMB (seconds)",
            "goal": ">= 0.8", "goal_min": 0.8, "baseline": spread(raw_s), "cmbmap": spread(map_s),
            "ratio": best_ratio(raw_s, map_s), "fill_mbps": spread(fill_mbps),
            "note": "the second mmap() of the file in a process (the first sets up the lease, the watcher and "
                    "the io_uring rings), timed whole: plan, CMB allocation and mapping, fill (io_uring, 8 in "
                    "flight); baseline: io_uring O_DIRECT reads of the file, 8 in flight, into p2pmem pages "
                    "faulted in first (untimed); min/min over the rounds"}


SHARE_HOLDER = """import mmap, sys
m = None
for line in sys.stdin:
    if m is not None:
        m.close()
    with open(sys.argv[1], "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    cmb = 0
    for l in open("/proc/self/maps"):
        if "p2pmem" in l:
            lo, hi = (int(x, 16) for x in l.split()[0].split("-"))
            cmb += hi - lo
    print(cmb, flush=True)
"""


def share_rounds(cfg, size, files, **extra):
    """Processes in turn unmap their last mapping and map their file again; the share of
    each new mapping that was served, per process, over the rounds."""
    procs = [subprocess.Popen([sys.executable, "-c", SHARE_HOLDER, f], env=env(True, **extra), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for f in files]
    shares = [[] for _ in procs]
    try:
        for _ in range(cfg.share_rounds):
            for i, p in enumerate(procs):
                p.stdin.write("map\n")
                p.stdin.flush()
                shares[i].append(int(p.stdout.readline()) / size)
                # Past the holders' default grace time (CMBMAP_SHARE_GRACE_MS, 1000 ms)
                # by the time the second next process asks.
                time.sleep(0.6)
    finally:
        for p in procs:
            p.stdin.close()
            p.wait()
    return shares


def share_fairness(cfg):
    """Processes in turn mapping files that together exceed the CMB: how much of each one's most
    recent mapping was served, with the CMB shared (CMBMAP_SHARE=1) and without (=0)."""
    cmb_mib = int(os.environ.get("TESTVM_CMB_MB", "64"))
    size = (cmb_mib * 3 // 8) << 20
    files = [f"/mnt/nvme/bench-share-{i}" for i in range(cfg.share_procs)]
    for f in files:
        random_file(f, size)
    without = share_rounds(cfg, size, files, CMBMAP_SHARE="0")
    shared = share_rounds(cfg, size, files)
    for f in files:
        os.unlink(f)
    say("share of each process's newest mapping served, per round: without sharing "
        + "; ".join(" ".join(f"{s:.2f}" for s in p) for p in without) + " | shared "
        + "; ".join(" ".join(f"{s:.2f}" for s in p) for p in shared))
    # Per process: the mean over its mappings; the figure is the worst-treated process.
    worst = lambda per: min(statistics.mean(p) for p in per)  # noqa: E731
    flat = lambda per: [s for p in per for s in p]  # noqa: E731
    return {"unit": f"served share of each process's most recent mapping, the least served process's mean "
                    f"({cfg.share_procs} processes, {size >> 20} MiB files, {cmb_mib} MiB CMB)",
            "goal": ">= 0.9", "goal_min": 0.9,
            "baseline": {**spread(flat(without)), "median": worst(without)},
            "cmbmap": {**spread(flat(shared)), "median": worst(shared)},
            "ratio": {**spread(flat(shared)), "median": worst(shared)},
            "per_process": {"without": without, "shared": shared},
            "note": f"{cfg.share_procs} processes under the shim take turns ({cfg.share_rounds} rounds, 0.6 s "
                    "apart): each unmaps its last mapping and maps its file again, read-only MAP_SHARED; the "
                    "share served is its p2pmem bytes in /proc/self/maps over the file size; baseline: the same "
                    "with CMBMAP_SHARE=0 (a full CMB asks nobody); middle figure: the least served process's "
                    "mean, min and max over all mappings"}


def machine():
    q = subprocess.run(["sh", "-c", "cat /sys/class/nvme/nvme0/model 2>/dev/null"], capture_output=True, text=True)
    return {"kernel": os.uname().release, "cpus": os.cpu_count(), "nvme0": q.stdout.strip(),
            "qemu": os.environ.get("CMBMAP_BENCH_QEMU", "?"), "cmb_mib": os.environ.get("TESTVM_CMB_MB", "?")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer sizes and repetitions (a few minutes)")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--only", help="run only this measure (e.g. commit_ratio)")
    a = ap.parse_args()
    cfg = argparse.Namespace(
        reps=3 if a.quick else 7, fill_sizes=[4, 16] if a.quick else [1, 4, 16, 32], fill_reps=3 if a.quick else 15,
        pass_rounds=7 if a.quick else 21, pass_iters=2000 if a.quick else 5000, read_mib=8 if a.quick else 16,
        commit_mib=8 if a.quick else 16, fill_rows=None, scale_ns=[1, 10, 100, 1000, 10000],
        scale_rounds=3 if a.quick else 7, scale_iters=200 if a.quick else 400,
        revoke_ns=[1, 10, 100, 1000], revoke_rounds=3 if a.quick else 7,
        stall_mib=32, stall_reps=3 if a.quick else 15, share_procs=4, share_rounds=3 if a.quick else 5, big_mib=512, big_reps=2 if a.quick else 3)
    result = {"when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "quick": a.quick, "machine": machine(), "measures": {}}
    m = result["measures"]
    steps = [("pagecache_ratio", pagecache_ratio), ("fill_ratio", fill_ratio), ("scrub_ratio", scrub_ratio),
             ("passthrough_overhead", passthrough_overhead), ("lease", lease_costs),
             ("p2p_host_bytes", p2p_host_bytes), ("cpu_read_ratio", cpu_read_ratio),
             ("commit_ratio", commit_ratio), ("scale_map_cost", scale_map_cost), ("revoke_many", revoke_many),
             ("writeback_stall", writeback_stall), ("share_fairness", share_fairness)]
    # big_fill_ratio needs a 1 GiB CMB: tools/bench/run boots a second machine for it alone.
    if a.only == "big_fill_ratio":
        steps = [("big_fill_ratio", big_fill_ratio)]
    elif a.only:
        steps = [s for s in steps if s[0] == a.only or (a.only in ("lease_break_ms", "revoke_ratio") and s[0] == "lease")
                 or (a.only == "scrub_ratio" and s[0] == "fill_ratio")]
        if not steps:
            ap.error(f"--only: no measure named {a.only}")
    for i, (name, fn) in enumerate(steps):
        say(f"({i + 1}/{len(steps)}) {name}")
        try:
            out = fn(cfg)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            out = {"error": str(e)}
            say(f"{name} failed: {e}")
        if name == "lease":
            if isinstance(out, dict):
                m["lease_break_ms"] = m["revoke_ratio"] = out
            else:
                m["lease_break_ms"], m["revoke_ratio"] = out
        else:
            m[name] = out
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    say(f"wrote {a.out}")


if __name__ == "__main__":
    main()
