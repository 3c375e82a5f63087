"""vmt reads a real guest from its memory file; the guest's own /proc,
read through the in-guest agent, is the ground truth."""
import json
import os
import subprocess

import pytest

from conftest import VMT, start_vm, stop_vm
from truth import (argv_of, compare_ps, guest_inet_sockets, guest_modules, guest_procs,
                   guest_unix_sockets, is_kernel_thread)


def test_ps_matches_guest(vm):
    n, truth = compare_ps(vm)
    assert n >= 20 + 5
    users = {p["uid"] for p in truth.values()}
    assert {0, 1000, 65534} <= users, "workload should run processes as several uids"
    assert any(p["state"] == "Z" for p in truth.values()), "workload zombie missing"
    assert any(len(p["cmdline"]) > 4096 for p in truth.values()), "long argv missing"


def test_threads_match_guest(vm):
    truth, me = guest_procs(vm)
    threads = vm.vmt_json("ps", "--threads")
    by_pid = {}
    for t in threads:
        by_pid.setdefault(t["pid"], []).append(t["tid"])
    multi = [p for p in truth.values() if p["threads"] >= 4 and not is_kernel_thread(p)]
    assert multi, "workload should have a multi-threaded process"
    for p in truth.values():
        if p["pid"] < me and not is_kernel_thread(p):
            assert sorted(by_pid[p["pid"]]) == p["tids"], f"threads of {p['pid']}"


def test_modules_match_guest(vm):
    truth = guest_modules(vm)
    seen = vm.vmt_json("lsmod")
    assert len(truth) >= 3
    assert [m["name"] for m in seen] == [m["name"] for m in truth]
    for s, t in zip(seen, truth):
        for key in ("size", "refcnt", "deps", "state", "base"):
            assert s[key] == t[key], f"module {t['name']} {key}: {s[key]} vs {t[key]}"


def _inet_key(s):
    return (s["proto"], s["local"], s["lport"], s["remote"], s["rport"], s["state"],
            s["uid"], s["inode"])


def test_inet_sockets_match_guest(vm):
    truth = guest_inet_sockets(vm)
    seen = [s for s in vm.vmt_json("netstat", "--tcp", "--udp")]
    # Sockets the agent's own transport could create do not exist (serial),
    # so the two views must agree exactly.
    assert sorted(map(_inet_key, seen)) == sorted(map(_inet_key, truth))
    protos = {s["proto"] for s in truth}
    assert {"tcp", "tcp6", "udp", "udp6"} <= protos
    assert any(s["state"] == 1 for s in truth), "an ESTABLISHED connection is expected"


def test_unix_sockets_match_guest(vm):
    truth = guest_unix_sockets(vm)
    seen = vm.vmt_json("netstat", "--unix")
    key_t = sorted((s["inode"], s["type"], s["flags"], s["st"], s["path"]) for s in truth)
    key_s = sorted((s["inode"], s["type"], s["flags"], s["state"], s["path"]) for s in seen)
    assert key_s == key_t
    assert any(s["path"].startswith("@") for s in truth), "an abstract socket is expected"
    assert any(s["path"].startswith("/") for s in truth), "a path socket is expected"


def test_info_matches_guest(vm):
    before = float(vm.guest("cut -d' ' -f1 /proc/uptime"))
    info = vm.vmt_json("info")
    after = float(vm.guest("cut -d' ' -f1 /proc/uptime"))
    assert info["release"] == vm.guest("uname -r").strip()
    assert info["nodename"] == vm.guest("hostname").strip()
    # The timekeeper in memory is as of the guest's last tick; an idle
    # (NO_HZ) guest may not have ticked for up to a second.
    assert before - 1.0 <= info["uptime_ns"] / 1e9 <= after
    memtotal = int(vm.guest("grep MemTotal /proc/meminfo").split()[1])
    assert info["mem_total_kb"] == memtotal
    assert info["boot_time_s"] == int(vm.guest("grep btime /proc/stat").split()[1])
    assert info["nr_cpus"] == int(vm.guest("grep -c ^processor /proc/cpuinfo"))


def test_kaslr_found_from_memory(vm):
    """The slides vmt found match the guest's own view of where it runs."""
    info = vm.vmt_json("info")
    text = vm.guest("grep -w _text /proc/kallsyms").split()[0]
    link = vm.vmt("profile", "sym", "_text", "--kernel", vm.desc["kernel"], "--json").stdout
    assert int(text, 16) == json.loads(link)[0]["address"] + info["virt_slide"]
    code = vm.guest("grep 'Kernel code' /proc/iomem").split("-")[0].strip()
    assert int(code, 16) == info["phys_load"]
    assert "nokaslr" not in vm.guest("cat /proc/cmdline")
    assert info["paging_levels"] == 4


