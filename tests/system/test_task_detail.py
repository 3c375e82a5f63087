"""The shadow /proc's per-process files (src/procfs/render_task.c over the
walkers of src/lib/linux/task_detail.c and task_files.c) against the guest's
own /proc, read through the agent: stat, status, statm, maps, fd links,
fdinfo, ns links, exe/cwd/root, and task/TID/{stat,status} of threads.

The shadow files come from tests/unit/taskfiles_dump (pfs_task_fill over a
tree, no FUSE).  The guest keeps running between the two reads, so values
that move on their own (CPU times, fault and context-switch counters, RSS,
a kernel worker's current work item) are compared loosely; everything else
byte for byte.  Processes from the collecting shell on, and the agent
itself (its pipes come and go with each command), are left out.
"""
import os
import re
import subprocess

import pytest

from conftest import BUILD, SESSION_TAG, VMT, start_vm, stop_vm

DUMP = os.path.join(BUILD, "tests", "unit", "taskfiles_dump")

GUEST_SCRIPT = r"""
echo "ME $$ $PPID"
for d in /proc/[0-9]* /proc/[0-9]*/task/[0-9]*; do
  [ -r $d/stat ] || continue
  for f in stat status statm maps; do
    echo "@@F $d/$f"; cat $d/$f 2>/dev/null; echo "@@E"
  done
  echo "@@X $d/auxv $(od -An -v -tx1 $d/auxv 2>/dev/null | tr -d ' \n')"
  case $d in */task/*) continue;; esac
  for l in exe cwd root; do echo "@@L $d/$l $(readlink $d/$l 2>/dev/null)"; done
  for l in $d/ns/* $d/fd/*; do
    [ -e "$l" ] || [ -L "$l" ] || continue
    echo "@@L $l $(readlink $l 2>/dev/null)"
  done
  for f in $d/fdinfo/*; do
    [ -e "$f" ] || continue
    echo "@@F $f"; cat $f 2>/dev/null; echo "@@E"
  done
done
"""

# /proc/PID/stat fields (1-based, proc(5)) that move on their own (35, wchan,
# follows the state; 9, flags, of a kernel thread under memory pressure).
STAT_LOOSE = {3, 10, 11, 12, 13, 14, 15, 16, 17, 22, 23, 24, 30, 35, 39, 42, 43, 44}
KTHREAD_LOOSE = {9}
STATUS_LOOSE = {"State", "VmPeak", "VmSize", "VmHWM", "VmRSS", "RssAnon", "RssFile",
                "RssShmem", "VmData", "VmStk", "VmPTE", "SigQ", "voluntary_ctxt_switches",
                "nonvoluntary_ctxt_switches"}


# fdinfo lines of the file kinds whose show_fdinfo() is rendered (eventfd, pidfd, unix,
# signalfd)
FDINFO_KNOWN = ("eventfd-count:", "eventfd-id:", "Pid:", "NSpid:", "scm_fds:", "sigmask:")


def parse_guest(out):
    files, links, me, agent = {}, {}, None, None
    cur, buf = None, []
    for line in out.split("\n"):
        if cur is not None:
            if line == "@@E":
                files[cur] = "".join(buf)
                cur, buf = None, []
            else:
                buf.append(line + "\n")
            continue
        if line.startswith("ME "):
            me, agent = (int(x) for x in line.split()[1:3])
        elif line.startswith("@@F "):
            cur = line[4:][len("/proc/"):]
        elif line.startswith("@@X "):
            path, _, hexdata = line[4:].partition(" ")
            files[path[len("/proc/"):]] = bytes.fromhex(hexdata)
        elif line.startswith("@@L "):
            path, _, target = line[4:].partition(" ")
            links[path[len("/proc/"):]] = target
    return files, links, me, agent


