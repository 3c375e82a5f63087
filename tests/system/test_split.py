"""Split migration (`vmt split`) and `vmt vm adopt` on real guests.

1. A running 512M guest whose in-guest memory checker holds 300M is split
   to 160M on the main host and two sub-hosts made by `vmt hosts up` (own
   namespaces, 1gbit tbf links): the guest keeps running, the page table's
   census matches the summary, zero chunks went nowhere, the checker runs
   through thousands of page-in/page-out cycles with zero mismatches, the
   memory file's resident blocks stay under the cap, and a sub-host's
   nbdkit killed -9 and restarted with its data only makes the guest wait.
   Also with --live (pre-copy while the checker rewrites its memory).
2. Bad input refuses with exit 1 and the source keeps running (same pid,
   agent answers): RAM not shared, --main-mem above the VM, a closed port,
   a wrong key, a sub-host without room (before the source stops, and
   after it stopped: the undo path continues the source).
3. A QEMU started by hand (-daemonize, -pidfile, a serial log file) is
   adopted and split; its console log is not truncated.

Everything made here (namespaces, QEMU, nbdkit, /dev/shm files, keys) is
removed at the end, pass or fail.  Timings never decide a test.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import GUEST, SESSION_TAG, VMT, Vm, start_vm, stop_vm

PREFIX = "s" + SESSION_TAG[1:7]
TINY_PREFIX = "r" + SESSION_TAG[1:7]
MAIN_MEM = 160 << 20
CHUNK = 64 << 10
# The memory file may exceed the cap by the chunks the pager's workers are
# installing at the moment the sample is taken (4 workers, whole chunks)
# plus one chunk a fault may bring in before the evictor has pushed one out.
CAP_SLACK = 8 * CHUNK

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)")


def vmt(env, *args, check=True, timeout=300):
    p = subprocess.run([VMT, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"vmt {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


# ------------------------------------------------------------ page table

PT_HDR = struct.Struct("<8sIIQIIQQQQQQ")


def pt_census(path):
    """(header dict, counts by location) of a page table file (pagetable.h)."""
    with open(path, "rb") as f:
        data = f.read()
    (magic, _ver, hsize, ram, shift, nhosts, nchunks, cap, main, absent, gen,
     _pid) = PT_HDR.unpack_from(data, 0)
    assert magic == b"VMTPGTB1"
    locs, pinned, pinned_away = {}, 0, 0
    for (e,) in struct.iter_unpack("<Q", data[hsize:hsize + 8 * nchunks]):
        locs[e & 0xff] = locs.get(e & 0xff, 0) + 1
        if e & (1 << 16):  # VMT_PT_F_PINNED: the VM's core
            pinned += 1
            pinned_away += (e & 0xff) != 1
    hdr = dict(ram=ram, shift=shift, hosts=nhosts, chunks=nchunks, cap=cap, main=main,
               absent=absent, generation=gen, pinned=pinned, pinned_away=pinned_away)
    return hdr, locs


# --------------------------------------------------------------- helpers

def agent_alive(vm):
    out = vm.guest("cat /proc/uptime", timeout=60)
    return float(out.split()[0])


def pager_stats(vm):
    return vm.desc.get("pager_stats") or {}


def memcheck_status(vm):
    out = vm.vmt("vm", "exec", vm.name, "--timeout", "60", "--",
                 "vmt-memcheck --status /run/mc.json --json", check=False, timeout=90).stdout
    return json.loads(out)


def buddy_free_pages(vm):
    """Pages on the guest's buddy free lists, from its own /proc/buddyinfo."""
    total = 0
    for line in vm.guest("cat /proc/buddyinfo", timeout=60).splitlines():
        counts = line.split()[4:]  # "Node 0, zone DMA32 n0 n1 ..."
        total += sum(int(n) << order for order, n in enumerate(counts))
    return total


