"""System tests of the runtime over a split VM at scale (issue 6, "Tests"):
what test_split_read.py checks on a 20-process guest, here on a guest of
1,000 workload processes and on one with 5-level paging, plus the memory
file and page table left as they were by method 1 on the big guest, the
chunks method 2 used left resident, and a sub-host killed (or frozen) in
the middle of a listing and brought back.

Each guest is split onto a main host and two sub-hosts (namespaces made
here, bare veths, nbdkit with TLS-PSK) with a main-host cap well below its
RAM; before each listing the guest churns a buffer above the cap, so the
listing starts from pages pushed out to the sub-hosts.  The guest's own
/proc, through the agent, is the ground truth: for the big guest it is read
once (1,000 processes take the agent about a minute) and each listing is
compared with it, leaving out what started since (the workload holds still).

Everything made here (hosts, exports, QEMU, /dev/shm files, tc qdiscs) is
removed at the end, pass or fail.  Traffic goes only to those namespaces.
"""
import json
import os
import re
import signal
import struct
import subprocess
import time

import pytest

from conftest import SESSION_TAG, VMT, start_vm, stop_vm
from truth import (argv_of, check_ps, guest_inet_sockets, guest_modules, guest_procs,
                   is_kernel_thread)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, tc)")

PREFIX = SESSION_TAG + "s"  # hosts prefix: 8 characters at most; test_split_read's ends in "r"
SUBNET = "10.95"
PROCS = 1000
MEM, MAIN, CHURN = "512M", "96M", "128M"  # the churn buffer is above the main host's cap
COMBOS = [("runtime", "4K"), ("runtime", "1M"), ("vm", "4K"), ("vm", "1M")]
PT_HEADER = 8192  # src/pagetable/pagetable.h: VMT_PT_HEADER_SIZE
KILL_BOUND_S = 90  # a listing whose sub-host died ends by its own timeouts (10 s each) within this

STATS = re.compile(r"stats: split: pages local (\d+), from sub-hosts (\d+) \(fetch cache hits "
                   r"(\d+)\), exact reads (\d+), round trips (\d+), waiting ([\d.]+) ms, "
                   r"retries (\d+), errors (\d+), fetch cache max (\d+) KiB")