def parse_dump(data):
    files, links, dirs = {}, {}, {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        head = data[i:nl].decode()
        i = nl + 1
        if head.startswith("== "):
            path, n = head[3:].rsplit(" ", 1)
            files[path] = data[i:i + int(n)].decode("utf-8", "surrogateescape")
            i += int(n)
        elif head.startswith("@@ "):
            path, mode, target = head[3:].split(" ", 2)
            links[path] = (target, int(mode, 8))
        elif head.startswith("// "):
            path, mode = head[3:].split(" ")
            dirs[path] = int(mode, 8)
    return files, links, dirs


def stat_fields(text):
    # comm may hold spaces and parentheses: it ends at the last ")".
    head, _, rest = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    return [pid, comm] + rest.split()


def is_kworker(files, d):
    return files.get(f"{d}/stat", "").split(" (", 1)[-1].startswith("kworker")


def compare_stat(path, want, got, kworker):
    w, g = stat_fields(want), stat_fields(got)
    assert len(g) == len(w) == 52, f"{path}: {len(g)} fields, guest {len(w)}"
    kthread = w[3] in ("0", "2") and w[0] != "1"  # kthreadd and its children
    for i, (a, b) in enumerate(zip(w, g), start=1):
        if i == 3:
            assert re.fullmatch(r"[RSDTtXZPI]", b), f"{path} state {b!r}"
        elif i in STAT_LOOSE or (kthread and i in KTHREAD_LOOSE):
            assert re.fullmatch(r"-?\d+", b), f"{path} field {i}: {b!r}"
        elif not (kworker and i == 2):
            assert a == b, f"{path} field {i}: guest {a}, shadow {b}\n{want}{got}"


def compare_status(path, want, got, kworker):
    wl, gl = want.splitlines(), got.splitlines()
    assert [x.split(":")[0] for x in wl] == [x.split(":")[0] for x in gl], \
        f"{path}: lines differ\n{want}---\n{got}"
    for a, b in zip(wl, gl):
        key = a.split(":")[0]
        if key == "State":
            assert re.fullmatch(r"State:\t[RSDTtXZPI] \([a-z ]+\)", b), f"{path}: {b!r}"
        elif key in STATUS_LOOSE:  # the value moves, the shape (padding, units) does not
            shape = lambda x: re.sub(r" *\d+", "N", x)
            assert shape(a) == shape(b), f"{path}: guest {a!r}, shadow {b!r}"
        elif not (kworker and key == "Name"):
            assert a == b, f"{path}: guest {a!r}, shadow {b!r}"


def compare_statm(path, want, got):
    w, g = want.split(), got.split()
    assert len(w) == len(g) == 7, path
    # size, resident, shared move; text, lib, data (data_vm + stack_vm), dt must match
    assert w[3:5] == g[3:5] and w[6] == g[6], f"{path}: guest {want!r}, shadow {got!r}"


def read_both(tvm, extra_env=None, netns=None):
    out = tvm.guest(GUEST_SCRIPT, timeout=240)
    gfiles, glinks, me, agent = parse_guest(out)
    d = tvm.desc
    pids = sorted({p.split("/")[0] for p in gfiles if int(p.split("/")[0]) < me})
    pre = ["ip", "netns", "exec", netns] if netns else []
    p = subprocess.run([*pre, DUMP, d["mem_path"], d["kernel"], str(d["mem_bytes"]), *pids],
                       env=dict(tvm.env, **(extra_env or {})), capture_output=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr.decode()
    print(p.stderr.decode().strip())
    return gfiles, glinks, me, agent, parse_dump(p.stdout), p.stderr.decode()


# One guest at a time: the unsplit guest lives as long as the tests that
# use it (scope class), the split one after it.
@pytest.fixture(scope="class")
def both(env):
    v = start_vm(env, "taskdet", procs=20, mem="256M")
    try:
        yield read_both(v)[:5]
    finally:
        stop_vm(v)


def shadow_dirs(gfiles, me, agent):
    """Task directories the guest showed that both reads must agree on."""
    dirs = sorted({p.rsplit("/", 1)[0] for p in gfiles if p.endswith("/stat")})
    return [d for d in dirs if int(d.split("/")[0]) < me and int(d.split("/")[0]) != agent]


class TestUnsplit:
    """An unsplit guest with KASLR, 20 workload processes, threads and sockets."""

    def test_stat_status_statm(self, both):
        gfiles, _, me, agent, (sfiles, _, _) = both
        n = 0
        for d in shadow_dirs(gfiles, me, agent):
            if f"{d}/stat" not in sfiles:  # a kernel worker that exited meanwhile
                assert is_kworker(gfiles, d), f"{d} missing from the shadow /proc"
                continue
            kw = is_kworker(gfiles, d)
            compare_stat(f"{d}/stat", gfiles[f"{d}/stat"], sfiles[f"{d}/stat"], kw)
            compare_status(f"{d}/status", gfiles[f"{d}/status"], sfiles[f"{d}/status"], kw)
            compare_statm(f"{d}/statm", gfiles[f"{d}/statm"], sfiles[f"{d}/statm"])
            n += 1
        assert n >= 40, f"only {n} task directories compared"


    def test_maps_exact(self, both):
        gfiles, _, me, agent, (sfiles, _, _) = both
        n = 0
        for d in shadow_dirs(gfiles, me, agent):
            if f"{d}/maps" in sfiles:
                assert sfiles[f"{d}/maps"] == gfiles[f"{d}/maps"], f"{d}/maps"
                n += bool(gfiles[f"{d}/maps"])
        assert n >= 20, f"only {n} non-empty maps compared"


    def test_auxv(self, both):
        gfiles, _, me, agent, (sfiles, _, _) = both
        n = 0
        for d in shadow_dirs(gfiles, me, agent):
            path = f"{d}/auxv"
            if path in sfiles:
                assert sfiles[path].encode("utf-8", "surrogateescape") == gfiles[path], path
                n += bool(gfiles[path])
        assert n >= 20, f"only {n} auxv compared"


    def test_fd_fdinfo_links(self, both):
        gfiles, glinks, me, agent, (sfiles, slinks, sdirs) = both
        procs = {d for d in shadow_dirs(gfiles, me, agent) if "/task/" not in d}
        kinds = set()
        for path, target in glinks.items():
            pid = path.split("/")[0]
            if pid not in procs or (is_kworker(gfiles, pid) and f"{pid}/stat" not in sfiles):
                continue  # not compared, or a kernel worker that exited meanwhile
            if not target:  # exe of a kernel thread: a link that does not resolve
                continue
            assert path in slinks, f"{path} -> {target} missing"
            assert slinks[path][0] == target, f"{path}: guest {target}, shadow {slinks[path][0]}"
            kinds.add(re.sub(r"\[\d+\]", "[N]", target.split(":")[0]) if ":" in target else "path")
        for path, text in gfiles.items():
            pid = path.split("/")[0]
            if "/fdinfo/" in path and pid in procs:
                # fd.c seq_show's four lines, and the extras of the kinds rendered
                lines = text.splitlines(True)
                want = lines[:4] + [x for x in lines[4:] if x.startswith(FDINFO_KNOWN)]
                assert sfiles[path] == "".join(want), f"{path}: guest {text!r}"
        for path in slinks:
            pid = path.split("/")[0]
            if "/fd/" in path and "/task/" not in path and pid in procs:
                assert path in glinks, f"{path} is not in the guest"
        assert {"path", "socket", "net"} <= kinds, kinds


    def test_modes(self, both):
        _, glinks, me, agent, (_, slinks, sdirs) = both
        assert sdirs["1/fd"] == 0o500 and sdirs["1/ns"] == 0o511 and sdirs["1/fdinfo"] == 0o555
        assert slinks["1/fd/0"][1] == 0o700 and slinks["1/exe"][1] == 0o777


# ----------------------------------------------------------- split VM
SPLIT_PREFIX = SESSION_TAG + "d"
SPLIT_SUBNET = "10.86"


def hosts(env, *args, check=True):
    p = subprocess.run([VMT, "hosts", *args], env=env, capture_output=True, text=True,
                       timeout=300)
    assert not check or p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="class")
def split_vm(env):
    """The guest split onto the main host (48M) and two sub-hosts."""
    hosts(env, "up", "--prefix", SPLIT_PREFIX, "--subnet", SPLIT_SUBNET, "--subhosts", "2",
          "--link", "none", "--capacity", "512M")
    vm = None
    try:
        vm = start_vm(env, "taskdet-split", procs=20, mem="256M")
        vm.vmt("split", vm.name, "--main-mem", "48M", "--subhosts", "sub1,sub2",
               "--hosts-prefix", SPLIT_PREFIX)
        yield vm
    finally:
        if vm:
            stop_vm(vm)
        hosts(env, "down", "--prefix", SPLIT_PREFIX, check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)")
class TestSplit:
    """Method 1 (the runtime fetches sub-host pages itself): the same files,
    with pages brought in by the walkers' prefetch batches."""

    def test_split_method1(self, split_vm):
        d = split_vm.desc
        # push the working set out of the main host, so that the walk has to fetch
        split_vm.guest("dd if=/dev/zero of=/dev/null bs=64M count=2 2>/dev/null")
        env = {"VMT_DUMP_PAGETABLE": d["split"]["pagetable"],
               "VMT_DUMP_PSK": d["split"]["psk_file"], "VMT_DUMP_FETCH": "runtime"}
        # sub-hosts are reached from the main host's namespace, as `vmt` does
        *both, err = read_both(split_vm, env, d["split"].get("main_netns") or None)
        m = re.search(r"fetched (\d+) round_trips (\d+) errors (\d+)", err)
        assert m and int(m[1]) > 0 and int(m[3]) == 0, err
        TestUnsplit.test_stat_status_statm(None, both)
        TestUnsplit.test_maps_exact(None, both)
        TestUnsplit.test_fd_fdinfo_links(None, both)
