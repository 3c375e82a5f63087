"""The core of the system tests on each Debian 12 kernel line and flavour:
6.1 and 6.12, cloud and generic (issue 11, "Across kernels").

One VM per (kernel, paging mode), KASLR on; ps with command lines and
threads, lsmod, netstat, info and the KASLR slides are compared with the
guest's own /proc through its agent (truth.py), read from the RAM file
with the kernel image (--mem FILE --kernel VMLINUZ) and without it (--mem
FILE: the profile from guest memory).

Kernels (VMT_TEST_KERNELS): unset, the 6.12 cloud kernel (every CI run:
the 6.1 cloud kernel is the default guest of every other test module);
"all", the four; or a comma-separated list of 6.1-cloud, 6.1-generic,
6.12-cloud, 6.12-generic.  A kernel's guest is built on first use by
guest/build.sh --flavour into <build>/guest-<flavour> (the 6.1 cloud one is
$VMT_GUEST_DIR), which downloads its package from Debian's archive once.
"""
import json
import os
import subprocess

import pytest

from conftest import BUILD, GUEST, REPO, VMT, start_vm, stop_vm
from truth import (argv_of, check_ps, guest_inet_sockets, guest_modules, guest_procs,
                   guest_unix_sockets, is_kernel_thread)

FLAVOURS = ("6.1-cloud", "6.1-generic", "6.12-cloud", "6.12-generic")
ON_EVERY_RUN = ("6.12-cloud",)


def selected_kernels():
    want = os.environ.get("VMT_TEST_KERNELS", "").strip()
    if not want:
        return ON_EVERY_RUN
    if want == "all":
        return FLAVOURS
    names = tuple(n.strip() for n in want.split(",") if n.strip())
    unknown = set(names) - set(FLAVOURS)
    if unknown:
        raise ValueError(f"VMT_TEST_KERNELS: unknown {sorted(unknown)}; known {FLAVOURS}")
    return names


