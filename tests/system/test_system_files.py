"""The shadow /proc's system-wide files (src/procfs/render_system.c) against
the guest's own, read through the in-guest agent.

sysfiles_dump builds the files with pfs_system_fill from the guest's memory.
It runs before and after the guest reads its own files, so a counter that
only grows (CPU times, interrupts, context switches, forks) must lie between
the two shadow reads; values that move both ways (MemFree, loadavg) are
compared loosely, everything else byte for byte.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import BUILD, GUEST, SESSION_TAG, Vm, start_vm, stop_vm

DUMP = os.path.join(BUILD, "tests", "unit", "sysfiles_dump")

EXACT = ["sys/kernel/pid_max", "sys/kernel/osrelease", "sys/kernel/ngroups_max",
         "sys/kernel/ostype", "sys/kernel/version", "sys/kernel/hostname",
         "sys/kernel/domainname", "sys/kernel/threads-max", "sys/kernel/cap_last_cap",
         "sys/kernel/randomize_va_space", "sys/kernel/kptr_restrict",
         "sys/kernel/dmesg_restrict", "sys/kernel/panic",
         "tty/drivers", "cmdline", "filesystems"]
OPTIONAL_EXACT = ["mounts", "1/mountinfo", "net/sockstat", "net/sockstat6", "cpuinfo", "locks"]
POINTERS = ["net/raw", "net/raw6", "net/packet"]
LOOSE = ["stat", "softirqs", "interrupts", "loadavg", "meminfo", "vmstat", "net/netlink", "net/dev", "net/snmp",
         "net/netstat"]
ALL = EXACT + OPTIONAL_EXACT + POINTERS + LOOSE

# Sockets for net/raw, raw6 and packet: ping and ping6 (raw ICMP) and udhcpc on lo
# (AF_PACKET), each bounded (60 tries 5 s apart) and gone with the VM.
SOCKETS = ("(ping -i 5 -c 60 127.0.0.1 >/dev/null 2>&1 &); "
           "(ping6 -i 5 -c 60 ::1 >/dev/null 2>&1 &); "
           "(udhcpc -i lo -f -t 60 -T 5 >/dev/null 2>&1 &); sleep 1")


def shadow(vm, paths):
    """{path: text or None} of the shadow /proc built from the guest's memory."""
    d = vm.desc
    p = subprocess.run([DUMP, d["mem_path"], d["kernel"], str(d["mem_bytes"]), *paths],
                       env=vm.env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    out, files, pos = p.stdout, {}, 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        _, path, n = out[pos:end].decode().split(" ")
        pos = end + 1
        if int(n) < 0:
            files[path] = None
            continue
        files[path] = out[pos:pos + int(n)].decode()
        pos += int(n)
    return files


def guest_files(vm, paths):
    script = "; ".join(f"echo '== {p}'; cat /proc/{p}" for p in paths)
    out = vm.guest(script)
    files, cur = {}, None
    for line in out.splitlines(keepends=True):
        m = re.match(r"== (\S+)\n", line)
        if m and m.group(1) in paths:
            cur = m.group(1)
            files[cur] = ""
        elif cur:
            files[cur] += line
    return files


def start_smp_vm(env):
    """A 2-CPU guest (vmt vm start makes 1-CPU ones): QEMU by hand, then adopted."""
    name = f"{SESSION_TAG}-sysfiles-smp"
    d = tempfile.mkdtemp(prefix="vmt-sysfiles-smp-", dir=env["VMT_RUN_DIR"])
    mem = f"/dev/shm/vmt-{name}.ram"
    subprocess.run(
        [os.environ.get("VMT_QEMU", "qemu-system-x86_64"), "-machine", "pc,memory-backend=ram0",
         "-accel", "tcg", "-cpu", "qemu64", "-smp", "2", "-m", "512M",
         "-object", f"memory-backend-file,id=ram0,size=512M,mem-path={mem},share=on",
         "-kernel", os.path.join(GUEST, "vmlinuz"),
         "-initrd", os.path.join(GUEST, "initramfs.cpio.gz"),
         "-append", "console=ttyS0 panic=-1 vmt.nproc=20", "-display", "none",
         "-monitor", "none", "-no-reboot", "-serial", f"file:{d}/console.log",
         "-serial", f"unix:{d}/agent.sock,server=on,wait=off",
         "-qmp", f"unix:{d}/qmp.sock,server=on,wait=off",
         "-daemonize", "-pidfile", f"{d}/qemu.pid"],
        check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    vm = Vm(name, env)
    vm.qemu_pid, vm.mem_file, vm.tmp = int(open(f"{d}/qemu.pid").read()), mem, d
    try:
        vm.vmt("vm", "adopt", name, "--qmp", f"{d}/qmp.sock", "--agent", f"{d}/agent.sock")
        vm.guest("i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 900 ]; do "
                 "sleep 0.2; i=$((i+1)); done; test -e /run/vmt-workload.ready", timeout=240)
    except BaseException:
        stop_smp_vm(vm)
        raise
    return vm


def stop_smp_vm(vm):
    stop_vm(vm)
    try:  # only if that pid is still this VM's QEMU
        with open(f"/proc/{vm.qemu_pid}/cmdline", "rb") as f:
            if vm.mem_file.encode() in f.read():
                os.kill(vm.qemu_pid, signal.SIGKILL)
    except OSError:
        pass
    if os.path.exists(vm.mem_file):
        os.unlink(vm.mem_file)
    shutil.rmtree(vm.tmp, ignore_errors=True)


@pytest.fixture(scope="module", params=["up", "smp"])
def vm(env, request):
    """A small 1-CPU guest, then a 2-CPU one (per-CPU areas, CPU masks, siblings).
    VMT_TEST_VM=NAME reuses a running guest instead (development)."""
    name = os.environ.get("VMT_TEST_VM")
    if name:
        if request.param == "smp":
            pytest.skip("VMT_TEST_VM given")
        yield Vm(name, dict(os.environ))
        return
    if request.param == "up":
        v = start_vm(env, "sysfiles", procs=20)
        yield v
        stop_vm(v)
    else:
        v = start_smp_vm(env)
        yield v
        stop_smp_vm(v)


@pytest.fixture(scope="module")
def reads(vm):
    vm.guest(SOCKETS, timeout=60)
    before = shadow(vm, ALL)
    truth = guest_files(vm, ALL)
    after = shadow(vm, ALL)
    return before, truth, after


def between(lo, mid, hi, what, slack=0):
    assert lo - slack <= mid <= hi + slack, f"{what}: guest {mid} not in [{lo}, {hi}]"


@pytest.mark.parametrize("path", EXACT)
def test_exact_files(reads, path):
    before, truth, after = reads
    assert before[path] is not None, f"{path} missing from the shadow /proc"
    assert truth[path] in (before[path], after[path])


@pytest.mark.parametrize("path", OPTIONAL_EXACT)
def test_exact_optional_files(reads, path):
    before, truth, after = reads
    if before[path] is None:
        pytest.skip(f"{path} not built yet")
    assert truth[path] in (before[path], after[path])


@pytest.mark.parametrize("path", POINTERS)
def test_raw_and_packet(reads, path):
    """Every field but the socket's address (the guest prints it hashed)."""
    ptr = re.compile(r"\(____ptrval____\)|\b[0-9a-f]{16}\b")
    before, truth, after = (ptr.sub("PTR", r[path]) for r in reads)
    assert len(truth.splitlines()) >= 2, f"no socket in the guest's {path}"
    assert truth in (before, after)


def _stat(text):
    return {line.split()[0]: [int(x) for x in line.split()[1:]] for line in text.splitlines()}


def test_stat(reads):
    before, truth, after = (_stat(r["stat"]) for r in reads)
    assert list(truth) == list(before) == list(after), "lines differ"
    for key, vals in truth.items():
        assert len(vals) == len(before[key]), f"{key}: {len(before[key])} fields"
        if key == "btime":
            assert before[key] == vals
            continue
        if key in ("procs_running", "procs_blocked"):
            continue
        for i, v in enumerate(vals):
            # idle is computed with the clock of the guest's last tick: a
            # NO_HZ-idle CPU may show up to a second less (100 USER_HZ).
            slack = 100 if key.startswith("cpu") and i == 3 else 0
            between(before[key][i], v, after[key][i], f"{key}[{i}]", slack)


def test_softirqs(reads):
    before, truth, after = (r["softirqs"].splitlines() for r in reads)
    assert before[0] == truth[0], "CPU header differs"
    assert [x.split(":")[0] for x in before] == [x.split(":")[0] for x in truth]
    for b, t, a in zip(before[1:], truth[1:], after[1:]):
        rows = [[int(v) for v in line.split(":")[1].split()] for line in (b, t, a)]
        for j, (x, y, z) in enumerate(zip(*rows)):
            between(x, y, z, f"{t.split(':')[0].strip()}[{j}]")


def test_interrupts(reads):
    """Each line's label, chip, hwirq, flow and actions exactly; counts between reads."""
    before, truth, after = (r["interrupts"].splitlines() for r in reads)
    assert before[0] == truth[0], "CPU header differs"
    assert len(before) == len(truth) == len(after)
    ncpu = len(truth[0].split())
    for b, t, a in zip(before[1:], truth[1:], after[1:]):
        fb, ft, fa = b.split(), t.split(), a.split()
        assert fb[0] == ft[0] and fb[1 + ncpu:] == ft[1 + ncpu:], f"{b!r} / {t!r}"
        n = 1 if ft[0] in ("ERR:", "MIS:") else ncpu
        for j in range(1, 1 + n):
            between(int(fb[j]), int(ft[j]), int(fa[j]), f"{ft[0]}[{j}]")


def test_loadavg(reads):
    before, truth, after = (r["loadavg"].split() for r in reads)
    for i in range(3):
        assert abs(float(before[i]) - float(truth[i])) < 1.0
    running, threads = (int(x) for x in truth[3].split("/"))
    assert abs(int(before[3].split("/")[1]) - threads) <= 5
    between(int(before[4]), int(truth[4]), int(after[4]), "last pid")


def _meminfo(text):
    return [(line.split(":")[0], int(line.split()[1])) for line in text.splitlines()]


MEM_EXACT = {"MemTotal", "SwapTotal", "SwapFree", "CommitLimit", "VmallocTotal", "VmallocChunk",
             "NFS_Unstable", "Bounce", "HugePages_Total", "HugePages_Free", "Hugepagesize",
             "Hugetlb", "DirectMap4k", "DirectMap2M", "DirectMap1G", "Percpu"}


def test_meminfo(reads):
    before, truth, after = (_meminfo(r["meminfo"]) for r in reads)
    assert [k for k, _ in before] == [k for k, _ in truth], "lines differ"
    assert all(re.match(r"^\S+:\s+\d+( kB)?$", line) for line in reads[0]["meminfo"].splitlines())
    for (k, b), (_, t), (_, a) in zip(before, truth, after):
        if k in MEM_EXACT:
            assert t in (b, a), f"{k}: guest {t}, shadow {b}"
        else:
            # the agent's own shell and cat come and go: a few MB
            assert abs(t - b) <= 8192 or abs(t - a) <= 8192, f"{k}: guest {t}, shadow {b}"


def test_vmstat(reads):
    before, truth, after = ([(line.split()[0], int(line.split()[1]))
                             for line in r["vmstat"].splitlines()] for r in reads)
    assert [k for k, _ in before] == [k for k, _ in truth], "lines differ"
    events = False
    for (k, b), (_, t), (_, a) in zip(before, truth, after):
        events = events or k == "pgpgin"  # the VM event counters only grow
        if events:
            between(b, t, a, k)
        else:  # page counts: the agent's shell and cat come and go
            assert abs(t - b) <= 4096 or abs(t - a) <= 4096, f"{k}: guest {t}, shadow {b}"


@pytest.mark.parametrize("path", ["net/snmp", "net/netstat"])
def test_snmp(reads, path):
    """Names exactly; each counter between the two shadow reads."""
    before, truth, after = (r[path].splitlines() for r in reads)
    assert len(before) == len(truth) == len(after)
    for i, (b, t, a) in enumerate(zip(before, truth, after)):
        if i % 2 == 0:
            assert b == t, f"names differ: {b!r} / {t!r}"
            continue
        prefix = t.split(":")[0]
        rows = [[int(v) for v in line.split()[1:]] for line in (b, t, a)]
        for j, (x, y, z) in enumerate(zip(*rows)):
            between(min(x, z), y, max(x, z), f"{prefix}[{j}]")


def test_netlink(reads):
    before, truth, _ = reads
    if before["net/netlink"] is None:
        pytest.skip("net/netlink not built yet")
    # the sk column is a hashed pointer in the guest: compare the rest
    cut = [[line.split()[1:] for line in r["net/netlink"].splitlines()[1:]]
           for r in (before, truth)]
    assert cut[0] == cut[1]
    assert before["net/netlink"].splitlines()[0] == truth["net/netlink"].splitlines()[0]


def test_net_dev(reads):
    """Header and interfaces exactly; the loopback's counters (per-CPU lstats)
    between the two shadow reads.  dummy0's driver keeps its own counters,
    which are not modelled."""
    before, truth, after = (r["net/dev"].splitlines() for r in reads)
    assert truth[:2] == before[:2]
    assert [x.split(":")[0] for x in before[2:]] == [x.split(":")[0] for x in truth[2:]]
    lo = [[int(v) for v in next(x for x in r if x.strip().startswith("lo:")).split(":")[1].split()]
          for r in (before, truth, after)]
    for j, (x, y, z) in enumerate(zip(*lo)):
        between(x, y, z, f"lo[{j}]")
