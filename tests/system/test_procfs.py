"""The shadow /proc: unmodified procps, psmisc, net-tools, iproute2 and kmod
tools run through `vmt exec` on the guest's view, compared field by field
with what the guest says about itself through its agent; `vmt procfs`
mounts, refreshes, and goes away cleanly, also when the VM does."""
import os
import pwd
import re
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import VMT, start_vm, stop_vm
from truth import (argv_of, guest_inet_sockets, guest_modules, guest_procs,
                   guest_unix_sockets, is_kernel_thread)

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse") or os.geteuid() != 0,
                                reason="needs root and /dev/fuse")


def vexec(vm, *cmd, check=True, extra=(), timeout=300):
    """Run cmd through `vmt exec` on vm; the CompletedProcess."""
    p = subprocess.run([VMT, "exec", "--vm", vm.name, *extra, "--", *cmd], env=vm.env,
                       capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"vmt exec {' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    return p


def host_mounts():
    """The host's mounts that vmt exec could touch (other tests on this machine
    make and remove network namespaces meanwhile: those are left out)."""
    keep = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            f4 = line.split(" ")
            point, fstype = f4[4], line.split(" - ")[1].split()[0]
            if point in ("/proc", "/sys", "/sys/module") or "fuse" in fstype or \
                    point.startswith("/proc/"):
                keep.append(line.split(" ", 4)[4])
    return sorted(keep)


def stable(truth, me):
    """Processes that exist before the agent's script and do not come and go."""
    return {pid: p for pid, p in truth.items() if pid < me}


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def check_pid_sets(truth, seen, me, what):
    """User processes must be the same; kernel workers come and go on their
    own, so they are compared only where both views have them."""
    truth = stable(truth, me)
    user_t = {pid for pid, p in truth.items() if not is_kernel_thread(p)}
    user_s = {pid for pid, row in seen.items()
              if pid < me and not (is_kernel_thread(truth[pid]) if pid in truth
                                   else row.get("kthread"))}
    assert user_s == user_t, (f"{what}: missing {sorted(user_t - user_s)}, "
                              f"extra {sorted(user_s - user_t)}")
    return truth


# ------------------------------------------------------------------ procps


def test_ps_aux(vm):
    truth, me = guest_procs(vm)
    out = vexec(vm, "ps", "auxww").stdout.splitlines()
    assert out[0].split()[:11] == ["USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT",
                                   "START", "TIME", "COMMAND"]
    seen = {}
    for line in out[1:]:
        f = line.split(None, 10)
        cmd = f[10] if len(f) > 10 else ""
        seen[int(f[1])] = {"user": f[0], "stat": f[7], "cmd": cmd,
                           "kthread": cmd.startswith("[") and cmd.endswith("]")}
    truth = check_pid_sets(truth, seen, me, "ps aux")
    compared = 0
    for pid in sorted(set(truth) & set(seen)):
        t, s = truth[pid], seen[pid]
        assert s["user"] == user_name(t["euid"]), f"pid {pid} user {s['user']}"
        if is_kernel_thread(t):
            assert s["kthread"], f"pid {pid}: a kernel thread is shown in brackets"
            continue
        assert s["cmd"].split() == " ".join(argv_of(t["cmdline"])).split() or \
            len(t["cmdline"]) > 4000 or t["state"] == "Z", f"pid {pid} command {s['cmd'][:80]!r}"
        if t["comm"] != "vmt-agent":
            assert s["stat"][0] == t["state"], f"pid {pid} state {s['stat']} vs {t['state']}"
        compared += 1
    assert compared >= 20


def test_ps_fields(vm):
    """Numeric columns, one per field, against the guest's status files."""
    truth, me = guest_procs(vm)
    out = vexec(vm, "ps", "-eo", "pid,ppid,uid,euid,gid,pgid,sid,nlwp,s,comm",
                "--no-headers").stdout
    seen = {}
    for line in out.splitlines():
        f = line.split(None, 9)
        seen[int(f[0])] = dict(zip(("ppid", "uid", "euid", "gid", "pgrp", "session", "threads"),
                                   map(int, f[1:8])), state=f[8], comm=f[9] if len(f) > 9 else "")
    truth = stable(truth, me)
    for pid in sorted(set(truth) & set(seen)):
        t, s = truth[pid], seen[pid]
        for key in ("ppid", "uid", "euid", "gid", "pgrp", "session", "threads"):
            assert s[key] == t[key], f"pid {pid} {key}: shadow {s[key]} guest {t[key]}"
        if not is_kernel_thread(t):
            assert s["comm"] == t["comm"], f"pid {pid} comm"


def test_ps_threads(vm):
    truth, me = guest_procs(vm)
    out = vexec(vm, "ps", "-eLf").stdout.splitlines()
    head = out[0].split()
    assert head[:6] == ["UID", "PID", "PPID", "LWP", "C", "NLWP"]
    lwps = {}
    for line in out[1:]:
        f = line.split()
        lwps.setdefault(int(f[1]), []).append(int(f[3]))
        assert int(f[5]) >= 1
    multi = 0
    for pid, t in stable(truth, me).items():
        if is_kernel_thread(t):
            continue
        assert sorted(lwps[pid]) == t["tids"], f"threads of {pid}"
        multi += len(t["tids"]) > 1
    assert multi, "the workload has a multi-threaded process"


def test_top(vm):
    truth, me = guest_procs(vm)
    out = vexec(vm, "top", "-b", "-n", "1", "-w", "512").stdout.splitlines()
    assert out[0].startswith("top - ")
    i = next(i for i, line in enumerate(out) if line.split()[:2] == ["PID", "USER"])
    rows = {}
    for line in out[i + 1:]:
        f = line.split()
        if f:
            rows[int(f[0])] = {"user": f[1], "state": f[7], "comm": f[-1]}
    tasks = re.search(r"Tasks:\s+(\d+) total", "\n".join(out))
    assert tasks and int(tasks.group(1)) == len(rows)
    for pid, t in stable(truth, me).items():
        if is_kernel_thread(t):
            continue
        assert pid in rows, f"top misses pid {pid}"
        assert rows[pid]["user"] == user_name(t["euid"])[:8] or rows[pid]["user"].endswith("+")
        assert rows[pid]["comm"] == t["comm"]


# ------------------------------------------------------------------ psmisc


def test_pstree(vm):
    truth, me = guest_procs(vm)
    out = vexec(vm, "pstree", "-p", "-A", "-l").stdout
    pairs = {}
    for line in out.splitlines():
        # -A draws with "-+-", "---", "|-" and "`-"; names may hold '-'.
        for tok in re.split(r"---|-\+-|\|-|`-|\s+", line):
            m = re.fullmatch(r"\{?(.+?)\}?\((\d+)\)", tok)
            if m:  # threads are {name}(tid)
                pairs[int(m.group(2))] = m.group(1)
    for pid, t in stable(truth, me).items():
        if is_kernel_thread(t) or pid == 2:
            continue
        assert pid in pairs, f"pstree misses {pid}"
        assert pairs[pid] == t["comm"][:15], f"pstree name of {pid}: {pairs[pid]}"
    assert out.startswith("init(1)")


# ------------------------------------------------------------------ sockets


def _inet_rows_netstat(text):
    rows = []
    for line in text.splitlines():
        f = line.split()
        if not f or f[0] not in ("tcp", "tcp6", "udp", "udp6"):
            continue
        state = f[5] if len(f) > 5 else ""
        rows.append((f[0][:3], f[3], f[4], state))
    return sorted(rows)


_TCP = {1: "ESTABLISHED", 10: "LISTEN", 2: "SYN_SENT", 3: "SYN_RECV", 6: "TIME_WAIT",
        8: "CLOSE_WAIT", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 9: "LAST_ACK", 11: "CLOSING", 7: "CLOSE"}


def _truth_netstat_rows(truth):
    rows = []
    for s in truth:
        p = s["proto"]
        loc = f"{s['local']}:{s['lport']}"
        rem = f"{s['remote']}:{s['rport'] or '*'}"
        if p.startswith("udp"):
            state = "ESTABLISHED" if s["state"] == 1 else ""
        else:
            state = _TCP[s["state"]]
        rows.append((p[:3], loc, rem, state))
    return sorted(rows)


def test_netstat_inet(vm):
    truth = guest_inet_sockets(vm)
    out = vexec(vm, "netstat", "-tanu").stdout
    assert _inet_rows_netstat(out) == _truth_netstat_rows(truth)
    assert any(s["state"] == 1 for s in truth)


def test_netstat_unix(vm):
    truth = guest_unix_sockets(vm)
    out = vexec(vm, "netstat", "-xa").stdout
    seen = {}
    for line in out.splitlines():
        m = re.match(r"unix\s+(\d+)\s+\[[^\]]*\]\s+(\w+)\s+(\w*)\s+(\d+)\s*(.*)$", line)
        if m:
            seen[int(m.group(4))] = m.group(5).strip()
    assert seen == {s["inode"]: s["path"] for s in truth}


def test_ss(vm):
    truth = guest_inet_sockets(vm)
    out = vexec(vm, "ss", "-tanu").stdout.splitlines()
    assert out[0].split()[:2] == ["Netid", "State"]
    seen = sorted((f[0], f[4].rsplit(":", 1)[1], f[5].rsplit(":", 1)[1])
                  for f in (line.split() for line in out[1:]))
    want = sorted((s["proto"][:3], str(s["lport"]), str(s["rport"]) if s["rport"] else "*")
                  for s in truth)
    assert seen == want
    # The host's own sockets (netlink would give them) must not show.
    assert len(out) - 1 == len(truth)


# ------------------------------------------------------------------ modules, files


def test_lsmod(vm):
    truth = guest_modules(vm)
    out = vexec(vm, "lsmod").stdout.splitlines()
    assert out[0].split() == ["Module", "Size", "Used", "by"]
    seen = [line.split() for line in out[1:]]
    assert [f[0] for f in seen] == [m["name"] for m in truth]
    for f, m in zip(seen, truth):
        assert int(f[1]) == m["size"] and int(f[2]) == m["refcnt"], m["name"]
        users = sorted(f[3].split(",")) if len(f) > 3 else []
        want = sorted(u for u in m["deps"].split(",") if u and u != "-")
        assert users == want, f"users of {m['name']}"


def test_files_byte_exact(vm):
    """Files whose every byte the guest's memory gives, against the guest's own."""
    script = "cat /proc/version; echo @@; cat /proc/modules; echo @@; cat /proc/net/unix"
    guest = vm.guest(script).split("@@\n")
    mine = vexec(vm, "sh", "-c", script).stdout.split("@@\n")
    assert mine[0] == guest[0]
    assert mine[1] == guest[1]
    # /proc/net/unix: the first column is a hashed pointer in the guest.
    strip = lambda t: [line.split(" ", 1)[1] if ":" in line.split(" ", 1)[0] else line
                       for line in t.splitlines()]
    assert sorted(strip(mine[2])) == sorted(strip(guest[2]))


def test_net_files_fields(vm):
    """/proc/net/{tcp,tcp6,udp,udp6}: header and padding exact, the fields the
    guest's memory gives equal (not timers, rto, cwnd, pointers)."""
    script = "for f in tcp tcp6 udp udp6; do cat /proc/net/$f; echo @@; done"
    guest = vm.guest(script).split("@@\n")
    mine = vexec(vm, "sh", "-c", script).stdout.split("@@\n")
    assert len(guest) == len(mine) == 5
    for g, m in zip(guest[:4], mine[:4]):
        gl, ml = g.splitlines(), m.splitlines()
        assert ml[0] == gl[0] and len(ml) == len(gl)
        if "remote_address" not in gl[0]:
            # IPv4 files pad every line to one width (seq_pad), as the guest's.
            assert {len(x) for x in ml} == {len(x) for x in gl}
        key = lambda line: tuple(line.split()[1:5] + line.split()[7:10])
        assert sorted(map(key, ml[1:])) == sorted(map(key, gl[1:]))


def test_uptime_and_cmdline(vm):
    before = float(vm.guest("cut -d' ' -f1 /proc/uptime"))
    p = vexec(vm, "sh", "-c", "cat /proc/uptime; cat /proc/1/cmdline | od -c | head -2")
    after = float(vm.guest("cut -d' ' -f1 /proc/uptime"))
    up = float(p.stdout.split()[0])
    assert before - 1.5 <= up <= after


# ------------------------------------------------------------------ the frame


def test_self_is_the_caller_and_unlisted(vm):
    code = ("import os; me = os.getpid(); "
            "print(me, os.readlink('/proc/self'), os.path.exists(f'/proc/{me}/stat'), "
            "str(me) in os.listdir('/proc'), open('/proc/self/stat').read().split()[0])")
    f = vexec(vm, "python3", "-c", code).stdout.split()
    assert f[0] == f[1] == f[4], "self points at the caller, its stat is its own"
    assert f[2] == "True"
    assert f[3] == "False", "the caller is not listed"


def test_host_unchanged(vm):
    before = host_mounts()
    host_init = open("/proc/1/cmdline", "rb").read()
    p = vexec(vm, "sh", "-c", "cat /proc/1/cmdline; grep -c . /proc/self/mountinfo")
    assert not p.stdout.startswith(host_init.decode(errors="replace")[:20]) or host_init == b""
    assert host_mounts() == before, "no mount may be left on the host"
    assert open("/proc/1/cmdline", "rb").read() == host_init
    # Nothing of ours in the host's mount table at all.
    assert "vmt-procfs" not in open("/proc/self/mounts").read()


def _mount_types(pid):
    """{mount point: file system type} of the mount namespace pid is in."""
    out = {}
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            out[line.split(" ")[4]] = line.split(" - ")[1].split()[0]
    return out


def test_server_never_reads_its_own_shadow(vm):
    """vmt exec's own process keeps the host's /proc: a path it opens under
    /proc (glibc's malloc opens /proc/sys/vm/overcommit_memory when a
    thread's heap first shrinks) must never become a request to its own
    FUSE server, which could be the very thread waiting (a hang seen in CI).
    Only CMD's namespace has the shadow /proc."""
    p = subprocess.Popen([VMT, "exec", "--vm", vm.name, "--", "sh", "-c",
                          "echo $$ $PPID; exec sleep 20"],
                         env=vm.env, stdout=subprocess.PIPE, text=True)
    try:
        tool, server = (int(x) for x in p.stdout.readline().split())
        assert server == p.pid
        assert _mount_types(server)["/proc"] == "proc"
        assert _mount_types(tool)["/proc"] == "fuse.vmt-procfs"
        assert _mount_types(tool)["/sys/module"] == "fuse.vmt-procfs"
    finally:
        p.terminate()
        p.wait(timeout=30)
        p.stdout.close()


def test_exit_status_is_the_tools(vm):
    assert vexec(vm, "sh", "-c", "exit 7", check=False).returncode == 7
    assert vexec(vm, "sh", "-c", "kill -SEGV $$", check=False).returncode == 128 + 11
    assert vexec(vm, "no-such-tool-xyz", check=False).returncode == 127
    p = subprocess.run([VMT, "exec", "--vm", vm.name], env=vm.env, capture_output=True)
    assert p.returncode == 2


def test_lazy_equals_snapshot(vm):
    a = vexec(vm, "ps", "-eo", "pid,ppid,uid,comm,args", "--no-headers").stdout
    b = vexec(vm, "ps", "-eo", "pid,ppid,uid,comm,args", "--no-headers",
              extra=("--lazy",)).stdout
    rows = lambda t: {line.split()[0]: line for line in t.splitlines()
                      if not line.split()[3].startswith("kworker")}
    ra, rb = rows(a), rows(b)
    common = set(ra) & set(rb)
    assert len(common) >= 25
    assert all(ra[k] == rb[k] for k in common)


def _wait(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _mounted(path):
    return any(line.split()[1] == path for line in open("/proc/self/mounts"))


def test_procfs_mount_refresh_and_stop(vm):
    with tempfile.TemporaryDirectory(prefix="vmt-pfs-") as mnt:
        p = subprocess.Popen([VMT, "procfs", "--vm", vm.name, mnt], env=vm.env,
                             stderr=subprocess.PIPE, text=True)
        try:
            assert _wait(lambda: os.path.exists(f"{mnt}/uptime"), 60)
            assert os.path.isdir(f"{mnt}/1/task/1")
            assert os.stat(f"{mnt}/1").st_uid == 0
            up1 = float(open(f"{mnt}/uptime").read().split()[0])
            # A second mount on the same point: refused, the first unharmed.
            q = subprocess.run([VMT, "procfs", "--vm", vm.name, mnt], env=vm.env,
                               capture_output=True, text=True, timeout=120)
            assert q.returncode == 1 and "in use" in q.stderr
            time.sleep(1.5)
            held = open(f"{mnt}/version")  # a handle across refreshes reads its snapshot
            os.stat(f"{mnt}/1/stat")  # an entry the kernel caches across the swap
            p.send_signal(signal.SIGHUP)
            assert _wait(lambda: float(open(f"{mnt}/uptime").read().split()[0]) > up1, 30), \
                "SIGHUP rebuilds"
            for _ in range(3):  # ids of the previous snapshot still resolve: no ESTALE
                p.send_signal(signal.SIGHUP)
                for _ in range(10):
                    os.stat(f"{mnt}/1/stat")
                    assert open(f"{mnt}/1/cmdline", "rb").read().startswith(b"init")
                    time.sleep(0.05)
            assert held.read().startswith("Linux version")
            held.close()
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
        assert p.returncode == 0
        assert not _mounted(mnt)


def test_fuse_missing_is_a_clear_error(vm):
    with tempfile.TemporaryDirectory(prefix="vmt-pfs-") as mnt:
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            f"mount --bind /dev/null /dev/fuse && exec {VMT} procfs --vm "
                            f"{vm.name} {mnt}"],
                           env=vm.env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 1
        assert "FUSE" in p.stderr and "not available" in p.stderr, p.stderr


def test_vm_gone_gives_eio_and_unmounts(env):
    """A VM stopped under a mounted shadow /proc: reads fail with EIO (no
    hang), the server says so and unmounts on SIGTERM."""
    vm = start_vm(env, "pfs-gone", procs=5, mem="256M")
    mnt = tempfile.mkdtemp(prefix="vmt-pfs-")
    p = None
    try:
        p = subprocess.Popen([VMT, "procfs", "--vm", vm.name, mnt], env=env,
                             stderr=subprocess.PIPE, text=True)
        assert _wait(lambda: os.path.exists(f"{mnt}/uptime"), 60)
        stop_vm(vm)
        def eio():
            try:
                open(f"{mnt}/uptime").read()
            except OSError as e:
                return e.errno == 5
            return False
        assert _wait(eio, 20), "reads fail with EIO once the VM is gone"
        # exec on a VM that is gone: a clear failure, not a hang.
        q = subprocess.run([VMT, "exec", "--vm", vm.name, "--", "true"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert q.returncode == 1
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        assert "went away" in p.stderr.read()
        assert not _mounted(mnt)
    finally:
        if p and p.poll() is None:
            p.kill()
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        os.rmdir(mnt)
        stop_vm(vm)


def test_tools_with_1000_processes(env):
    """ps, pstree and the pid directories on a guest of 1,000 workload processes."""
    vm = start_vm(env, "pfs-1k", procs=1000, mem="512M")
    try:
        truth, me = guest_procs(vm)
        out = vexec(vm, "ps", "-eo", "pid,ppid,uid,nlwp,comm", "--no-headers").stdout
        seen = {}
        for line in out.splitlines():
            f = line.split(None, 4)
            seen[int(f[0])] = {"ppid": int(f[1]), "uid": int(f[2]), "threads": int(f[3]),
                               "comm": f[4] if len(f) > 4 else "",
                               "kthread": int(f[1]) == 2 or int(f[0]) == 2}
        truth = check_pid_sets(truth, seen, me, "ps -eo (1,000 processes)")
        assert len(truth) > 1000
        for pid, t in truth.items():
            if pid in seen and not is_kernel_thread(t):
                s = seen[pid]
                assert (s["ppid"], s["uid"], s["threads"], s["comm"]) == \
                    (t["ppid"], t["uid"], t["threads"], t["comm"]), f"pid {pid}"
        tree = vexec(vm, "pstree", "-p", "-A").stdout
        assert len(set(re.findall(r"\((\d+)\)", tree))) > 1000
    finally:
        stop_vm(vm)


def test_split_vm_both_methods(env):
    """A guest split onto a main host and two sub-hosts: the tools see the
    same guest through either fetch method (the shadow /proc only uses the
    runtime's API)."""
    from conftest import SESSION_TAG
    prefix, subnet = SESSION_TAG + "p", "10.87"
    hosts = [VMT, "hosts", "up", "--prefix", prefix, "--subnet", subnet, "--subhosts", "2",
             "--link", "none", "--capacity", "512M"]
    subprocess.run(hosts, env=env, capture_output=True, check=True, timeout=120)
    vm = None
    try:
        vm = start_vm(env, "pfs-split", procs=20, mem="256M")
        p = subprocess.run([VMT, "split", vm.name, "--main-mem", "48M", "--subhosts",
                            "sub1,sub2", "--hosts-prefix", prefix], env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        truth, me = guest_procs(vm)
        mods = guest_modules(vm)
        for fetch in ("runtime", "vm"):
            extra = ("--fetch", fetch, "--chunk", "64K")
            out = vexec(vm, "ps", "-eo", "pid,ppid,uid,nlwp,comm,args", "--no-headers",
                        extra=extra).stdout
            seen = {}
            for line in out.splitlines():
                f = line.split(None, 5)
                seen[int(f[0])] = {"row": (int(f[1]), int(f[2]), int(f[3]), f[4]),
                                   "args": f[5] if len(f) > 5 else "",
                                   "kthread": int(f[1]) == 2 or int(f[0]) == 2}
            st = check_pid_sets(truth, seen, me, f"ps on a split VM, fetch {fetch}")
            for pid, t in st.items():
                if pid in seen and not is_kernel_thread(t) and t["state"] != "Z":
                    assert seen[pid]["row"] == (t["ppid"], t["uid"], t["threads"], t["comm"])
                    want = " ".join(argv_of(t["cmdline"])).split()
                    assert seen[pid]["args"].split() == want or len(t["cmdline"]) > 4000, pid
            lsmod = vexec(vm, "lsmod", extra=extra).stdout.splitlines()[1:]
            assert [line.split()[0] for line in lsmod] == [m["name"] for m in mods]
    finally:
        if vm:
            stop_vm(vm)
        subprocess.run([VMT, "hosts", "down", "--prefix", prefix], env=env,
                       capture_output=True, timeout=120)


def test_procfs_periodic_refresh_lazy_and_usage(vm):
    with tempfile.TemporaryDirectory(prefix="vmt-pfs-") as mnt:
        p = subprocess.Popen([VMT, "procfs", "--vm", vm.name, "--lazy", "--refresh", "1",
                              "--stats", mnt], env=vm.env, stderr=subprocess.PIPE, text=True)
        try:
            assert _wait(lambda: os.path.exists(f"{mnt}/uptime"), 60)
            up1 = float(open(f"{mnt}/uptime").read().split()[0])
            assert _wait(lambda: float(open(f"{mnt}/uptime").read().split()[0]) >= up1 + 1,
                         30), "--refresh 1 rebuilds every second"
            # Lazy: a pid directory is filled on first use.
            assert open(f"{mnt}/1/cmdline", "rb").read().startswith(b"init")
            assert "stat" in os.listdir(f"{mnt}/1")
        finally:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=30)
        assert p.returncode == 0
        assert "stats: procfs lazy:" in p.stderr.read()
        assert not _mounted(mnt)
    for args in (["procfs", "--vm", vm.name], ["procfs", "--vm", vm.name, "--refresh", "0",
                                                "/tmp"], ["exec", "--bogus", "--", "true"]):
        q = subprocess.run([VMT, *args], env=vm.env, capture_output=True, timeout=60)
        assert q.returncode == 2, args


def test_exec_refresh(vm):
    """vmt exec --refresh: names under the bound /proc follow the newest snapshot."""
    out = vexec(vm, "sh", "-c", "cut -d' ' -f1 /proc/uptime; sleep 3.5; "
                "cut -d' ' -f1 /proc/uptime; ls /proc | grep -c '^[0-9]'",
                extra=("--refresh", "1")).stdout.split()
    assert float(out[1]) >= float(out[0]) + 1.5
    assert int(out[2]) >= 25


def test_exec_refresh_many_swaps(vm):
    """The bound /proc and /sys/module outlive the snapshot they were first
    looked up in: with requests between refreshes every second the first
    snapshot is freed after two swaps, and each path under them must still
    answer (it gave ESTALE once)."""
    p = vexec(vm, "sh", "-c", "for i in 1 2 3 4 5; do cut -d' ' -f1 /proc/uptime; "
              "ls /proc | grep -c '^[0-9]'; sleep 1.3; done; ls /sys/module | wc -l",
              extra=("--refresh", "1"))
    out = p.stdout.split()
    assert "Stale" not in p.stderr and len(out) == 11, p.stderr
    uptimes = [float(x) for x in out[0:10:2]]
    assert uptimes == sorted(uptimes) and uptimes[-1] >= uptimes[0] + 3, uptimes
    assert all(int(x) >= 25 for x in out[1:10:2]) and int(out[10]) >= 5, out


def test_thread_ids_found_not_listed(vm):
    """As Linux: /proc/TID of a thread answers a lookup and is not listed."""
    truth, me = guest_procs(vm)
    proc = next(p for p in stable(truth, me).values()
                if len(p["tids"]) > 1 and not is_kernel_thread(p))
    tid = next(t for t in proc["tids"] if t != proc["pid"])
    out = vexec(vm, "sh", "-c", f"ls /proc | grep -cx {tid}; cut -d' ' -f1,2 /proc/{tid}/stat; "
                f"grep -E '^(Tgid|Pid):' /proc/{tid}/status", check=False).stdout.split("\n")
    assert out[0] == "0", "a thread id is not listed"
    assert out[1].split()[0] == str(tid)
    assert f"Tgid:\t{proc['pid']}" in out and f"Pid:\t{tid}" in out
