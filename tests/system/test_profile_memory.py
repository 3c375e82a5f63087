"""System tests of the kernel profile from guest memory alone (issue 11):
`--mem FILE` without `--kernel`.

One 512M guest (KASLR on): every reading command (ps with command lines,
lsmod, netstat, info) gives the guest's own /proc (truth.py) with `--mem`
alone and with `--mem --kernel`; `vmt profile show --from-memory` says
where each part was found, and agrees with the guest's /proc/kallsyms,
/proc/version and /sys/kernel/btf/vmlinux; the cache is keyed by what was
found.  Bad input on copies of the RAM file: no kernel at all, a corrupted
BTF blob, a second copy of the kernel image (the running one is taken, and
why is said).  A guest with 5-level paging and a split VM (classes of their
own: one VM at a time) are read too; the split VM's kernel is found with
--fetch none: nothing is read from its sub-hosts.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import GUEST, SESSION_TAG, VMT, start_vm, stop_vm
from truth import check_ps, guest_inet_sockets, guest_modules, guest_procs

KERNEL = os.path.join(GUEST, "vmlinuz")
SHM = "/dev/shm"


def run(env, *args, check=True, timeout=300):
    p = subprocess.run([VMT, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"vmt {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


class MemVm:
    """The guest read by its RAM file, with a cache of its own."""

    def __init__(self, vm, cache):
        self.vm, self.env, self.cache = vm, vm.env, cache
        self.mem = vm.desc["mem_path"]

    def read(self, sub, *args, kernel=False, mem=None):
        target = ["--mem", mem or self.mem, "--cache-dir", self.cache]
        if kernel:
            target += ["--kernel", KERNEL]
        return json.loads(run(self.env, sub, *target, "--json", *args).stdout)

    def show(self, *args, mem=None, check=True):
        return run(self.env, "profile", "show", "--from-memory", "--mem", mem or self.mem,
                   "--cache-dir", self.cache, *args, check=check)


@pytest.fixture(scope="class")
def mvm(env):
    cache = tempfile.mkdtemp(prefix="vmt-z-profmem-")
    vm = start_vm(env, "zprofmem", procs=20)
    try:
        yield MemVm(vm, cache)
    finally:
        stop_vm(vm)
        shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture
def ram_copy(mvm):
    """A copy of the guest's RAM file (the VM paused meanwhile), removed after."""
    path = os.path.join(SHM, f"vmt-{SESSION_TAG}-zcopy.ram")
    run(mvm.env, "vm", "pause", mvm.vm.name)
    try:
        shutil.copyfile(mvm.mem, path)
    finally:
        run(mvm.env, "vm", "resume", mvm.vm.name)
    try:
        yield path
    finally:
        os.unlink(path)


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