def check_free_pages(summary, before, after):
    """The split skipped only free pages: its walk of the free lists agrees with the
    guest's buddyinfo around the stop (the guest runs meanwhile: the checker and the
    agent take and give back pages, within a margin), and no skipped chunk holds more
    than the free pages."""
    assert summary["free_walk"] == "done", summary["free_walk"]
    margin = 4096  # 16 MiB
    assert min(before, after) - margin <= summary["free_pages"] <= max(before, after) + margin, \
        (summary["free_pages"], before, after)
    assert summary["free_chunks"] * summary["chunk_bytes"] <= summary["free_pages"] * 4096
    assert summary["free_chunks"] <= summary["zero_chunks"]


def has_memcheck(vm):
    p = vm.vmt("vm", "exec", vm.name, "--", "test -x /bin/vmt-memcheck", check=False)
    return p.returncode == 0


class BlockSampler(threading.Thread):
    """Samples the memory file's allocated bytes (st_blocks) until stopped."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.max, self.n, self.halt = path, 0, 0, threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                self.max = max(self.max, os.stat(self.path).st_blocks * 512)
                self.n += 1
            except OSError:
                pass
            self.halt.wait(0.1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            raise AssertionError("nbdkit exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nbdkit did not start")


@pytest.fixture(scope="module")
def hosts(env):
    vmt(env, "hosts", "up", "--prefix", PREFIX, "--subhosts", "2", "--capacity", "1G")
    yield PREFIX
    vmt(env, "hosts", "down", "--prefix", PREFIX, check=False)


@pytest.fixture(scope="module")
def keydir():
    d = tempfile.mkdtemp(prefix="vmt-split-keys-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def nbdkits(keydir):
    """Start nbdkit memory exports on 127.0.0.1; all killed afterwards."""
    procs = []

    def start(key, size="512M"):
        port = free_port()
        p = subprocess.Popen(["nbdkit", "-f", "--exit-with-parent", "-i", "127.0.0.1", "-p",
                              str(port), "--tls=require", f"--tls-psk={key}", "memory", size],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        wait_port(port, p)
        return f"127.0.0.1:{port}"

    yield start
    for p in procs:
        p.kill()
        p.wait(10)


def make_key(env, keydir, name):
    path = os.path.join(keydir, name)
    if not os.path.exists(path):
        vmt(env, "subhost", "key", "--out", path)
    return path


# ---------------------------------------------------------- 1. the split

def check_census(vm, summary):
    """The page table as the split left it: exact while nothing moved yet."""
    split = vm.desc["split"]
    hdr, locs = pt_census(split["pagetable"])
    assert hdr["chunks"] == summary["chunks"] == sum(locs.values())
    assert hdr["shift"] == summary["chunk_bytes"].bit_length() - 1
    assert hdr["cap"] == MAIN_MEM // summary["chunk_bytes"]
    assert locs.get(1, 0) == hdr["main"] and locs.get(0, 0) == hdr["absent"]
    moved = hdr["generation"]  # +1 per move since the split: bounds the drift
    assert abs(locs.get(0, 0) - summary["zero_chunks"]) <= moved
    assert abs(locs.get(1, 0) - summary["main_chunks"]) <= moved
    for k, h in enumerate(summary["hosts"]):
        assert abs(locs.get(2 + k, 0) - h["chunks"]) <= moved
    return hdr


def test_split_keeps_guest_running(env, hosts):
    vm = start_vm(env, "split", procs=10)
    try:
        if not has_memcheck(vm):
            pytest.skip("guest image has no vmt-memcheck (rebuild guest/)")
        run_split(env, vm, hosts)
    finally:
        stop_vm(vm)
    # Gone with the VM: its exports, memory files, page table, key.
    show = json.loads(vmt(env, "hosts", "show", "--prefix", hosts, "--json").stdout)
    assert not [e for s in show["subhosts"] for e in s["exports"] if e.get("vm") == vm.name]
    assert not [f for f in os.listdir("/dev/shm") if f.startswith(f"vmt-{vm.name}.")]


def run_split(env, vm, prefix):
    # 300M written by the checker before the split: most of it must go to the sub-hosts.
    vm.guest("vmt-memcheck --daemon --state /run/mc.json --size 300M --seconds 900 "
             "--interval 100 >/dev/null")
    up0 = agent_alive(vm)
    pid0 = vm.desc["qemu_pid"]
    free0 = buddy_free_pages(vm)
    p = vm.vmt("split", vm.name, "--main-mem", "160M", "--subhosts", "sub1,sub2",
               "--hosts-prefix", prefix, "--json", timeout=300)
    free1 = buddy_free_pages(vm)
    vm.vmt("vm", "pause", vm.name)
    summary = json.loads(p.stdout)
    # Free pages went nowhere (no page poisoning in the test guest), and were free.
    check_free_pages(summary, free0, free1)
    # The kernel's own pages (boot-time allocations, slab, page tables) were found.
    assert summary["kernel_chunks"] > 0
    hdr = check_census(vm, summary)
    # Zero chunks went nowhere: the sub-hosts' stores hold what was sent, plus
    # what the pager has paged out since.
    show = json.loads(vmt(env, "hosts", "show", "--prefix", prefix, "--json").stdout)
    sent = sum(h["bytes"] for h in summary["hosts"])
    used = sum(s["used"] for s in show["subhosts"])
    assert 0 < used <= sent + pager_stats(vm)["bytes_out"] + (1 << 20), (used, sent)
    vm.vmt("vm", "resume", vm.name)
    desc = vm.desc
    assert desc["qemu_pid"] != pid0 and desc["state"] == "running"
    # Listings' defaults, recorded for `vmt ps --vm` (none given: runtime, 64K)
    assert (desc["split"]["fetch"], desc["split"]["fetch_chunk"]) == ("runtime", 65536)
    assert not os.path.exists(f"/dev/shm/vmt-{vm.name}.ram")
    mem = desc["mem_path"]
    data_chunks = summary["chunks"] - summary["zero_chunks"]
    assert summary["main_chunks"] + sum(h["chunks"] for h in summary["hosts"]) == data_chunks
    assert summary["zero_chunks"] > 0 and all(h["chunks"] > 0 for h in summary["hosts"])
    assert summary["core_chunks"] > 0 and summary["main_chunks"] <= hdr["cap"]
    # The kernel's core is pinned on the main host.
    assert hdr["pinned"] == summary["core_chunks"] and hdr["pinned_away"] == 0, hdr
    assert agent_alive(vm) > up0
    # vmt ps reads the split VM with the pager's help (method 2), so complete.
    ps = vm.vmt("ps", "--vm", vm.name, "--fetch", "vm", check=False)
    assert ps.returncode == 0 and "vmt-workload" in ps.stdout, ps.stderr
    # Without it, complete or an error that says so: never a crash.
    assert vm.vmt("ps", "--vm", vm.name, check=False).returncode in (0, 1)
    sampler = BlockSampler(mem)
    sampler.start()
    try:
        cycles(vm, 3000)
        vm.vmt("subhost", "crash", "--on", "sub1", "--vm", vm.name, "--prefix", prefix)
        cycles(vm, 1500)
    finally:
        sampler.halt.set()
        sampler.join()
    assert sampler.n > 10
    assert sampler.max <= MAIN_MEM + CAP_SLACK, (sampler.max, MAIN_MEM)
    # Thousands of page-outs later, the core never left the main host.
    hdr, _ = pt_census(vm.desc["split"]["pagetable"])
    assert hdr["pinned"] == summary["core_chunks"] and hdr["pinned_away"] == 0, hdr
    st = memcheck_status(vm)
    assert st["mismatches"] == 0 and st["passes"] >= 2, st


def cycles(vm, n, timeout=240):
    """Wait until the pager did n more page-ins and page-outs; the checker stays clean."""
    s0 = pager_stats(vm)
    up0 = agent_alive(vm)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(3)
        s = pager_stats(vm)
        st = memcheck_status(vm)
        assert st["mismatches"] == 0, st
        if (s["pageins"] - s0["pageins"] >= n and s["pageouts"] - s0["pageouts"] >= n):
            break
    else:
        raise AssertionError(f"pager did not reach {n} cycles: {s0} -> {s}")
    assert agent_alive(vm) > up0


def test_live_split(env, hosts):
    """--live: pre-copy while the checker rewrites its memory, then only what changed."""
    vm = start_vm(env, "live", procs=5)
    try:
        if not has_memcheck(vm):
            pytest.skip("guest image has no vmt-memcheck (rebuild guest/)")
        vm.guest("vmt-memcheck --daemon --state /run/mc.json --size 200M --seconds 900 "
                 "--interval 100 >/dev/null")
        p = vm.vmt("split", vm.name, "--main-mem", "160M", "--subhosts", "sub1,sub2",
                   "--hosts-prefix", hosts, "--live", "--json", "--fetch", "vm",
                   "--fetch-chunk", "1M", timeout=300)
        summary = json.loads(p.stdout)
        split = vm.desc["split"]
        assert (split["fetch"], split["fetch_chunk"]) == ("vm", 1 << 20)
        assert summary["precopy_ms"] > 0 and summary["precopy_rounds"] >= 1
        # Free pages change while the pre-copy runs: none is skipped with --live.
        assert summary["free_walk"] == "off" and summary["free_chunks"] == 0
        data_chunks = summary["chunks"] - summary["zero_chunks"]
        assert summary["main_chunks"] + sum(h["chunks"] for h in summary["hosts"]) == data_chunks
        cycles(vm, 500)
        st = memcheck_status(vm)
        assert st["mismatches"] == 0 and st["passes"] >= 2, st
    finally:
        stop_vm(vm)


# -------------------------------------------------------- 2. bad input

@pytest.fixture(scope="module")
def victim(env):
    v = start_vm(env, "victim", procs=5)
    yield v
    stop_vm(v)


def refused(vm, *args, msg=None):
    pid = vm.desc["qemu_pid"]
    up = agent_alive(vm)
    p = vm.vmt("split", vm.name, *args, check=False, timeout=300)
    assert p.returncode == 1, (p.returncode, p.stderr)
    if msg:
        assert msg in p.stderr, p.stderr
    d = vm.desc
    assert d["qemu_pid"] == pid and d["state"] == "running" and "split" not in d
    assert agent_alive(vm) > up
    assert not os.path.exists(os.path.join(d["dir"], "pagetable"))
    assert not [f for f in os.listdir("/dev/shm") if f.startswith(f"vmt-{vm.name}.split")]
    return p


def qmp_ignore_shared(vm):
    """The source's x-ignore-shared migration capability, through its QMP socket."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(vm.desc["qmp_sock"])
        f = s.makefile("rwb")

        def ask(cmd):
            f.write(json.dumps({"execute": cmd}).encode() + b"\n")
            f.flush()
            while True:
                m = json.loads(f.readline())
                if "return" in m or "error" in m:
                    return m

        json.loads(f.readline())  # greeting
        ask("qmp_capabilities")
        caps = ask("query-migrate-capabilities")["return"]
    return [c["state"] for c in caps if c["capability"] == "x-ignore-shared"][0]