@pytest.fixture(scope="module")
def vm_la57(env):
    v = start_vm(env, "la57", procs=20, extra=("--la57",))
    yield v
    stop_vm(v)


def test_la57_guest(vm_la57):
    info = vm_la57.vmt_json("info")
    assert info["paging_levels"] == 5
    assert "la57" in vm_la57.guest("grep -m1 flags /proc/cpuinfo")
    n, _ = compare_ps(vm_la57)
    assert n >= 25


@pytest.fixture(scope="module")
def vm_big(env):
    v = start_vm(env, "big", procs=1000, mem="1G")
    yield v
    stop_vm(v)


def test_thousand_processes(vm_big):
    n, _ = compare_ps(vm_big)
    assert n >= 1000


def test_exe_and_environ_match_guest(vm):
    """Executable paths (d_path over mm->exe_file) and environments (read
    from each process's own memory) for every user process."""
    out = vm.guest('echo "ME $$"; for d in /proc/[0-9]*; do p=${d#/proc/}; '
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
    seen = {p["pid"]: p for p in vm.vmt_json("ps", "--exe", "--environ")}
    checked = 0
    for pid, (exe, env) in truth.items():
        if pid >= me:
            continue
        assert seen[pid]["exe"] == exe, f"pid {pid} exe"
        assert seen[pid]["environ"] == argv_of(env), f"pid {pid} environ"
        checked += 1
    assert checked >= 20
    assert any("VMT_" in "".join(seen[p]["environ"]) for p in truth if p < me), \
        "the workload's process with extra environment variables"


def test_mem_symbols_and_reads_match_guest(vm):
    names = ["init_task", "linux_banner", "modules", "tcp_hashinfo", "init_uts_ns"]
    seen = vm.vmt_json("mem", "sym", *names)
    kallsyms = vm.guest("grep -wE '" + "|".join(names) + "' /proc/kallsyms")
    truth = {f[2]: int(f[0], 16) for f in (l.split() for l in kallsyms.splitlines())}
    assert seen == {n: truth[n] for n in names}
    # linux_banner read through the kernel page tables is what /proc/version prints.
    version = vm.guest("cat /proc/version").rstrip("\n")
    raw = vm.vmt("mem", "read", "--vm", vm.name, "--raw", hex(seen["linux_banner"]),
                 str(len(version))).stdout
    assert raw == version


def test_reading_never_allocates_in_the_memory_file(vm):
    """DESIGN.md invariant on the real RAM file: with the guest paused (so
    only vmt could change the file), every listing and a physical read over
    a range full of holes leave the file's allocated blocks as they were."""
    mem = vm.desc["mem_path"]
    vm.vmt("vm", "pause", vm.name)
    try:
        before = os.stat(mem).st_blocks
        for cmd in (["ps", "--threads", "--exe", "--environ"], ["lsmod"], ["netstat"],
                    ["info"]):
            vm.vmt(*cmd, "--vm", vm.name, "--json")
        # The top 64 MiB of a 512 MiB guest that runs a small workload holds holes.
        fd = os.open(mem, os.O_RDONLY)
        try:
            assert os.lseek(fd, 448 << 20, os.SEEK_HOLE) < 512 << 20, "no hole to read"
        finally:
            os.close(fd)
        for top in range(448 << 20, 512 << 20, 16 << 20):
            subprocess.run([VMT, "mem", "read", "--vm", vm.name, "--phys", "--raw", hex(top),
                            str(16 << 20)], env=vm.env, stdout=subprocess.DEVNULL, check=True)
        after = os.stat(mem).st_blocks
    finally:
        vm.vmt("vm", "resume", vm.name)
    assert after == before, f"reading allocated {after - before} blocks in {mem}"


def test_deleted_executable_is_marked(vm):
    """An executable unlinked after exec shows " (deleted)", as the guest's
    own readlink /proc/PID/exe does: an intruder's classic trace."""
    # busybox picks its applet from argv[0], so the copy keeps its name.
    out = vm.guest("mkdir -p /tmp/vmt-gone && cp /bin/busybox /tmp/vmt-gone/ && "
                   "(setsid /tmp/vmt-gone/busybox sleep 600 </dev/null >/dev/null 2>&1 &) && "
                   "sleep 0.3 && rm /tmp/vmt-gone/busybox && "
                   "for d in /proc/[0-9]*; do case $(readlink $d/exe) in *vmt-gone*) "
                   "echo ${d#/proc/} $(readlink $d/exe);; esac; done")
    pid, exe = out.split(None, 1)
    assert exe.strip() == "/tmp/vmt-gone/busybox (deleted)"
    seen = {p["pid"]: p for p in vm.vmt_json("ps", "--exe")}
    assert seen[int(pid)]["exe"] == exe.strip()