class TestOneGuest:
    def test_profile_from_memory(self, mvm):
        """Found, built once, then cached; its parts are the guest's own."""
        first = json.loads(mvm.show("--json").stdout)
        again = json.loads(mvm.show("--json").stdout)
        assert first["source"] == "memory" and not first["from_cache"]
        assert again["from_cache"] and again["cache_path"] == first["cache_path"]
        by_vm = json.loads(run(mvm.env, "profile", "show", "--from-memory", "--vm", mvm.vm.name,
                               "--cache-dir", mvm.cache, "--json").stdout)
        assert by_vm["source"] == "memory" and by_vm["cache_path"] == first["cache_path"]
        g = mvm.vm.guest
        assert first["banner"] == g("cat /proc/version")
        assert first["btf_bytes"] == int(g("stat -c %s /sys/kernel/btf/vmlinux"))
        info = mvm.read("info")
        assert first["text_pa"] == info["phys_load"]
        assert first["text_pa"] <= first["banner_pa"] < first["text_pa"] + first["image_size"]
        assert first["text_pa"] <= first["btf_pa"] < first["text_pa"] + first["image_size"]
        # Symbols: link-time addresses (vmcoreinfo's KERNELOFFSET), equal to the vmlinuz's.
        names = ["_text", "init_task", "linux_banner", "__start_BTF", "init_top_pgt"]
        mine = json.loads(run(mvm.env, "profile", "sym", *names, "--from-memory", "--mem",
                              mvm.mem, "--cache-dir", mvm.cache, "--json").stdout)
        image = json.loads(run(mvm.env, "profile", "sym", *names, "--kernel", KERNEL,
                               "--cache-dir", mvm.cache, "--json").stdout)
        assert mine == image
        kallsyms = {}
        for line in g("grep -wE '" + "|".join(names) + "' /proc/kallsyms").splitlines():
            addr, _, name = line.split()[:3]
            kallsyms[name] = int(addr, 16)
        for s in mine:
            assert s["address"] + info["virt_slide"] == kallsyms[s["name"]], s["name"]
        text = mvm.show().stdout
        assert re.search(r"source:\s+guest memory", text)
        assert f"_text at PA {first['text_pa']:#x}" in text
        text = run(mvm.env, "profile", "show", "--kernel", KERNEL, "--cache-dir",
                   mvm.cache).stdout
        assert f"source:   vmlinuz {KERNEL}" in text

    @pytest.mark.parametrize("kernel", [False, True], ids=["mem-only", "mem-kernel"])
    def test_ps(self, mvm, kernel):
        truth, me = guest_procs(mvm.vm)
        n, truth = check_ps(truth, me, mvm.read("ps", kernel=kernel))
        assert n >= 25
        assert any(len(p["cmdline"]) > 4096 for p in truth.values()), "long argv missing"

    @pytest.mark.parametrize("kernel", [False, True], ids=["mem-only", "mem-kernel"])
    def test_lsmod(self, mvm, kernel):
        truth = guest_modules(mvm.vm)
        seen = mvm.read("lsmod", kernel=kernel)
        assert len(truth) >= 3
        assert [(m["name"], m["size"], m["refcnt"], m["deps"]) for m in seen] == \
            [(m["name"], m["size"], m["refcnt"], m["deps"]) for m in truth]

    @pytest.mark.parametrize("kernel", [False, True], ids=["mem-only", "mem-kernel"])
    def test_netstat(self, mvm, kernel):
        def key(s):
            return (s["proto"], s["local"], s["lport"], s["remote"], s["rport"], s["state"],
                    s["uid"], s["inode"])
        truth = guest_inet_sockets(mvm.vm)
        assert truth
        assert sorted(map(key, mvm.read("netstat", "--tcp", "--udp", kernel=kernel))) == \
            sorted(map(key, truth))

    def test_info(self, mvm):
        g = mvm.vm.guest
        alone, both = mvm.read("info"), mvm.read("info", kernel=True)
        for key in ("release", "banner", "phys_load", "virt_slide", "paging_levels",
                    "page_offset_base", "vmemmap_base", "kernel_pgd", "nodename",
                    "mem_total_kb", "boot_time_s", "nr_cpus"):
            assert alone[key] == both[key], key
        assert alone["release"] == g("uname -r").strip()
        assert alone["nodename"] == g("hostname").strip()
        assert alone["virt_slide"] != 0, "KASLR is on: the slide is the real one"
        assert int(g("grep 'Kernel code' /proc/iomem").split("-")[0].strip(), 16) == \
            alone["phys_load"]

    def test_no_kernel_in_memory(self, mvm, tmp_path):
        junk = tmp_path / "junk.ram"
        with open(junk, "wb") as f:
            f.write(os.urandom(8 << 20))
            f.truncate(64 << 20)
        p = run(mvm.env, "info", "--mem", str(junk), "--cache-dir", mvm.cache, check=False)
        assert p.returncode == 1 and "no Linux kernel found" in p.stderr, p.stderr

    def test_corrupt_btf(self, mvm, ram_copy):
        found = json.loads(mvm.show("--json").stdout)
        patch(ram_copy, found["btf_pa"] + 24, b"\xff" * 64)  # the first types
        p = run(mvm.env, "info", "--mem", ram_copy, "--cache-dir", mvm.cache, check=False)
        assert p.returncode == 1, p.stdout
        assert "BTF" in p.stderr and "--kernel" in p.stderr, p.stderr
        # The vmlinuz's BTF is not memory's: with --kernel that is a clear error too.
        p = run(mvm.env, "info", "--mem", ram_copy, "--kernel", KERNEL, "--cache-dir",
                mvm.cache, check=False)
        assert p.returncode == 1 and "disagree" in p.stderr, p.stderr

    def test_two_kernel_images(self, mvm, ram_copy):
        """A copy of the kernel image elsewhere: the running one is taken, and why is said."""
        found = json.loads(mvm.show("--json").stdout)
        text, size = found["text_pa"], found["image_size"]
        # The copy goes where the guest has nothing (zero pages), 2 MiB aligned.
        with open(ram_copy, "rb") as f:
            data = f.read()
        step = 2 << 20
        zero = [data[b:b + step].count(0) == step for b in range(0, len(data), step)]
        need, at = -(-size // step), None
        for i in range(len(zero) - need + 1):
            cand = i * step
            if all(zero[i:i + need]) and (cand + size <= text or cand >= text + size):
                at = cand
                break
        assert at is not None, "no free range for the copy"
        patch(ram_copy, at, data[text:text + size])
        del data
        cache = tempfile.mkdtemp(prefix="vmt-z-two-")
        try:
            p = run(mvm.env, "profile", "show", "--from-memory", "--mem", ram_copy,
                    "--cache-dir", cache, "--verbose", "--json")
            shown = json.loads(p.stdout)
            assert shown["text_pa"] == text
            assert re.search(rf"kernel image at phys {text:#x} \(kallsyms at 0x[0-9a-f]+\): "
                             r"running", p.stderr), p.stderr
            if at < text:  # found first, and said why it is not the one
                assert re.search(rf"kernel image at phys {at:#x} .*: not running", p.stderr)
            info = json.loads(run(mvm.env, "info", "--mem", ram_copy, "--cache-dir", cache,
                                  "--json").stdout)
            assert info["phys_load"] == text
        finally:
            shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="class")
