"""IDS tools under `vmt exec`: lsof, unhide and chkrootkit run unmodified on
the guest's view and are compared with what the guest says about itself
through its agent; a process hidden by DKOM (its task unlinked from the task
list in guest RAM, the pid index still finding it) is reported hidden by
the tools that cross-check the two views.

One guest for the module.  Order matters: the clean-guest cases run first,
then the process is hidden and stays hidden for the rest of the module.
`chkrootkit lkm` probes 4,194,304 pids (each a FUSE lookup and, for absent
pids, a getpriority the supervisor answers): about 80 s here, the longest
single test of the suite; VMT_TEST_QUICK=1 skips it.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import VMT, start_vm, stop_vm
from rootkit import unlink_task
from truth import guest_inet_sockets, guest_procs, guest_unix_sockets, is_kernel_thread

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse") or os.geteuid() != 0,
                                reason="needs root and /dev/fuse")

QUICK = os.environ.get("VMT_TEST_QUICK") == "1"
VICTIM = "wl-3"  # the sleeper the DKOM case hides


@pytest.fixture(scope="module")
def vm(env):
    """The default guest plus a pipe between two sleeps and a file held open,
    so that lsof has FIFO and regular-file rows besides the workload's sockets."""
    v = start_vm(env, "ids", procs=8)
    try:
        v.guest("(sleep 900 | sleep 901) </dev/null >/dev/null 2>&1 & "
                "sleep 902 3</etc/hostname </dev/null >/dev/null 2>&1 & sleep 1")
        yield v
    finally:
        stop_vm(v)


