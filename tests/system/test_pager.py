"""The pager (libvmt-pager.so) proven without and with QEMU.

1. pager_harness (tests/pager) plays QEMU: it maps a tmpfs memory file
   shared with the pager preloaded, and several threads read and write
   pages whose data starts partly on an nbdkit sub-host (TLS-PSK, file
   plugin on a file), checking every byte; the cap forces thousands of
   page-in/page-out cycles; the memory file's blocks and the table's MAIN
   count are sampled against the cap.  Also with the sub-host killed and
   restarted with the same data mid-run, and with PAGEIN over the socket.
2. Stock qemu-system-x86_64 with the pager preloaded, every chunk ABSENT,
   a 160M cap on a 512M guest and one nbdkit sub-host: the guest boots,
   faults in as zeros, is paged out under the cap, and the in-guest memory
   checker finds its data intact through page-outs and page-ins, and
   through an outage of the sub-host (killed, restarted with its data).
"""
import errno
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
import uuid

import pytest

from pagetable import pt_entries

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VMT_BUILD_DIR", os.path.join(REPO, "build"))
VMT = os.path.join(BUILD, "src", "vmt", "vmt")
PAGER = os.path.join(BUILD, "src", "pager", "libvmt-pager.so")
HARNESS = os.path.join(BUILD, "tests", "pager", "pager_harness")
GUEST = os.environ.get("VMT_GUEST_DIR", os.path.join(BUILD, "guest"))
TAG = "vmtpg" + uuid.uuid4().hex[:6]

MAGIC, VERSION = 0x56504752, 1
PING, PAGEIN, STATS, HINT = 1, 2, 3, 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nbdkit:
    """nbdkit's file plugin on a file, TLS-PSK required, on 127.0.0.1."""

    def __init__(self, store, psk, port):
        self.store, self.psk, self.port, self.proc = store, psk, port, None

    def start(self):
        self.proc = subprocess.Popen(
            ["nbdkit", "-f", "--exit-with-parent", "-i", "127.0.0.1", "-p", str(self.port),
             "--tls=require", f"--tls-psk={self.psk}", "file", self.store],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):  # up when it accepts
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nbdkit did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def frame(op, ranges=(), timeout_ms=0):
    return (struct.pack("<IHHII", MAGIC, VERSION, op, len(ranges), timeout_ms) +
            b"".join(struct.pack("<QQ", o, n) for o, n in ranges))


def pager_req(path, op, ranges=(), timeout_ms=0, conn=None):
    """One request on the pager's socket (a new connection, or conn); (status, value, payload)."""
    if conn is None:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(60)
            s.connect(path)
            return pager_req(path, op, ranges, timeout_ms, s)
    s = conn
    s.sendall(frame(op, ranges, timeout_ms))
    hdr = b""
    while len(hdr) < 24:
        chunk = s.recv(24 - len(hdr))
        assert chunk, "pager closed the socket"
        hdr += chunk
    magic, _ver, _op, status, length, value = struct.unpack("<IHHiIQ", hdr)
    assert magic == MAGIC
    data = b""
    while len(data) < length:
        chunk = s.recv(length - len(data))
        assert chunk
        data += chunk
    return status, value, data


@pytest.fixture
def work():
    if not os.path.exists(PAGER) or not os.path.exists(HARNESS):
        pytest.skip("pager not built")
    d = tempfile.mkdtemp(prefix="vmt-pager-")
    psk = os.path.join(d, "psk.keys")
    subprocess.run(["psktool", "-u", "vmt", "-p", psk], check=True, capture_output=True)
    os.chmod(psk, 0o600)
    ctx = {"dir": d, "psk": psk, "mem": f"/dev/shm/{TAG}-{uuid.uuid4().hex[:6]}.ram",
           "kits": [], "procs": []}
    yield ctx
    for p in ctx["procs"]:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    for k in ctx["kits"]:
        k.kill()
    if os.path.exists(ctx["mem"]):
        os.unlink(ctx["mem"])
    shutil.rmtree(d, ignore_errors=True)


