"""System calls under `vmt exec` (src/syscalls/): the process probes,
uname and sysinfo answered from the guest, compared with the guest's own
/proc through its agent; real signals to guest pids refused and never
delivered anywhere; the tool's own processes still its own; `ss` still
shows the guest's sockets with netlink sock_diag refused; --no-syscalls
gives the host's answers.  One VM for the module."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BUILD, VMT, start_vm, stop_vm
from truth import guest_inet_sockets

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse") or os.geteuid() != 0,
                                reason="needs root and /dev/fuse")

PROBE = os.path.join(BUILD, "tests", "system", "tools", "vmt-probe")
ESRCH, EPERM = 3, 1
NOPIDS = [99999, 4000000, 4194303]

# Every pid and thread id of the guest: the stat fields after "comm) " and Cpus_allowed.
PROBE_TRUTH = r"""
echo "ME $$"
cat /proc/sys/kernel/sched_rr_timeslice_ms 2>/dev/null | sed 's/^/RR /'
for d in /proc/[0-9]* /proc/[0-9]*/task/[0-9]*; do
  s=$(cat $d/stat 2>/dev/null) || continue
  c=$(grep '^Cpus_allowed:' $d/status 2>/dev/null)
  l=${d#/proc/}
  echo "P ${d##*/} ${l%%/*} ${c#*:}|${s##*) }"
done
"""


@pytest.fixture(scope="module")
def vm(env):
    v = start_vm(env, "sc", procs=20)
    yield v
    stop_vm(v)


def vexec(vm, *cmd, extra=(), check=True, timeout=300):
    p = subprocess.run([VMT, "exec", "--vm", vm.name, *extra, "--", *cmd], env=vm.env,
                       capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"vmt exec {' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    return p


def guest_probe_truth(vm):
    """{tid: {pgrp, sid, nice, rt, policy, cpus}}, the agent's pid, the RR slice in ms."""
    truth, me, rr_ms = {}, None, 100
    for line in vm.guest(PROBE_TRUTH).splitlines():
        if line.startswith("ME "):
            me = int(line[3:])
        elif line.startswith("RR "):
            rr_ms = int(line[3:])
        elif line.startswith("P "):
            head, stat = line[2:].split("|", 1)
            tid, leader, cpus = head.split()
            f = stat.split()  # field k of stat is f[k - 3]
            truth[int(tid)] = {"thread": tid != leader, "pgid": int(f[2]), "sid": int(f[3]), "prio": 20 - int(f[16]),
                               "param": int(f[37]), "sched": int(f[38]),
                               "aff": int(cpus.strip().replace(",", ""), 16)}
    return truth, me, rr_ms


def parse_probe(out):
    rows = {}
    for line in out.splitlines():
        f = line.split()
        rows[int(f[0])] = dict(kv.split("=") for kv in f[1:])
    return rows


@pytest.mark.parametrize("mode", [(), ("--lazy",)], ids=["snapshot", "lazy"])
def test_process_probes(vm, mode):
    """Lazy: most pid directories are filled for the first time by the probe's
    own questions (through the mount), and must answer the same."""
    truth, me, rr_ms = guest_probe_truth(vm)
    pids = sorted(truth) + NOPIDS
    rows = parse_probe(vexec(vm, PROBE, "pids", *map(str, pids), extra=mode).stdout)
    compared = threads = 0
    for pid in sorted(truth):
        r, t = rows[pid], truth[pid]
        if r["kill"] != "0":
            # Gone between the two views: only a kernel worker or the agent's own may be.
            assert pid >= me or r["kill"] == f"-{ESRCH}", f"pid {pid}: {r}"
            continue
        for key in ("pgid", "sid", "prio", "sched", "param"):
            assert int(r[key]) == t[key], f"pid {pid} {key}: probe {r[key]} guest {t[key]}"
        assert int(r["aff"], 16) == t["aff"], f"pid {pid} affinity {r['aff']} vs {t['aff']:x}"
        want_rr = rr_ms * 1000000 if t["sched"] == 2 else 0
        assert int(r["rr"]) == want_rr, f"pid {pid} rr {r['rr']}"
        compared += 1
        threads += t["thread"]
    assert compared >= 40
    assert threads >= 1, "no thread id was compared (the workload has a threaded process)"
    for pid in NOPIDS:
        assert set(rows[pid].values()) == {f"-{ESRCH}"}, f"pid {pid}: {rows[pid]}"


def test_refresh(vm):
    """With --refresh the supervisor pins whichever snapshot is current per call
    (pfs_server_snapshot_get/put across swaps and prunes)."""
    out = vexec(vm, "sh", "-c", f"for i in 1 2 3 4; do {PROBE} pids 1 2 99999; sleep 0.6; done",
                extra=("--refresh", "1")).stdout
    rows = [l.split() for l in out.splitlines()]
    assert len(rows) == 12
    for f in rows:
        want = f"kill=-{ESRCH}" if f[0] == "99999" else "kill=0"
        assert f[1] == want, out


def test_chrt_taskset(vm):
    """util-linux's chrt asks sched_getattr, taskset sched_getaffinity: the guest's."""
    truth, me, _ = guest_probe_truth(vm)
    names = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE"}
    pids = [p for p in sorted(truth) if p < me and not truth[p]["thread"]][:12]
    script = "; ".join(f"chrt -p {p}; taskset -p {p}" for p in pids)
    out = vexec(vm, "sh", "-c", script, check=False).stdout
    checked = 0
    for pid in pids:
        t = truth[pid]
        pol = re.search(rf"pid {pid}'s current scheduling policy: (\S+)", out)
        prio = re.search(rf"pid {pid}'s current scheduling priority: (\d+)", out)
        mask = re.search(rf"pid {pid}'s current affinity mask: (\S+)", out)
        if not pol:  # a kernel worker gone meanwhile
            continue
        assert pol.group(1).split("|")[0] == names.get(t["sched"]), f"pid {pid}: {out}"
        assert int(prio.group(1)) == t["param"], f"pid {pid}"
        assert int(mask.group(1), 16) == t["aff"], f"pid {pid}"
        checked += 1
    assert checked >= 8, out


def test_uname_hostname(vm):
    guest = vm.guest("uname -s -n -r -v -m; hostname").splitlines()
    out = vexec(vm, "sh", "-c", "uname -s -n -r -v -m; hostname").stdout.splitlines()
    assert out == guest
    u = dict(l.split("=", 1) for l in vexec(vm, PROBE, "uname").stdout.splitlines())
    assert u["release"] == guest[0].split()[2]
    assert u["machine"] == "x86_64"


def test_sysinfo(vm):
    g = vm.guest("grep MemTotal /proc/meminfo; ls -d /proc/[0-9]*/task/[0-9]* | wc -l")
    mem_kb = int(g.splitlines()[0].split()[1])
    threads = int(g.splitlines()[1])
    si = dict(l.split("=", 1) for l in vexec(vm, PROBE, "sysinfo").stdout.splitlines())
    assert int(si["totalram"]) == mem_kb * 1024
    assert int(si["mem_unit"]) == 1
    assert 0 < int(si["freeram"]) <= int(si["totalram"])
    assert abs(int(si["procs"]) - threads) <= max(10, threads // 5), (si["procs"], threads)
    assert int(si["uptime"]) > 0


def test_signal_refused(vm):
    truth, me, _ = guest_probe_truth(vm)
    victim = max(p for p in truth if p < me and truth[p]["pgid"] not in (0,))
    host = subprocess.Popen(["sleep", "60"])
    try:
        out = vexec(vm, "sh", "-c", f"{PROBE} signal 15 {victim}; {PROBE} signal 9 "
                    f"{host.pid}; {PROBE} signal 15 -1; kill -TERM {victim}; echo rc=$?")
        lines = out.stdout.split()
        assert lines[:3] == [f"-{EPERM}", f"-{ESRCH}", f"-{EPERM}"], out.stdout
        assert "rc=1" in out.stdout and "Operation not permitted" in out.stderr
        assert host.poll() is None, "a host process outside the tool was signalled"
        alive = vm.guest(f"test -d /proc/{victim} && echo alive").strip()
        assert alive == "alive", f"guest pid {victim} was signalled"
    finally:
        host.kill()
        host.wait()


def test_own_processes(vm):
    """The caller's own pid is the host's; the tool's other processes are not in
    /proc, so probes do not find them either (chkproc would call them hidden),
    but signals reach them (job control)."""
    out = vexec(vm, "sh", "-c", "sleep 5 & kill $!; wait $!; echo st=$?; "
                f"{PROBE} pids $$; exec {PROBE} pids $$ 0").stdout.splitlines()
    assert out[0] == "st=143"  # SIGTERM reached the tool's own child
    shell = out[1].split()
    assert shell[1] == f"kill=-{ESRCH}", out  # the shell, asked by its child
    me = parse_probe("\n".join(out[2:]))
    own = me[int(shell[0])]  # after exec, the probe has the shell's pid: the caller
    assert own["kill"] == "0" and me[0]["kill"] == "0"
    assert int(own["pgid"]) == int(me[0]["pgid"]) == os.getpgrp()  # the host's group


def test_ss_fallback(vm):
    """ss reads /proc/net with PROC_ROOT, and without it falls back there once
    the filter refuses its sock_diag socket."""
    listen = {s["lport"] for s in guest_inet_sockets(vm)
              if s["proto"] == "tcp" and s["state"] == 10}
    assert listen
    for cmd in (["ss", "-tanu"], ["env", "-u", "PROC_ROOT", "ss", "-tan"]):
        out = vexec(vm, *cmd).stdout
        ports = {int(l.split()[-2].rsplit(":", 1)[1]) for l in out.splitlines()
                 if "LISTEN" in l and l.split()[-2].rsplit(":", 1)[1].isdigit()}
        assert listen <= ports, f"{cmd}: {out}"


def test_no_syscalls(vm):
    out = vexec(vm, "uname", "-r", extra=("--no-syscalls",)).stdout.strip()
    assert out == os.uname().release
    assert vexec(vm, "uname", "-r").stdout.strip() != os.uname().release


def test_guest_gone(env):
    """A guest that goes away while the tool runs: every emulated call fails at
    once with EIO (the shadow /proc's files do too), nothing waits, and the tool
    and vmt exec end.  A VM of its own (it is stopped mid-test)."""
    gone = start_vm(env, "scgone", procs=5)
    try:
        # "ready" once the guest answered; then probe until it stops answering (bounded).
        loop = (f"{PROBE} pids 1; echo ready; i=0; while [ $i -lt 1200 ]; do "
                f"r=$({PROBE} pids 1); case \"$r\" in *kill=0*) sleep 0.1 ;; "
                "*) echo \"$r\"; exit 0 ;; esac; i=$((i+1)); done; echo still-there")
        p = subprocess.Popen([VMT, "exec", "--vm", gone.name, "--", "sh", "-c", loop],
                             env=gone.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            first = p.stdout.readline()
            assert "kill=0" in first, first + p.stderr.read()
            assert p.stdout.readline().strip() == "ready"
            stop_vm(gone)
            out, err = p.communicate(timeout=240)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        fields = dict(kv.split("=") for kv in out.split()[1:])
        assert fields and set(fields.values()) == {"-5"}, out + err  # EIO, every probe
        assert p.returncode == 0
    finally:
        stop_vm(gone)