def guest_dir(flavour):
    """The guest image of a flavour, built (or brought up to date) now."""
    if flavour == "6.1-cloud":
        return GUEST
    out = os.path.join(BUILD, f"guest-{flavour}")
    p = subprocess.run([os.path.join(REPO, "guest", "build.sh"), "--flavour", flavour,
                        "--bin", BUILD, "--out", out],
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, f"guest/build.sh --flavour {flavour} failed: {p.stderr}"
    return out


class KernelVm:
    """A test VM booted on one kernel, and how to read it."""

    def __init__(self, vm, flavour, gdir, la57):
        self.vm, self.flavour, self.la57 = vm, flavour, la57
        self.kernel = os.path.join(gdir, "vmlinuz")
        with open(os.path.join(gdir, "kernel-release")) as f:
            self.release = f.read().strip()
        self.mem = vm.desc["mem_path"]

    def read(self, how, sub, *args):
        """`vmt SUB --json ARGS` on the RAM file, as for a QEMU that vmt did
        not start: with the kernel image, without it, or by the descriptor."""
        target = {"vm": ("--vm", self.vm.name),
                  "kernel": ("--mem", self.mem, "--kernel", self.kernel),
                  "memory": ("--mem", self.mem)}[how]
        return json.loads(self.vm.vmt(sub, *target, "--json", *args).stdout)


PARAMS = [(f, la57) for f in selected_kernels() for la57 in (False, True)]


@pytest.fixture(scope="module", params=PARAMS,
                ids=[f"{f}-{'la57' if la57 else '4level'}" for f, la57 in PARAMS])
def kvm(request, env):
    flavour, la57 = request.param
    gdir = guest_dir(flavour)
    extra = ["--kernel", os.path.join(gdir, "vmlinuz"),
             "--initrd", os.path.join(gdir, "initramfs.cpio.gz")]
    if la57:
        extra.append("--la57")
    name = "k" + flavour.replace(".", "") + ("-la57" if la57 else "")
    vm = start_vm(env, name, procs=20, extra=extra)
    try:
        yield KernelVm(vm, flavour, gdir, la57)
    finally:
        stop_vm(vm)


HOWS = pytest.mark.parametrize("how", ["kernel", "memory"])


def test_guest_runs_the_kernel(kvm):
    """The VM booted the kernel it was meant to, with every module loaded."""
    assert kvm.vm.guest("uname -r").strip() == kvm.release
    want = kvm.vm.guest("cat /etc/vmt/modules").split()
    loaded = {m["name"] for m in guest_modules(kvm.vm)}
    names = {os.path.basename(p).split(".ko")[0].replace("-", "_") for p in want}
    assert names and names <= loaded, f"not loaded: {sorted(names - loaded)}"


@HOWS
def test_ps_and_threads(kvm, how):
    """Every process field by field (argv in full), and every thread id."""
    truth, me = guest_procs(kvm.vm)
    n, truth = check_ps(truth, me, kvm.read(how, "ps"))
    assert n >= 20 + 5
    assert {0, 1000, 65534} <= {p["uid"] for p in truth.values()}
    assert any(p["state"] == "Z" for p in truth.values()), "workload zombie missing"
    assert any(len(p["cmdline"]) > 4096 for p in truth.values()), "long argv missing"
    by_pid = {}
    for t in kvm.read(how, "ps", "--threads"):
        by_pid.setdefault(t["pid"], []).append(t["tid"])
    users = [p for p in truth.values() if not is_kernel_thread(p)]
    assert any(p["threads"] >= 5 for p in users), "wl-threads (4 workers) missing"
    for p in users:
        assert sorted(by_pid[p["pid"]]) == p["tids"], f"threads of {p['pid']}"


def test_exe_and_environ(kvm):
    out = kvm.vm.guest('echo "ME $$"; for d in /proc/[0-9]*; do p=${d#/proc/}; '
                       'e=$(readlink $d/exe 2>/dev/null) || continue; '
                       'printf "P %s %s " "$p" "$e"; od -An -v -tx1 $d/environ | tr -d " \\n"; '
                       'echo; done')
    me, truth = None, {}
    for line in out.splitlines():
        f = line.split(" ")
        if f[0] == "ME":
            me = int(f[1])
        elif f[0] == "P":
            truth[int(f[1])] = (f[2], bytes.fromhex(f[3]) if len(f) > 3 else b"")
    seen = {p["pid"]: p for p in kvm.read("vm", "ps", "--exe", "--environ")}
    checked = 0
    for pid, (exe, environ) in truth.items():
        if pid < me:
            assert seen[pid]["exe"] == exe, f"pid {pid} exe"
            assert seen[pid]["environ"] == argv_of(environ), f"pid {pid} environ"
            checked += 1
    assert checked >= 20


@HOWS
def test_modules(kvm, how):
    truth = guest_modules(kvm.vm)
    seen = kvm.read(how, "lsmod")
    assert len(truth) >= 3
    assert [m["name"] for m in seen] == [m["name"] for m in truth]
    for s, t in zip(seen, truth):
        for key in ("size", "refcnt", "deps", "state", "base"):
            assert s[key] == t[key], f"module {t['name']} {key}: {s[key]} vs {t[key]}"


def _inet_key(s):
    return (s["proto"], s["local"], s["lport"], s["remote"], s["rport"], s["state"],
            s["uid"], s["inode"])


@HOWS
def test_sockets(kvm, how):
    truth = guest_inet_sockets(kvm.vm)
    seen = kvm.read(how, "netstat", "--tcp", "--udp")
    assert sorted(map(_inet_key, seen)) == sorted(map(_inet_key, truth))
    assert {"tcp", "tcp6", "udp", "udp6"} <= {s["proto"] for s in truth}
    assert any(s["state"] == 1 for s in truth), "an ESTABLISHED connection is expected"
    truth = guest_unix_sockets(kvm.vm)
    seen = kvm.read(how, "netstat", "--unix")
    key_t = sorted((s["inode"], s["type"], s["flags"], s["st"], s["path"]) for s in truth)
    key_s = sorted((s["inode"], s["type"], s["flags"], s["state"], s["path"]) for s in seen)
    assert key_s == key_t
    assert any(s["path"].startswith("@") for s in truth), "an abstract socket is expected"


@HOWS
def test_info_and_kaslr(kvm, how):
    g = kvm.vm.guest
    before = float(g("cut -d' ' -f1 /proc/uptime"))
    info = kvm.read(how, "info")
    after = float(g("cut -d' ' -f1 /proc/uptime"))
    assert info["release"] == kvm.release
    assert info["nodename"] == g("hostname").strip()
    assert before - 1.0 <= info["uptime_ns"] / 1e9 <= after
    assert info["mem_total_kb"] == int(g("grep MemTotal /proc/meminfo").split()[1])
    assert info["boot_time_s"] == int(g("grep btime /proc/stat").split()[1])
    assert info["nr_cpus"] == int(g("grep -c ^processor /proc/cpuinfo"))
    # KASLR is on and the slides found in memory are where the guest says it runs.
    assert "nokaslr" not in g("cat /proc/cmdline")
    text = int(g("grep -w _text /proc/kallsyms").split()[0], 16)
    link = kvm.vm.vmt("profile", "sym", "_text", "--kernel", kvm.kernel, "--json").stdout
    assert text == json.loads(link)[0]["address"] + info["virt_slide"]
    assert int(g("grep 'Kernel code' /proc/iomem").split("-")[0].strip(), 16) == \
        info["phys_load"]
    assert info["paging_levels"] == (5 if kvm.la57 else 4)
    assert ("la57" in g("grep -m1 flags /proc/cpuinfo").split()) == kvm.la57


NEEDS_FUSE = pytest.mark.skipif(not os.path.exists("/dev/fuse") or os.geteuid() != 0,
                                reason="the shadow /proc needs root and /dev/fuse")
SYSTEM_FILES = ("mounts", "cpuinfo", "meminfo", "vmstat", "interrupts", "stat", "locks")


def _split_files(text):
    files, cur = {}, None
    for line in text.splitlines():
        if line.startswith("@@ "):
            cur = files.setdefault(line[3:], [])
        elif cur is not None:
            cur.append(line)
    return files


@NEEDS_FUSE
def test_system_files_shape(kvm):
    """The system-wide files whose layout moved between kernels (irq
    descriptors, vm_stat_item, file_lock_core, cpuinfo_x86.topo, the mount
    tree): the shadow /proc lists the same lines as the guest's own."""
    script = "for f in " + " ".join(SYSTEM_FILES) + '; do echo "@@ $f"; cat /proc/$f; done'
    truth = _split_files(kvm.vm.guest(script))
    p = subprocess.run([VMT, "exec", "--vm", kvm.vm.name, "--", "sh", "-c", script],
                       env=kvm.vm.env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    seen = _split_files(p.stdout)
    assert seen["mounts"] == truth["mounts"]
    assert seen["locks"] == truth["locks"]
    moving = ("cpu MHz", "bogomips")
    assert [l for l in seen["cpuinfo"] if not l.startswith(moving)] == \
        [l for l in truth["cpuinfo"] if not l.startswith(moving)]
    for f in ("meminfo", "vmstat", "interrupts"):
        assert [l.split()[0] for l in seen[f] if l.split()] == \
            [l.split()[0] for l in truth[f] if l.split()], f"{f}: lines differ"
    intr = {f: [l for l in d["stat"] if l.startswith("intr ")][0].split() for f, d in
            (("seen", seen), ("truth", truth))}
    assert len(intr["seen"]) == len(intr["truth"]), "/proc/stat intr: irq count differs"
    assert sum(int(x) > 0 for x in intr["seen"][2:]) > 0, "no irq counted"


@NEEDS_FUSE
def test_shadow_proc(kvm):
    """Unmodified ps and lsmod through `vmt exec` list what the guest lists."""
    truth, me = guest_procs(kvm.vm)

    def vexec(*cmd):
        p = subprocess.run([VMT, "exec", "--vm", kvm.vm.name, "--", *cmd], env=kvm.vm.env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"vmt exec {' '.join(cmd)}: {p.stderr}"
        return p.stdout

    seen = {}
    for line in vexec("ps", "-eo", "pid,ppid,nlwp,comm", "--no-headers").splitlines():
        f = line.split(None, 3)
        seen[int(f[0])] = (int(f[1]), int(f[2]), f[3] if len(f) > 3 else "")
    users = {pid: p for pid, p in truth.items() if pid < me and not is_kernel_thread(p)}
    assert users and set(users) <= set(seen)
    for pid, p in users.items():
        assert seen[pid] == (p["ppid"], p["threads"], p["comm"]), f"pid {pid}"
    mods = [line.split()[0] for line in vexec("lsmod").splitlines()[1:]]
    assert mods == [m["name"] for m in guest_modules(kvm.vm)]