@pytest.mark.parametrize("args", [("--fetch", "bogus"), ("--fetch-chunk", "3K"),
                                  ("--fetch-chunk", "4M")])
def test_bad_fetch_defaults_are_usage_errors(victim, hosts, args):
    pid = victim.desc["qemu_pid"]
    p = victim.vmt("split", victim.name, "--main-mem", "160M", "--subhosts", "sub1",
                   "--hosts-prefix", hosts, *args, check=False)
    assert p.returncode == 2 and args[0] in p.stderr, p.stderr
    assert victim.desc["qemu_pid"] == pid and "split" not in victim.desc


def test_refuse_main_mem_above_vm(victim, hosts):
    refused(victim, "--main-mem", "1G", "--subhosts", "sub1", "--hosts-prefix", hosts,
            msg="more than the VM")


def test_refuse_main_mem_below_core(victim, hosts):
    """Found once the source stopped (the core is read from the stopped guest): undo."""
    refused(victim, "--main-mem", "8M", "--subhosts", "sub1,sub2", "--hosts-prefix", hosts,
            msg="kernel's core")


def test_refuse_no_key(victim, nbdkits, env, keydir):
    refused(victim, "--main-mem", "160M", "--subhosts", nbdkits(make_key(env, keydir, "a.key")),
            msg="--psk")