def write_conf(ctx, cap, policy="clock", tail="after"):
    d = ctx["dir"]
    conf = os.path.join(d, "pager.conf")
    with open(conf, "w") as f:
        f.write(f"# test\nmem={ctx['mem']}\npagetable={d}/pagetable\nsocket={d}/pager.sock\n"
                f"log={d}/pager.log\npsk={ctx['psk']}\ncap={cap}\npolicy={policy}\n"
                f"tail={tail}\n")
    return conf


def harness_setup(ctx, ram, chunk, cap):
    port = free_port()
    store = os.path.join(ctx["dir"], "store")
    subprocess.run([HARNESS, "setup", ctx["mem"], os.path.join(ctx["dir"], "pagetable"), store,
                    ram, chunk, cap, f"127.0.0.1:{port}"], check=True, timeout=120)
    kit = Nbdkit(store, ctx["psk"], port)
    ctx["kits"].append(kit)
    kit.start()
    return kit


def harness_run(ctx, conf, threads, ops, seconds):
    env = dict(os.environ, LD_PRELOAD=PAGER, VMT_PAGER_CONF=conf)
    d = ctx["dir"]
    p = subprocess.Popen([HARNESS, "run", ctx["mem"], f"{d}/pagetable", f"{d}/pager.sock",
                          str(threads), str(ops), str(seconds)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx["procs"].append(p)
    return p


def harness_result(ctx, p, timeout):
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:  # hung: never leave it behind
            p.kill()
            p.wait(10)
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    log = open(os.path.join(ctx["dir"], "pager.log")).read()
    assert p.returncode == 0, f"harness exit {p.returncode}: {out} {err}\n{log[-3000:]}"
    res, stats = lines[0], lines[1]
    assert res["mismatches"] == 0
    assert res["max_resident_bytes"] <= res["cap_bytes"]
    assert res["max_main_chunks"] <= res["cap_chunks"]
    assert res["samples"] > 10
    return res, stats, log


@pytest.mark.parametrize("chunk,policy,tail", [("4K", "clock", "after"), ("64K", "fifo", "after"),
                                               ("64K", "address", "parallel")])
def test_harness_paging_under_cap(work, chunk, policy, tail):
    harness_setup(work, "32M", chunk, "4M")
    conf = write_conf(work, "4M", policy, tail)
    p = harness_run(work, conf, threads=3, ops=6000, seconds=60)
    res, st, _ = harness_result(work, p, 180)
    # thousands of cycles, both kinds of page-out, no error
    assert st["pageins"] >= 2000, st
    assert st["pageouts"] + st["pageouts_skipped_clean"] >= 1000, st
    assert st["zero_fills"] > 0 and st["wp_faults"] > 0, st
    assert st["errors"] == 0, st
    assert st["resident_chunks"] <= st["cap_chunks"]


def test_harness_subhost_killed_and_restarted(work):
    kit = harness_setup(work, "32M", "16K", "4M")
    conf = write_conf(work, "4M")
    p = harness_run(work, conf, threads=3, ops=1_000_000, seconds=14)
    time.sleep(4)
    assert p.poll() is None
    kit.kill()
    # PAGEIN of all of RAM (mostly on the sub-host) gives up at its timeout
    sock = os.path.join(work["dir"], "pager.sock")
    status, _, _ = pager_req(sock, PAGEIN, [(0, 32 << 20)], timeout_ms=800)
    assert status == -errno.ETIMEDOUT
    time.sleep(2)  # the touchers wait: nothing may be installed meanwhile
    assert p.poll() is None
    kit.start()
    res, st, log = harness_result(work, p, 240)
    assert st["retries"] > 0, st  # it noticed, and went on
    assert "fetch from sub-host 0" in log or "page-out write" in log
    assert res["ops"] > 1000


def test_harness_quit_while_subhost_down(work):
    # page 2 * 16K / 4K = chunk 2: on the sub-host, which is down when the process exits
    kit = harness_setup(work, "1M", "16K", "0")
    kit.kill()
    conf = write_conf(work, "0")
    d = work["dir"]
    env = dict(os.environ, LD_PRELOAD=PAGER, VMT_PAGER_CONF=conf)
    r = subprocess.run([HARNESS, "quit", work["mem"], f"{d}/pagetable", "9"], env=env,
                       capture_output=True, text=True, timeout=60)
    log = open(os.path.join(d, "pager.log")).read()
    assert r.returncode == 0, f"{r.stdout} {r.stderr}\n{log[-3000:]}"
    # the page-in that quit did not happen: the chunk stays on the sub-host (2), not MAIN (1)
    assert json.loads(r.stdout.splitlines()[-1])["loc"] == 2, log[-3000:]


def harness_with_socket(work):
    """A 16 MiB harness (64K chunks, 8M cap) for commands: (process, its socket's path)."""
    harness_setup(work, "16M", "64K", "8M")
    conf = write_conf(work, "8M")
    p = harness_run(work, conf, threads=1, ops=10**9, seconds=6)
    sock = os.path.join(work["dir"], "pager.sock")
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return p, sock


def test_pagein_command(work):
    p, sock = harness_with_socket(work)
    try:
        status, value, _ = pager_req(sock, PING)
        assert status == 0 and value == p.pid
        # chunks 2..5 and 10..13 start on the sub-host (i % 8 in 2..7)
        status, value, _ = pager_req(sock, PAGEIN, [(2 << 16, 4 << 16), (10 << 16, 4 << 16)])
        assert status == 0 and value >= 1
        status, _, data = pager_req(sock, STATS)
        st = json.loads(data)
        assert st["pagein_cmds"] == 1 and st["pageins"] >= value
        assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
        # a malformed frame is refused
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            s.sendall(struct.pack("<IHHII", 0xdead, 1, 1, 0, 0))
            assert struct.unpack("<IHHiIQ", s.recv(24))[3] < 0
    finally:
        harness_result(work, p, 120)


def sub_chunks(path, skip):
    """Chunks of a page table file that are on a sub-host and not moving, minus skip."""
    return [i for i, e in enumerate(pt_entries(path))
            if (e & 0xff) >= 2 and not (e >> 24) & 1 and i not in skip]


def test_pageins_one_after_another(work):
    """PAGEINs one after another on one connection, each of a chunk on the
    sub-host, with a pause between them (a listing's walk decodes between its
    PAGEINs): every one is answered.  A client stream that kept state from
    one request to the next (tried, not kept: it counted a new stream's reads
    on from the last one's) left a read unsent: the PAGEIN waited for its
    timeout, and the chunk stayed in motion for good, the guest's faults on
    it with it."""
    p, sock = harness_with_socket(work)
    asked = set()
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(60)
            s.connect(sock)
            for _ in range(12):
                time.sleep(0.02)  # a listing's walk decodes between its PAGEINs
                left = sub_chunks(os.path.join(work["dir"], "pagetable"), asked)
                if not left:
                    break
                asked.add(left[0])
                status, _, _ = pager_req(sock, PAGEIN, [(left[0] << 16, 1 << 16)],
                                         timeout_ms=3000, conn=s)
                assert status == 0, (left[0], status)
        st = json.loads(pager_req(sock, STATS)[2])
        assert len(asked) >= 6 and st["errors"] == 0, (asked, st)
    finally:
        harness_result(work, p, 120)


def test_hint_command(work):
    """HINTs get no reply, are paged in while the client is quiet, and keep the frames in step."""
    p, sock = harness_with_socket(work)
    try:
        # chunks 2..5 and 10..13 start on the sub-host (i % 8 in 2..7)
        hinted = [(2 << 16, 4 << 16), (10 << 16, 4 << 16)]
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(60)
            s.connect(sock)
            s.sendall(frame(HINT, hinted))
            # the next reply on this connection is the PING's: a HINT has none
            status, value, _ = pager_req(sock, PING, conn=s)
            assert status == 0 and value == p.pid
            st = {}
            for _ in range(100):  # paged in while the client says nothing (bounded wait)
                st = json.loads(pager_req(sock, STATS)[2])
                if st["hint_chunks"]:
                    break
                time.sleep(0.05)
            assert st["hint_chunks"] >= 1 and st["pageins"] >= st["hint_chunks"], st
            # what the hints brought is resident: a PAGEIN of it on the same connection
            # answers at once, in step
            status, _, _ = pager_req(sock, PAGEIN, hinted, conn=s)
            assert status == 0
            s.sendall(frame(HINT))  # n = 0: forget; still no reply
            status, value, _ = pager_req(sock, PING, conn=s)
            assert status == 0 and value == p.pid
            # more ranges than a frame may carry: refused, and the connection closed
            s.sendall(struct.pack("<IHHII", MAGIC, VERSION, HINT, 4097, 0))
            assert struct.unpack("<IHHiIQ", s.recv(24))[3] < 0
            assert s.recv(1) == b""
    finally:
        harness_result(work, p, 120)


def test_pager_holds_mem_lock(work):
    """The pager holds the memory file's exclusive flock while it has the mapping
    registered, so that a reader that maps the file (vmt --mem FILE, memsrc/file.c:
    LOCK_SH for a listing) reads with pread instead of faulting punched pages back.
    It waits for a listing's lock (here 1 s), and refuses to page after 5 s."""
    import fcntl
    harness_setup(work, "16M", "64K", "8M")
    conf = write_conf(work, "8M")
    sock = os.path.join(work["dir"], "pager.sock")
    reader = os.open(work["mem"], os.O_RDONLY)
    try:
        fcntl.flock(reader, fcntl.LOCK_SH)  # a listing in progress
        p = harness_run(work, conf, threads=1, ops=10**9, seconds=6)
        time.sleep(1)
        assert p.poll() is None and not os.path.exists(sock)  # waiting for the lock
        fcntl.flock(reader, fcntl.LOCK_UN)
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        assert os.path.exists(sock)
        with pytest.raises(BlockingIOError):  # registered: the next listing cannot lock
            fcntl.flock(reader, fcntl.LOCK_SH | fcntl.LOCK_NB)
        harness_result(work, p, 120)
        fcntl.flock(reader, fcntl.LOCK_SH | fcntl.LOCK_NB)  # gone with the process
        # A reader that keeps it: the pager gives up after 5 s, saying why.
        p = harness_run(work, conf, threads=1, ops=10**9, seconds=6)
        try:
            p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        log = open(os.path.join(work["dir"], "pager.log")).read()
        assert p.returncode != 0 and "exclusive lock of the memory file" in log, log[-2000:]
    finally:
        os.close(reader)


def test_idle_clients_give_slots_back(work):
    # 8 clients (the most the pager serves) that connect and say nothing do not shut
    # out the next one for good: a client silent for 10 s is dropped
    harness_setup(work, "16M", "64K", "8M")
    conf = write_conf(work, "8M")
    p = harness_run(work, conf, threads=1, ops=10**9, seconds=18)
    sock = os.path.join(work["dir"], "pager.sock")
    idle = []
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        for _ in range(8):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            idle.append(s)
        time.sleep(12)
        status, value, _ = pager_req(sock, PING)
        assert status == 0 and value == p.pid
    finally:
        for s in idle:
            s.close()
        harness_result(work, p, 120)


# ------------------------------------------------------------------ QEMU

def vmt(env, *args, timeout=300, check=True):
    p = subprocess.run([VMT, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"vmt {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def guest(env, name, script, timeout=600):
    p = vmt(env, "vm", "exec", name, "--timeout", str(timeout), "--json", "--", script,
            timeout=timeout + 30)
    res = json.loads(p.stdout)
    assert res["exit_code"] == 0, f"guest script failed: {res}"
    return res["stdout"]


def test_qemu_with_pager(work):
    """Stock QEMU, the pager preloaded (as `vmt split` will start it, minus -incoming)."""
    if not os.path.exists(VMT) or not os.path.exists(os.path.join(GUEST, "vmlinuz")):
        pytest.skip("vmt or the guest not built")
    d = work["dir"]
    name = f"{TAG}-qemu"
    work["mem"] = f"/dev/shm/vmt-{name}.ram"  # where `vmt vm start` puts the RAM file
    port = free_port()
    store = os.path.join(d, "store")
    open(store, "wb").truncate(512 << 20)
    kit = Nbdkit(store, work["psk"], port)
    work["kits"].append(kit)
    kit.start()
    subprocess.run([HARNESS, "mktable", f"{d}/pagetable", "512M", "64K", "160M",
                    f"127.0.0.1:{port}"], check=True)
    conf = write_conf(work, "160M")
    run_dir = os.path.join(d, "run")
    os.makedirs(run_dir)
    env = dict(os.environ, VMT_RUN_DIR=run_dir, VMT_GUEST_DIR=GUEST,
               XDG_CACHE_HOME=os.path.join(d, "cache"))
    qenv = dict(env, LD_PRELOAD=PAGER, VMT_PAGER_CONF=conf)
    sock = f"{d}/pager.sock"
    try:
        vmt(qenv, "vm", "start", name, "--mem", "512M", "--procs", "4", "--timeout", "240",
            timeout=300)
        status, pid, _ = pager_req(sock, PING)
        assert status == 0 and pid != os.getpid()
        st = json.loads(pager_req(sock, STATS)[2])
        assert st["zero_fills"] > 0  # the guest booted on zero pages
        have_memcheck = "yes" in guest(env, name, "test -x /bin/vmt-memcheck && echo yes || true")
        # resident memory sampled while the guest works: never above the cap
        samples, stop = [], threading.Event()

        def sample():
            while not stop.is_set():
                st = json.loads(pager_req(sock, STATS)[2])
                samples.append((os.stat(work["mem"]).st_blocks * 512, st["resident_chunks"]))
                time.sleep(0.05)

        def outage():
            # once paging is under way: the sub-host dies, and comes back with its data
            base = json.loads(pager_req(sock, STATS)[2])["pageins"]
            for _ in range(600):
                if not worker.is_alive() or \
                        json.loads(pager_req(sock, STATS)[2])["pageins"] > base + 200:
                    break
                time.sleep(0.05)
            if worker.is_alive():
                kit.kill()
                time.sleep(3)
                kit.start()
                outages.append(1)

        def work_in_guest():
            try:
                if have_memcheck:
                    result.append(guest(env, name, "vmt-memcheck --size 240M --seconds 30 --json"))
                else:
                    result.append(guest(env, name,
                                        "dd if=/dev/urandom of=/dev/shm/x bs=1M count=240 "
                                        "2>/dev/null; md5sum /dev/shm/x; dd if=/dev/zero "
                                        "of=/dev/shm/y bs=1M count=100 2>/dev/null; "
                                        "rm /dev/shm/y; md5sum /dev/shm/x"))
            except BaseException as e:  # re-raised below
                result.append(e)

        outages, result = [], []
        sampler = threading.Thread(target=sample)
        worker = threading.Thread(target=work_in_guest)
        sampler.start()
        worker.start()
        try:
            # nbdkit is restarted from this thread: --exit-with-parent follows the thread
            if have_memcheck:
                outage()
            worker.join()
        finally:
            stop.set()
            sampler.join()
        if isinstance(result[0], BaseException):
            raise result[0]
        out = result[0]
        assert len(samples) > 10
        assert max(b for b, _ in samples) <= 160 << 20, max(samples)
        assert max(r for _, r in samples) <= (160 << 20) // (64 << 10)
        if have_memcheck:
            mc = json.loads(out)
            print("memcheck:", {k: mc.get(k) for k in ("pages_checked", "passes", "mismatches")},
                  "outage:", bool(outages))
            assert mc["mismatches"] == 0 and mc["pages_checked"] > 0, mc
        else:
            sums = [l.split()[0] for l in out.splitlines()]
            assert len(sums) == 2 and sums[0] == sums[1], out
        st = json.loads(pager_req(sock, STATS)[2])
        print("pager stats:", json.dumps(st))
        # it really paged: out under the cap and back in, and never above the cap
        assert st["pageouts"] > 100 and st["pageins"] > 100, st
        if outages:  # the guest waited through the outage, and its memory is intact
            assert st["retries"] > 0, st
        else:
            assert st["errors"] == 0, st
        assert st["resident_chunks"] <= st["cap_chunks"], st
        assert os.stat(work["mem"]).st_blocks * 512 <= 160 << 20
        assert "up" in guest(env, name, "cat /proc/uptime >/dev/null && echo up")
    finally:
        vmt(env, "vm", "stop", name, check=False, timeout=120)
        log = os.path.join(d, "pager.log")
        if os.path.exists(log):
            print(open(log).read()[-2000:])