def vmt(env, *args, check=True, timeout=300):
    p = subprocess.run([VMT, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"vmt {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def split_stats(stderr):
    m = STATS.search(stderr)
    assert m, f"no split stats in: {stderr}"
    keys = ("local", "fetched", "cache_hits", "exact", "round_trips", "wait_ms", "retries",
            "errors", "cache_max_kib")
    st = {k: float(v) if k == "wait_ms" else int(v) for k, v in zip(keys, m.groups())}
    st["hosts"] = {int(k): int(n) for k, n in
                   re.findall(r"stats: sub-host (\d+): \d+ requests, (\d+) chunks", stderr)}
    return st


def listing(vm, cmd, fetch, chunk, *extra, check=True):
    """One JSON listing with --stats: (parsed output or None, stats, process)."""
    p = vm.vmt(*cmd, "--vm", vm.name, "--json", "--stats", "--fetch", fetch, "--chunk", chunk,
               *extra, check=check)
    out = json.loads(p.stdout) if p.stdout.strip() else None
    return out, split_stats(p.stderr), p


def churn(vm, size=CHURN):
    """A buffer above the cap: the pager pushes out what listings read."""
    vm.guest(f"dd if=/dev/zero of=/dev/null bs={size} count=1 2>/dev/null")


def pt_read(path):
    """(header fields, entries as raw bytes, chunks by location) of a page table file."""
    with open(path, "rb") as f:
        data = f.read()
    ram, shift, nr_hosts, nr_chunks, cap, main, absent, gen = struct.unpack_from(
        "<QIIQQQQQ", data, 16)
    hdr = {"ram": ram, "shift": shift, "hosts": nr_hosts, "chunks": nr_chunks, "cap": cap,
           "main": main, "absent": absent, "generation": gen}
    ents = data[PT_HEADER:PT_HEADER + 8 * nr_chunks]
    census = {}
    for (e,) in struct.iter_unpack("<Q", ents):
        loc = e & 0xFF
        name = {0: "absent", 1: "main"}.get(loc, f"sub{loc - 2}")
        census[name] = census.get(name, 0) + 1
    return hdr, ents, census


@pytest.fixture(scope="module")
def hosts(env):
    vmt(env, "hosts", "up", "--prefix", PREFIX, "--subnet", SUBNET, "--subhosts", "2",
        "--link", "none", "--capacity", "1G", timeout=120)
    try:
        yield PREFIX
    finally:
        vmt(env, "hosts", "down", "--prefix", PREFIX, check=False, timeout=120)


def split(vm, main_mem):
    vm.vmt("split", vm.name, "--main-mem", main_mem, "--subhosts", "sub1,sub2",
           "--hosts-prefix", PREFIX, timeout=300)


def check_listings(vm, truth, me, fetch, chunk, churn_size=CHURN):
    """ps, lsmod, netstat and info with one method and chunk, each from pages
    pushed out, equal the guest's own view; the stats of the ps."""
    mods, socks = guest_modules(vm), guest_inet_sockets(vm)
    release = vm.guest("uname -r").strip()
    mem_total = int(vm.guest("grep MemTotal /proc/meminfo").split()[1])
    btime = int(vm.guest("grep btime /proc/stat").split()[1])

    churn(vm, churn_size)
    ps, st, p = listing(vm, ["ps"], fetch, chunk)
    print(f"{fetch} {chunk} ps: {p.stderr.strip()}")
    assert st["fetched"] + st["exact"] > 0 and st["round_trips"] > 0 and st["errors"] == 0, \
        p.stderr
    if fetch == "runtime":
        assert st["cache_max_kib"] <= 4096, p.stderr  # the default bound, 4M
    n, _ = check_ps(truth, me, ps)

    churn(vm, churn_size)
    seen, st, p = listing(vm, ["lsmod"], fetch, chunk)
    assert st["errors"] == 0, p.stderr
    assert [m["name"] for m in seen] == [m["name"] for m in mods]
    for s, t in zip(seen, mods):
        for key in ("size", "refcnt", "deps", "state", "base"):
            assert s[key] == t[key], f"module {t['name']} {key}: {s[key]} vs {t[key]}"

    churn(vm, churn_size)
    seen, st, p = listing(vm, ["netstat", "--tcp", "--udp"], fetch, chunk)
    assert st["errors"] == 0, p.stderr
    key = lambda s: (s["proto"], s["local"], s["lport"], s["remote"], s["rport"], s["state"],
                     s["uid"], s["inode"])
    assert sorted(map(key, seen)) == sorted(map(key, socks))

    churn(vm, churn_size)
    info, st, p = listing(vm, ["info"], fetch, chunk)
    assert st["errors"] == 0, p.stderr
    assert info["release"] == release
    assert info["mem_total_kb"] == mem_total and info["boot_time_s"] == btime
    return n, info


# ------------------------------------------------- 5-level paging, split

def test_la57_split_listings_match_guest(env, hosts):
    """A guest with 5-level paging, split: every listing with both methods at
    4K and 1M equals the guest's /proc (the walkers' 5-level page tables
    read through the sub-hosts)."""
    vm = start_vm(env, "la57s", procs=200, mem="256M", extra=("--la57",))
    try:
        split(vm, "48M")
        truth, me = guest_procs(vm)
        for fetch, chunk in COMBOS:
            n, info = check_listings(vm, truth, me, fetch, chunk, churn_size="64M")
            assert info["paging_levels"] == 5
            assert n >= 200
    finally:
        stop_vm(vm)


# ------------------------------------------------- 1,000 processes, split

@pytest.fixture(scope="module")
def big(env, hosts):
    vm = start_vm(env, "scale", procs=PROCS, mem=MEM)
    try:
        split(vm, MAIN)
        # The ground truth before the checker starts (it is busy, not still).
        vm.truth = guest_procs(vm)
        # The memory checker runs from here on, through every listing and the
        # sub-host killed below: the guest's memory must stay exact.
        vm.guest("vmt-memcheck --daemon --state /run/mc.json --size 24M --seconds 3600 "
                 "--interval 500 >/dev/null")
        yield vm
    finally:
        stop_vm(vm)


@pytest.fixture(scope="module")
def big_truth(big):
    return big.truth


def memcheck_status(vm):
    return json.loads(vm.guest("vmt-memcheck --status /run/mc.json --json; true", timeout=90))


def test_big_split_is_mostly_remote(big, big_truth):
    """Most of what a listing reads is on the sub-hosts once the guest churned."""
    truth, me = big_truth
    assert sum(p["comm"].startswith("wl-") for p in truth.values()) >= PROCS
    hdr, _, census = pt_read(big.desc["split"]["pagetable"])
    assert census.get("sub0", 0) > 0 and census.get("sub1", 0) > 0, census
    assert hdr["main"] <= hdr["cap"] < hdr["chunks"] // 4, hdr
    churn(big)
    _, st, p = listing(big, ["ps"], "runtime", "4K")
    print(p.stderr.strip())
    assert st["fetched"] + st["exact"] > st["local"], p.stderr  # exact: argument reads


@pytest.mark.parametrize("fetch,chunk", COMBOS)
def test_big_listings_match_guest(big, big_truth, fetch, chunk):
    truth, me = big_truth
    n, _ = check_listings(big, truth, me, fetch, chunk)
    assert n >= PROCS


def test_big_method1_leaves_memory_file_alone(big):
    """Method 1 on the paused big guest (so only vmt could change anything):
    the memory file's allocated blocks, every page table entry (location and
    version) and the table's generation are as they were, and the fetch
    cache never grew past its bound."""
    churn(big)
    desc = big.desc
    mem, pt = desc["mem_path"], desc["split"]["pagetable"]
    big.vmt("vm", "pause", big.name)
    try:
        blocks0 = os.stat(mem).st_blocks
        hdr0, ents0, _ = pt_read(pt)
        for chunk, bound in (("4K", "256K"), ("1M", "2M")):
            for cmd in (["ps", "--threads", "--exe", "--environ"], ["lsmod"], ["netstat"],
                        ["info"]):
                _, st, p = listing(big, cmd, "runtime", chunk, "--fetch-cache", bound)
                assert st["errors"] == 0, p.stderr
                assert st["cache_max_kib"] <= int(bound[:-1]) * (1024 if bound[-1] == "M" else 1)
                if cmd[0] == "ps":
                    print(f"method 1 {chunk}, cache {bound}: {p.stderr.strip()}")
                    assert st["fetched"] > 1000, p.stderr
        blocks1 = os.stat(mem).st_blocks
        hdr1, ents1, _ = pt_read(pt)
    finally:
        big.vmt("vm", "resume", big.name)
    assert blocks1 == blocks0, f"method 1 allocated {blocks1 - blocks0} blocks in {mem}"
    assert hdr1["generation"] == hdr0["generation"], (hdr0, hdr1)
    moved = sum(a != b for a, b in zip(struct.iter_unpack("<Q", ents0),
                                        struct.iter_unpack("<Q", ents1)))
    assert moved == 0, f"{moved} page table entries changed"


def test_big_method2_keeps_what_it_used(big):
    """Method 2 on the paused big guest: what a listing had paged in is still
    on the main host afterwards (method 1 then reads nothing remote), for
    listings whose pages fit under the cap; a whole `ps` of 1,000 processes
    needs more 64K chunks than the cap holds, and the main host stays under
    its cap while it pages them through."""
    churn(big)
    desc = big.desc
    mem, pt = desc["mem_path"], desc["split"]["pagetable"]
    big.vmt("vm", "pause", big.name)
    try:
        for cmd in (["lsmod"], ["netstat"], ["info"]):
            out2, st2, p2 = listing(big, cmd, "vm", "4K")
            assert st2["errors"] == 0, p2.stderr
            out1, st1, p1 = listing(big, cmd, "runtime", "4K")
            print(f"{cmd[0]}: method 2 paged in {st2['fetched']} pages; method 1 after it "
                  f"fetched {st1['fetched']}")
            assert st1["fetched"] == 0 and st1["errors"] == 0, p1.stderr
            assert out1 == out2
        hdr0, _, _ = pt_read(pt)
        _, st2, p2 = listing(big, ["ps"], "vm", "4K")
        hdr1, _, _ = pt_read(pt)
        blocks = os.stat(mem).st_blocks
        _, st1, p1 = listing(big, ["ps"], "runtime", "4K")
    finally:
        big.vmt("vm", "resume", big.name)
    print(f"whole ps: method 2 paged in {st2['fetched']} pages in {st2['round_trips']} round "
          f"trips; method 1 after it fetched {st1['fetched']}, read {st1['local']} at home")
    assert st2["errors"] == 0 and st1["errors"] == 0, (p2.stderr, p1.stderr)
    assert hdr1["generation"] > hdr0["generation"]  # chunks came home
    assert hdr1["main"] <= hdr1["cap"], hdr1
    # The pager's slack over its cap (test_split.py: CAP_SLACK), 8 chunks.
    assert blocks * 512 <= (hdr1["cap"] + 8) << hdr1["shift"], blocks * 512
    assert st1["local"] > 0


# ------------------------------------------- a sub-host killed mid-listing

def export_of(env, vm, k):
    show = json.loads(vmt(env, "hosts", "show", "--prefix", PREFIX, "--json").stdout)
    sub = show["subhosts"][k]
    exp = [e for e in sub["exports"] if e["vm"] == vm.name]
    assert len(exp) == 1 and exp[0]["alive"], sub
    return sub, exp[0]


def tc_limit(sub, rate):
    """Rate-limit what the sub-host sends (tc tbf on its end), so a listing lasts."""
    cmd = ["ip", "netns", "exec", sub["netns"], "tc", "qdisc"]
    if rate:
        subprocess.run(cmd + ["replace", "dev", sub["sub_if"], "root", "tbf", "rate", rate,
                              "burst", "64kb", "latency", "500ms"], check=True)
    else:
        subprocess.run(cmd + ["del", "dev", sub["sub_if"], "root"], check=False,
                       stderr=subprocess.DEVNULL)


def bring_back(vm, k, how, exp):
    """The sub-host serves again: thawed, or restarted with its data."""
    if how == "hang":
        for pid in (exp["pid"], exp["nbdkit_pid"]):
            os.kill(pid, signal.SIGCONT)
        return
    desc = vm.desc
    vm.vmt("subhost", "stop", "--on", f"sub{k + 1}", "--vm", vm.name, "--prefix", PREFIX,
           "--keep-data")
    p = vm.vmt("subhost", "start", "--on", f"sub{k + 1}", "--vm", vm.name, "--size",
               str(desc["mem_bytes"]), "--psk", desc["split"]["psk_file"], "--prefix", PREFIX)
    # Where the page table says the sub-host is.
    assert p.stdout.split()[0] == exp["addr"], p.stdout


def check_partial_listing(out, stderr, truth, me, k):
    """A listing that lost a sub-host: the error named, the entries that needed
    it flagged partial, every other entry right (or missing only if the
    listing says it is incomplete)."""
    assert "could not be fetched" in stderr and f"sub-host {k} " in stderr, stderr
    entries = out or []
    partial = [s for s in entries if s["partial"]]
    assert partial, "no entry flagged partial"
    wrong = []
    for s in entries:
        t = truth.get(s["pid"])
        if s["pid"] >= me or s["partial"]:
            continue
        if t is None:
            wrong.append((s["pid"], "not in the guest"))
        elif not is_kernel_thread(t) and (
                s["name"] != t["comm"] or s["ppid"] != t["ppid"] or s["uid"] != t["uid"] or
                s["argv"] != argv_of(t["cmdline"])):
            wrong.append((s["pid"], s["name"], t["comm"]))
    assert not wrong, f"{len(wrong)} entries not flagged partial are wrong: {wrong[:5]}"
    users = {pid for pid, t in truth.items() if pid < me and not is_kernel_thread(t)}
    missing = users - {s["pid"] for s in entries}
    if missing:
        assert "listing is incomplete" in stderr, f"{len(missing)} missing, unexplained"
    return len(entries), len(partial), len(missing)


def busiest_subhost(env, vm):
    """The sub-host a 4K `ps` of the churned guest reads most from: (k, host, export)."""
    churn(vm)
    _, st, _ = listing(vm, ["ps"], "runtime", "4K")
    k = max(st["hosts"], key=st["hosts"].get)
    return (k, *export_of(env, vm, k))


def listing_interrupted(env, vm, fetch, sub, action):
    """A 4K `ps` of the churned guest, the sub-host's link held so that it
    lasts seconds, and action() done 1.5 s in: (process, stdout, stderr,
    seconds it took).  The listing must end within KILL_BOUND_S."""
    churn(vm)
    # Method 1 reads ~30 MB at 4K; the pager brings whole 64K chunks, ~5x that.
    tc_limit(sub, "20mbit" if fetch == "runtime" else "100mbit")
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen([VMT, "ps", "--vm", vm.name, "--json", "--stats", "--fetch",
                                 fetch, "--chunk", "4K"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            assert proc.poll() is None, "the listing ended before the sub-host was lost"
            action()
            out, err = proc.communicate(timeout=KILL_BOUND_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        return proc, out, err, time.monotonic() - t0
    finally:
        tc_limit(sub, None)


@pytest.mark.parametrize("fetch", ["runtime", "vm"])
def test_subhost_crash_mid_listing(env, big, big_truth, fetch):
    """`vmt subhost crash` (nbdkit SIGKILLed, its supervisor serves again
    within a fraction of a second, with its data) in the middle of a listing:
    the runtime's new connection (method 1, which waits a little for a
    sub-host that refuses it right after its connection died) or the pager's
    (method 2) finds it back, so the listing is whole and right."""
    truth, me = big_truth
    k, sub, exp = busiest_subhost(env, big)
    crash = []

    def action():
        crash.append(vmt(env, "subhost", "crash", "--on", sub["name"], "--vm", big.name,
                         "--prefix", PREFIX, check=False, timeout=60))

    proc, out, err, elapsed = listing_interrupted(env, big, fetch, sub, action)
    print(f"{fetch}, sub-host {k} crashed: ended after {elapsed:.1f} s, exit {proc.returncode}\n"
          f"{err.strip()}")
    assert crash and crash[0].returncode == 0, crash and crash[0].stderr
    assert proc.returncode == 0, err
    assert split_stats(err)["errors"] == 0, err
    assert check_ps(truth, me, json.loads(out))[0] >= PROCS
    _, exp2 = export_of(env, big, k)
    assert exp2["nbdkit_pid"] != exp["nbdkit_pid"] and exp2["addr"] == exp["addr"]
    churn(big)
    ps, st, p = listing(big, ["ps"], fetch, "4K")
    assert st["errors"] == 0 and st["fetched"] + st["exact"] > 0, p.stderr
    assert check_ps(truth, me, ps)[0] >= PROCS


@pytest.mark.parametrize("fetch,how", [
    ("runtime", "kill"), ("runtime", "hang"), ("vm", "kill"),
    # Known bug (seen once in CI): with one sub-host frozen, the pager's page-ins from the
    # other time out too, and the listing may name the other sub-host as the lost one.  One
    # cause is fixed (a page-in batch kept the healthy sub-host's chunks in motion until the
    # frozen one's deadline; a batch now takes every sub-host at once and reads again only the
    # runs that failed); one remains: under the memory cap a page-in
    # waits for room, and the single eviction thread may be writing to the frozen sub-host
    # (it picks the one with the most room) until its own timeout.
    pytest.param("vm", "hang", marks=pytest.mark.xfail(
        strict=False, reason="the pager may blame the wrong sub-host while one is frozen"))])
def test_subhost_lost_mid_listing(env, big, big_truth, fetch, how):
    """A 4K-chunk `vmt ps` of the churned big guest (its sub-host's link held
    to 20 Mbit/s so that it lasts seconds) loses the sub-host it needs most
    1.5 s in: killed (supervisor and nbdkit SIGKILLed) or frozen (SIGSTOP: no
    answer at all).  The listing ends by its own timeouts, exits 1 naming the
    sub-host, flags what needed it partial, and is right about the rest; with
    the sub-host back the next listing is whole and right, and the guest (its
    own faults waited for the sub-host) runs on with its memory exact."""
    truth, me = big_truth
    k, sub, exp = busiest_subhost(env, big)
    checks0 = memcheck_status(big)["pages_checked"]
    sig = signal.SIGKILL if how == "kill" else signal.SIGSTOP
    lost = []

    def lose():
        lost.append(how)
        for pid in (exp["pid"], exp["nbdkit_pid"]):  # the supervisor first: no restart
            os.kill(pid, sig)

    try:
        proc, out, err, elapsed = listing_interrupted(env, big, fetch, sub, lose)
    finally:
        if lost:
            bring_back(big, k, how, exp)
    print(f"{fetch}, sub-host {k} {how}: ended after {elapsed:.1f} s, exit {proc.returncode}\n"
          f"{err.strip()}")
    assert proc.returncode == 1, err
    n, partial, missing = check_partial_listing(json.loads(out) if out.strip() else None, err,
                                                truth, me, k)
    print(f"{n} entries, {partial} partial, {missing} missing")
    # The task list breaks at the first task_struct on the lost sub-host; the
    # pid index bridges the gap, so a process is missing only if its struct
    # pid is unreadable too (check_partial_listing: then the listing says so).

    # Back: whole and right, with the same method.
    churn(big)
    ps, st, p = listing(big, ["ps"], fetch, "4K")
    assert st["errors"] == 0 and st["fetched"] + st["exact"] > 0, p.stderr
    assert check_ps(truth, me, ps)[0] >= PROCS
    mc = memcheck_status(big)
    assert mc["running"] and mc["mismatches"] == 0 and mc["error"] is None, mc
    assert mc["pages_checked"] > checks0, "the memory checker did not run on"


def test_big_memcheck_clean(big):
    """After everything above, the guest's memory checker found no page wrong."""
    st = memcheck_status(big)
    assert st["running"] and st["mismatches"] == 0 and st["passes"] >= 10, st