def vexec(vm, *cmd, timeout=300):
    p = subprocess.run([VMT, "exec", "--vm", vm.name, "--", *cmd], env=vm.env,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0 or cmd[0] in ("chkrootkit", "unhide"), \
        f"vmt exec {' '.join(cmd)} exited {p.returncode}: {p.stderr}"
    return p


# ------------------------------------------------------------------ ground truth

FDS_SCRIPT = r"""
echo "ME $$ $PPID"
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  for f in $d/fd/*; do
    [ -L "$f" ] || continue
    t=$(readlink $f) || continue
    echo "FD $p ${f##*/} $(stat -L -c '%i %f' $f 2>/dev/null || echo '- -') $t"
  done
done
"""


def guest_fds(vm):
    """{(pid, fd): (target, inode or None, raw mode or None)} from the
    guest's own /proc/PID/fd, and the pid of the collecting shell.  The
    agent's descriptors are left out: they serve this very script."""
    fds, me, agent = {}, None, None
    for line in vm.guest(FDS_SCRIPT).splitlines():
        if line.startswith("ME "):
            me, agent = (int(x) for x in line[3:].split())
        elif line.startswith("FD "):
            _, pid, fd, ino, mode, target = line.split(" ", 5)
            fds[int(pid), int(fd)] = (target, None if ino == "-" else int(ino),
                                      None if mode == "-" else int(mode, 16))
    return {k: v for k, v in fds.items() if k[0] != agent}, me


def lsof_rows(vm):
    """{(pid, fd): {field letter: value}} of `lsof -nP -F` through vmt exec
    (threads left out: -K i)."""
    out = vexec(vm, "lsof", "-nP", "-w", "-K", "i", "-F", "pcftidnPT").stdout
    rows, pid, cur = {}, None, None
    for line in out.splitlines():
        key, val = line[:1], line[1:]
        if key == "p":
            pid, cur = int(val), None
        elif key == "f":
            cur = {} if val.isdigit() else None  # cwd, txt, mem ... are not fds
            if cur is not None:
                rows[pid, int(val)] = cur
        elif cur is not None and key in "tidnP":
            cur[key] = val
    return rows


def _inet_name(s):
    def addr(a, port, v6):
        any_ = a in ("0.0.0.0", "::")
        host = "*" if any_ else (f"[{a}]" if v6 else a)
        return f"{host}:{port}"
    v6 = s["proto"].endswith("6")
    loc = addr(s["local"], s["lport"], v6)
    if not s["rport"]:
        return loc
    return f"{loc}->{addr(s['remote'], s['rport'], v6)}"


# ------------------------------------------------------------------ lsof


def test_lsof_matches_the_guests_fds(vm):
    fds, me = guest_fds(vm)
    inet = {s["inode"]: s for s in guest_inet_sockets(vm)}
    unix = {s["inode"]: s for s in guest_unix_sockets(vm)}
    rows = lsof_rows(vm)
    kinds = set()
    for (pid, fd), (target, ino, mode) in sorted(fds.items()):
        if pid >= me:
            continue  # the agent's script
        row = rows.get((pid, fd))
        assert row is not None, f"lsof has no row for pid {pid} fd {fd} ({target})"
        m = re.fullmatch(r"(socket|pipe):\[(\d+)\]", target)
        if m and m.group(1) == "socket" and int(m.group(2)) in inet:
            s = inet[int(m.group(2))]
            assert row["t"] == ("IPv6" if s["proto"].endswith("6") else "IPv4"), (pid, fd)
            assert row["d"] == m.group(2), f"pid {pid} fd {fd}: inode"
            assert row["P"] == s["proto"][:3].upper()
            assert row["n"] == _inet_name(s), (pid, fd, row)
            kinds.add(s["proto"])
        elif m and m.group(1) == "socket" and int(m.group(2)) in unix:
            s = unix[int(m.group(2))]
            assert row["t"] == "unix" and row["i"] == m.group(2), (pid, fd, row)
            assert row["n"].startswith(s["path"] or "type="), (pid, fd, row)
            kinds.add("unix")
        elif m and m.group(1) == "pipe":
            assert row["t"] == "FIFO" and row["i"] == m.group(2), (pid, fd, row)
            kinds.add("pipe")
        elif target.startswith("/"):
            # The host's file of that path is what lsof stats: the name is the guest's.
            assert row["n"] == target, (pid, fd, row)
            kinds.add("file")
        elif target.startswith("anon_inode:"):
            assert row["t"] == "REG" and int(row["i"]) == ino, (pid, fd, row)
    assert {"tcp", "tcp6", "udp", "udp6", "unix", "pipe", "file"} <= kinds
    # No row of a process the guest does not have (the tool itself included).
    guest_pids = {pid for pid, _ in fds} | set(guest_procs(vm)[0])
    assert {pid for pid, _ in rows if pid < me} <= guest_pids


def test_stat_through_fd_links_is_the_guests(vm):
    """stat(2) of /proc/PID/fd/N: the socket's or pipe's type and inode, as in
    the guest; the hidden target nodes are never listed."""
    fds, me = guest_fds(vm)
    want = {(p, f): (ino, mode) for (p, f), (t, ino, mode) in fds.items()
            if p < me and re.fullmatch(r"(socket|pipe):\[\d+\]", t)}
    code = ("import json,os\n"
            f"want={json.dumps([list(k) for k in want])}\n"
            "out={}\n"
            "for p,f in want:\n"
            "    st=os.stat(f'/proc/{p}/fd/{f}')\n"
            "    out[f'{p}/{f}']=[st.st_ino,st.st_mode,os.listdir(f'/proc/{p}/fd')]\n"
            "print(json.dumps(out))")
    got = json.loads(vexec(vm, "python3", "-c", code).stdout)
    for (p, f), (ino, mode) in want.items():
        st_ino, st_mode, listing = got[f"{p}/{f}"]
        assert (st_ino, st_mode) == (ino, mode), f"pid {p} fd {f}"
        assert all(n.isdigit() for n in listing), f"pid {p}: a target listed"


def test_tools_processes_are_dot_entries(vm):
    """The tool's own processes (the caller and its shells: the supervisor lets
    them probe each other on the host) answer a lookup (procps needs its own);
    the listing shows them as ".PID" only (chkproc takes those for threads and
    skips them, ps and the rest skip them)."""
    code = ("import os; me, pp = os.getpid(), os.getppid(); l = os.listdir('/proc'); "
            "print(str(me) in l, str(pp) in l, f'.{me}' in l, f'.{pp}' in l, "
            "os.path.isdir(f'/proc/{pp}'), os.path.isdir(f'/proc/.{me}'))")
    out = vexec(vm, "sh", "-c", f'python3 -c "{code}"; true').stdout.split()
    assert out == ["False", "False", "True", "True", "True", "True"]


# ------------------------------------------------------------------ unhide (clean)


def _unhide_hidden(vm, test):
    p = vexec(vm, "unhide", test, timeout=600)
    assert "Searching for Hidden processes" in p.stdout, p.stdout + p.stderr
    return sorted({int(x) for x in re.findall(r"Found HIDDEN PID: (\d+)", p.stdout)})


def test_unhide_clean_guest(vm):
    assert _unhide_hidden(vm, "proc") == []
    assert _unhide_hidden(vm, "sys") == []


# ------------------------------------------------------------------ DKOM


@pytest.fixture(scope="module")
def hidden(vm):
    truth, _ = guest_procs(vm)
    pid = next(p for p, t in truth.items() if t.get("comm") == VICTIM)
    unlink_task(vm, pid, children=False)
    return pid


def test_dkom_task_found_by_lookup_not_listed(vm, hidden):
    out = vexec(vm, "sh", "-c", f"ls /proc | grep -cx {hidden}; cat /proc/{hidden}/comm; "
                f"ls /proc/{hidden}/task; ps -eo pid= | grep -cw {hidden}; true").stdout.split()
    assert out == ["0", VICTIM, str(hidden), "0"]
    # The guest's own ps reads its /proc, whose listing walks the pid index: still there.
    truth, _ = guest_procs(vm)
    assert truth[hidden]["comm"] == VICTIM
    assert not is_kernel_thread(truth[hidden])


def test_unhide_finds_the_dkom_task(vm, hidden):
    assert _unhide_hidden(vm, "proc") == [hidden]
    assert _unhide_hidden(vm, "sys") == [hidden]


@pytest.mark.skipif(QUICK, reason="4 M probes take over a minute (VMT_TEST_QUICK=1)")
def test_chkrootkit_lkm_finds_the_dkom_task_only(vm, hidden):
    # Expert mode prints chkproc -v -v: one line per pid it finds hidden.
    p = vexec(vm, "chkrootkit", "-x", "lkm", timeout=1200)
    readdir = {int(x) for x in re.findall(r"PID\s+(\d+)\(/proc/\d+\): not in readdir", p.stdout)}
    ps = {int(x) for x in re.findall(r"PID\s+(\d+): not in ps output", p.stdout)}
    assert readdir == {hidden} and ps == {hidden}, p.stdout[-3000:]
    assert "You have     1 process hidden for readdir command" in p.stdout


def test_chkrootkit_every_other_test_runs(vm, tmp_path):
    """Every test of Debian's chkrootkit besides lkm (above) runs to its verdict
    under vmt exec.  Most of them look at the host's own files (the guest's file
    system is not in its memory): only that they run is checked, never their
    verdict, except sniffer's, which reads the guest's interfaces and sockets.
    `aliens` runs apart, on a root of its own (`-r`): on / it is a `find` over
    the host's whole /usr, /dev, /tmp and /lib (80-100 s here, all of this
    test's time) that reads nothing of the guest."""
    # `chkrootkit -l` lists its tests on stderr and exits 1.
    listed = subprocess.run(["chkrootkit", "-l"], capture_output=True, text=True)
    tests = (listed.stdout + listed.stderr).split("tests:", 1)[1].split()
    assert len(tests) > 50 and "lkm" in tests and "aliens" in tests
    tests.remove("lkm")
    tests.remove("aliens")
    p = vexec(vm, "chkrootkit", *tests, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    ran = set(re.findall(r"Checking `([^']+)'\.\.\.", p.stdout))
    assert ran == set(tests), f"did not run: {sorted(set(tests) - ran)}"
    # chkrootkit shows whatever ifpromisc prints as a WARNING: on the clean guest,
    # one line per interface that is up, each neither promiscuous nor sniffed.
    block = p.stdout.split("Output from ifpromisc:\n", 1)[1].split("\n\n", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert "lo: not promisc and no packet sniffer sockets" in lines, block
    assert all(line.endswith(": not promisc and no packet sniffer sockets") for line in lines), \
        block
    for d in ("bin", "dev", "etc", "lib", "root", "sbin", "tmp", "usr/bin", "usr/lib",
              "usr/sbin", "var/tmp"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    a = vexec(vm, "chkrootkit", "-r", str(tmp_path), "aliens", timeout=300)
    assert a.returncode == 0, a.stderr[-2000:]
    assert re.search(r"Checking `aliens'\.\.\.\s+finished", a.stdout), a.stdout[-2000:]