def test_refuse_closed_port(env, victim, keydir):
    key = make_key(env, keydir, "a.key")
    refused(victim, "--main-mem", "160M", "--subhosts", f"127.0.0.1:{free_port()}",
            "--psk", key, msg="does not answer")


def test_refuse_wrong_key(env, victim, keydir, nbdkits):
    addr = nbdkits(make_key(env, keydir, "a.key"))
    refused(victim, "--main-mem", "160M", "--subhosts", addr, "--psk",
            make_key(env, keydir, "b.key"), msg="key")
    refused(victim, "--main-mem", "160M", "--subhosts", addr, "--insecure")


def test_refuse_no_room(env, victim, keydir, nbdkits):
    key = make_key(env, keydir, "a.key")
    refused(victim, "--main-mem", "160M", "--subhosts", nbdkits(key, "1M"), "--psk", key,
            msg="lacks room")


def test_refuse_no_room_after_stop(env, victim):
    """Room runs out once the source stopped: undo, and the source continues."""
    vmt(env, "hosts", "up", "--prefix", TINY_PREFIX, "--subhosts", "2", "--capacity", "4M")
    try:
        refused(victim, "--main-mem", "64M", "--subhosts", "sub1,sub2", "--hosts-prefix",
                TINY_PREFIX, "--policy", "address", msg="sub-hosts lack room")
        # the undo leaves no migration setting behind on the source
        assert qmp_ignore_shared(victim) is False
        show = json.loads(vmt(env, "hosts", "show", "--prefix", TINY_PREFIX, "--json").stdout)
        assert not [e for s in show["subhosts"] for e in s["exports"]]  # stopped again
    finally:
        vmt(env, "hosts", "down", "--prefix", TINY_PREFIX, check=False)