def la57_vm(env):
    cache = tempfile.mkdtemp(prefix="vmt-z-la57-")
    vm = start_vm(env, "zla57", procs=10, extra=["--la57"])
    try:
        yield MemVm(vm, cache)
    finally:
        stop_vm(vm)
        shutil.rmtree(cache, ignore_errors=True)


class TestLa57:
    def test_five_level_paging(self, la57_vm):
        """With 5-level paging, --mem alone finds the kernel, the slides and the processes."""
        g = la57_vm.vm.guest
        info = la57_vm.read("info")
        assert info["paging_levels"] == 5
        assert "la57" in g("grep -m1 flags /proc/cpuinfo").split()
        assert int(g("grep 'Kernel code' /proc/iomem").split("-")[0].strip(), 16) == \
            info["phys_load"]
        link = json.loads(run(la57_vm.env, "profile", "sym", "_text", "--from-memory", "--mem",
                              la57_vm.mem, "--cache-dir", la57_vm.cache, "--json").stdout)
        text = int(g("grep -w _text /proc/kallsyms").split()[0], 16)
        assert link[0]["address"] + info["virt_slide"] == text
        truth, me = guest_procs(la57_vm.vm)
        n, _ = check_ps(truth, me, la57_vm.read("ps"))
        assert n >= 15


PREFIX = SESSION_TAG + "z"
SUBNET = "10.97"


@pytest.fixture(scope="class")
def split_vm(env):
    run(env, "hosts", "up", "--prefix", PREFIX, "--subnet", SUBNET, "--subhosts", "1",
        "--link", "none", "--capacity", "512M", timeout=120)
    vm = None
    try:
        vm = start_vm(env, "zsplit", procs=20, mem="256M")
        run(env, "split", vm.name, "--main-mem", "48M", "--subhosts", "sub1",
            "--hosts-prefix", PREFIX, timeout=300)
        yield vm
    finally:
        if vm:
            stop_vm(vm)
        run(env, "hosts", "down", "--prefix", PREFIX, check=False, timeout=120)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)")
class TestSplitVm:
    def test_search_reads_main_host_only(self, split_vm):
        """The kernel is found with no page from the sub-host (--fetch none fails on any)."""
        d = split_vm.desc
        cache = tempfile.mkdtemp(prefix="vmt-z-split-")
        try:
            p = run(split_vm.env, "profile", "show", "--from-memory", "--mem", d["mem_path"],
                    "--pagetable", d["split"]["pagetable"], "--fetch", "none", "--stats",
                    "--cache-dir", cache, "--json")
            shown = json.loads(p.stdout)
            assert shown["source"] == "memory" and not shown["from_cache"]
            assert "pages on sub-hosts 0" in p.stderr, p.stderr
            assert shown["banner"] == split_vm.guest("cat /proc/version")
        finally:
            shutil.rmtree(cache, ignore_errors=True)