def test_interrupt_mid_copy(env, victim):
    """Ctrl-C while chunks are on the wire (slow links): undo, the source continues."""
    prefix = "i" + SESSION_TAG[1:7]
    vmt(env, "hosts", "up", "--prefix", prefix, "--subhosts", "2", "--link", "10mbit",
        "--capacity", "1G")
    try:
        pid, up = victim.desc["qemu_pid"], agent_alive(victim)
        p = subprocess.Popen([VMT, "split", victim.name, "--main-mem", "64M", "--subhosts",
                              "sub1,sub2", "--hosts-prefix", prefix, "--policy", "address"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        # The copy has begun once the new memory file exists.
        new = f"/dev/shm/vmt-{victim.name}.split1.ram"
        deadline = time.monotonic() + 60
        while not os.path.exists(new) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 1 and "interrupted" in err, (p.returncode, err)
        d = victim.desc
        assert d["qemu_pid"] == pid and d["state"] == "running" and "split" not in d
        assert agent_alive(victim) > up
        assert not os.path.exists(new)
        assert not os.path.exists(os.path.join(d["dir"], "pagetable"))
        show = json.loads(vmt(env, "hosts", "show", "--prefix", prefix, "--json").stdout)
        assert not [e for s in show["subhosts"] for e in s["exports"]]
    finally:
        vmt(env, "hosts", "down", "--prefix", prefix, check=False)


# ------------------------------------------- 3. a QEMU started by hand

class HandQemu:
    """QEMU as an operator starts it: -daemonize, -pidfile, a serial log file."""

    def __init__(self, share):
        self.dir = tempfile.mkdtemp(prefix="vmt-hand-")
        self.mem = f"/dev/shm/{SESSION_TAG}-hand-{os.path.basename(self.dir)}.ram"
        self.qmp = os.path.join(self.dir, "qmp.sock")
        self.agent = os.path.join(self.dir, "agent.sock")
        self.log = os.path.join(self.dir, "console.log")
        self.pidfile = os.path.join(self.dir, "qemu.pid")
        subprocess.run(
            [os.environ.get("VMT_QEMU", "qemu-system-x86_64"), "-machine",
             "pc,memory-backend=ram0", "-accel", "tcg", "-cpu", "qemu64", "-m", "512M",
             "-object", f"memory-backend-file,id=ram0,size=512M,mem-path={self.mem}"
             f",share={'on' if share else 'off'}",
             "-kernel", os.path.join(GUEST, "vmlinuz"),
             "-initrd", os.path.join(GUEST, "initramfs.cpio.gz"),
             "-append", "console=ttyS0 panic=-1 vmt.nproc=5", "-display", "none",
             "-monitor", "none", "-parallel", "none", "-no-reboot",
             "-serial", f"file:{self.log}",
             "-serial", f"unix:{self.agent},server=on,wait=off",
             "-qmp", f"unix:{self.qmp},server=on,wait=off",
             "-daemonize", "-pidfile", self.pidfile],
            check=True, timeout=60)
        with open(self.pidfile) as f:
            self.pid = int(f.read())

    def alive(self):
        """Running (a zombie waiting for a reaper that is not us counts as gone)."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def cleanup(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        if os.path.exists(self.mem):
            os.unlink(self.mem)
        shutil.rmtree(self.dir, ignore_errors=True)


def adopt(env, name, q):
    vm = Vm(f"{SESSION_TAG}-{name}", env)
    vm.vmt("vm", "adopt", vm.name, "--qmp", q.qmp, "--agent", q.agent)
    # Booted when the agent answers (wait up to 4 min under TCG).
    vm.guest("true", timeout=240)
    return vm


def test_adopt_and_split_hand_started(env, hosts):
    q = HandQemu(share=True)
    vm = None
    try:
        vm = adopt(env, "hand", q)
        d = vm.desc
        assert d["qemu_pid"] == q.pid and d["adopted"] and d["mem_path"] == q.mem
        assert d["console_log"] == q.log
        with open(q.log, "rb") as f:
            log0 = f.read()
        assert b"Linux version" in log0
        up = agent_alive(vm)
        p = vm.vmt("split", vm.name, "--main-mem", "160M", "--subhosts", "sub1,sub2",
                   "--hosts-prefix", hosts, "--json", timeout=300)
        summary = json.loads(p.stdout)
        vm.vmt("vm", "pause", vm.name)
        check_census(vm, summary)
        vm.vmt("vm", "resume", vm.name)
        assert agent_alive(vm) > up
        assert not q.alive() and not os.path.exists(q.mem)
        d = vm.desc
        assert d["qemu_pid"] != q.pid and d["console_log"] != q.log
        with open(q.log, "rb") as f:
            assert f.read().startswith(log0)  # the source's log was not truncated
        vm.vmt("vm", "stop", vm.name)
        assert not os.path.exists(d["mem_path"])
    finally:
        if vm:
            stop_vm(vm)
        q.cleanup()


def test_refuse_ram_not_shared(env):
    q = HandQemu(share=False)
    vm = None
    try:
        vm = adopt(env, "private", q)
        up = agent_alive(vm)
        p = vm.vmt("split", vm.name, "--main-mem", "160M", "--subhosts", "127.0.0.1:1",
                   "--insecure", check=False)
        assert p.returncode == 1 and "not shared" in p.stderr, p.stderr
        assert q.alive() and vm.desc["qemu_pid"] == q.pid
        assert agent_alive(vm) > up
    finally:
        if vm:
            stop_vm(vm)
        q.cleanup()
