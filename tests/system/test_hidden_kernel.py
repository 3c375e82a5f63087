"""vmt hidden's modules and hooks checks on a real guest, rootkit behaviour
made real (tests/system/rootkit.py): a module unlinked from the modules
list by hand, a sys_call_table slot pointed at another system call, both
written into the running guest's RAM while its vCPUs are stopped.

Ground truth is the guest: its own /proc/modules (which the hidden module
leaves, as lsmod does), its /sys/module (which still has it), its agent
(which keeps answering).  One 512M guest for the module.

This kernel (Debian 6.1.192) dispatches x86-64 system calls through
x64_sys_call's switch (the BHI fix, in 6.1 stable since 6.1.85), so the
changed slot does not change what the guest runs; it is still what a
rootkit writes, and what vmt hidden must report.  It is restored after.
"""
import json
import struct
import time

import pytest

import rootkit
from conftest import start_vm, stop_vm

HIDE = "unix_diag"  # refcnt 0, used by nothing the agent or workload runs
CHURN = "udp_diag"  # unloaded and loaded again in the churn test
SLOT = 217  # getdents64
HOOKED_FN = "__x64_sys_kexec_load"  # a jmp over its ftrace NOP: never called here
OTHER = "__x64_sys_getdents"  # what the slot is pointed at


@pytest.fixture(scope="module")
def kvm(env):
    v = start_vm(env, "hk", procs=20)
    yield v
    stop_vm(v)


def hidden(vm, *args):
    """vmt hidden --json: (exit status, report)."""
    p = vm.vmt("hidden", "--vm", vm.name, "--json", *args, check=False, timeout=600)
    assert p.stdout, f"vmt hidden printed nothing: {p.stderr}"
    return p.returncode, json.loads(p.stdout)


def guest_modules(vm):
    """Names in the guest's own /proc/modules."""
    return sorted(line.split()[0] for line in vm.guest("cat /proc/modules").splitlines())


def assert_clean(rep):
    m, h = rep["modules"], rep["hooks"]
    assert m["discrepancies"] == [] and m["broken_views"] == [], m
    assert all(v["ok"] for v in m["views"].values()), m["views"]
    assert h["discrepancies"] == [], h
    assert "sys_call_table" in h["tables"] and "idt" in h["tables"], h
    assert "sys_call_table" in h["exact"], h  # the image is at hand: slot by slot
    assert h["checked"] > 400
    assert "modules" not in rep["checks_failed"] and "hooks" not in rep["checks_failed"]
    t = rep["text"]
    assert t["checked"] and t["discrepancies"] == [] and not t["partial"], t
    assert t["compared"] > 10_000_000  # every byte of text but the patch sites


def test_untouched_guest_is_clean(kvm):
    rc, rep = hidden(kvm)
    assert_clean(rep)
    names = guest_modules(kvm)
    assert rep["modules"]["listed"] == len(names)
    for v in ("list", "kset", "tree", "scan"):
        assert rep["modules"]["views"][v]["modules"] == len(names), (v, rep["modules"])
    assert rep["modules"]["scan_bytes"] > 0
    if not rep["processes"]["discrepancies"] and not rep["processes"]["broken_views"]:
        assert rc == 0
    seen = {m["name"]: m for m in kvm.vmt_json("lsmod", "--views")}
    assert sorted(seen) == names
    assert all(m["seen_by"] == ["list", "kset", "tree", "scan"] for m in seen.values())


def _churn_count(kvm):
    out = kvm.guest("cat /run/k-churn.n 2>/dev/null || echo 0").strip()
    return int(out or 0)


def test_untouched_guest_under_churn(kvm):
    """Processes fork and exit and a module is unloaded and loaded again in a
    loop (bounded: 120 s at most, killed after the runs) while vmt hidden
    runs: no module or hook discrepancy, and the guest churned all along."""
    ko = kvm.guest(f"find /lib/modules -name '{CHURN}.ko*'").split()[0]
    churn = kvm.guest(
        "rm -f /run/k-churn.n; (end=$(( $(date +%s) + 120 )); n=0; "
        "while [ $(date +%s) -lt $end ]; do "
        f"rmmod {CHURN}; insmod {ko}; /bin/true & /bin/true & wait; n=$((n+1)); "
        "echo $n > /run/k-churn.n; done) </dev/null >/dev/null 2>&1 & echo $!").strip()
    try:
        # the loop runs before the checks start (a loaded host makes a
        # TCG guest's first rmmod/insmod slow): at most 60 s
        for _ in range(120):
            if _churn_count(kvm) >= 2:
                break
            time.sleep(0.5)
        before = _churn_count(kvm)
        assert before >= 2, "the guest's churn loop did not get going"
        cleared = 0
        for _ in range(3):
            rc, rep = hidden(kvm, "--rechecks", "3", "--recheck-ms", "200")
            assert_clean(rep)
            cleared += rep["modules"]["cleared_by_recheck"]
        during = _churn_count(kvm) - before
    finally:
        kvm.guest(f"kill {churn} 2>/dev/null; sleep 0.5; grep -q '^{CHURN} ' /proc/modules || "
                  f"insmod {ko}; rm -f /run/k-churn.n; true")
    assert during >= 1, "the guest did not churn while vmt hidden ran"
    assert CHURN in guest_modules(kvm)
    print(f"churn: {during} module reloads during the checks, {cleared} discrepancies "
          "cleared by re-checks")


def test_hidden_module_and_hooked_slot(kvm):
    mods = {m["name"]: m for m in kvm.vmt_json("lsmod", "--views")}
    kva = mods[HIDE]["kva"]
    node = kva + rootkit.field_offset(kvm, "module", "list")
    table = rootkit.symbol(kvm, "sys_call_table")
    other = rootkit.symbol(kvm, OTHER)
    built = rootkit.symbol(kvm, "__x64_sys_getdents64")
    slot = table + SLOT * 8
    with rootkit.GuestRam(kvm) as ram:
        nxt, prv = ram.rd(node), ram.rd(node + 8)
        assert ram.rd(slot) == built
        rootkit.list_unlink(ram, node)
        ram.wr(slot, other)
    try:
        # The guest runs on, its own module list lies, its sysfs does not.
        assert HIDE not in guest_modules(kvm)
        assert kvm.guest(f"cat /sys/module/{HIDE}/initstate").strip() == "live"

        rc, rep = hidden(kvm)
        assert rc == 1
        found = rep["modules"]["discrepancies"]
        assert [m["name"] for m in found] == [HIDE], found
        assert found[0]["kva"] == kva
        assert found[0]["missing_from"] == ["list"]
        assert found[0]["seen_by"] == ["kset", "tree", "scan"]
        assert rep["modules"]["broken_views"] == []
        hooks = rep["hooks"]["discrepancies"]
        assert len(hooks) == 1, hooks
        h = hooks[0]
        assert (h["table"], h["index"], h["value"]) == ("sys_call_table", SLOT, other)
        assert (h["expected"], h["expected_sym"]) == (built, "__x64_sys_getdents64")
        assert h["actual_sym"] == OTHER and h["flags"] == ["mismatch"]

        # The text report names both, the views and the symbols.
        p = kvm.vmt("hidden", "--vm", kvm.name, "--rechecks", "0", check=False)
        assert p.returncode == 1
        lines = p.stdout.splitlines()
        mod_lines = [l for l in lines if l.startswith("hidden module")]
        hook_lines = [l for l in lines if l.startswith("hooked")]
        assert len(mod_lines) == 1 and HIDE in mod_lines[0], p.stdout
        assert "seen by kset,tree,scan; missing from list" in mod_lines[0]
        assert len(hook_lines) == 1, p.stdout
        assert f"sys_call_table[{SLOT}]" in hook_lines[0] and OTHER in hook_lines[0]
        assert "built with __x64_sys_getdents64" in hook_lines[0]
    finally:
        with rootkit.GuestRam(kvm) as ram:
            ram.wr(slot, built)
            # Back between its old neighbours, as list_add would put it.
            ram.wr(node, nxt)
            ram.wr(node + 8, prv)
            ram.wr(prv, node)
            ram.wr(nxt + 8, node)
    assert HIDE in guest_modules(kvm)
    rc, rep = hidden(kvm)
    assert_clean(rep)


def test_inline_hook_in_text(kvm):
    """A jmp written over a function's first bytes (its ftrace NOP), as an
    inline-hooking rootkit does: reported as exactly that function's text,
    with the image's bytes and memory's; restored after."""
    fn = rootkit.symbol(kvm, HOOKED_FN)
    target = rootkit.symbol(kvm, "__x64_sys_getpid")
    with rootkit.GuestRam(kvm) as ram:
        # With IBT (6.12) an endbr64 comes first, the ftrace NOP after it.
        site = fn + 4 if ram.read(fn, 4) == bytes.fromhex("f30f1efa") else fn
        orig = ram.read(site, 5)
        assert orig == bytes.fromhex("0f1f440000"), orig.hex()  # the NOP ftrace left
        jmp = b"\xe9" + struct.pack("<i", target - (site + 5))
        ram.write(site, jmp)
    try:
        rc, rep = hidden(kvm)
        assert rc == 1
        t = rep["text"]["discrepancies"]
        assert len(t) == 1, t
        sym = HOOKED_FN if site == fn else f"{HOOKED_FN}+0x4"
        assert (t[0]["va"], t[0]["len"], t[0]["sym"], t[0]["kind"]) == \
            (site, 5, sym, "ftrace-site")
        assert t[0]["actual"] == jmp.hex() and t[0]["expected"].startswith("e8")  # call __fentry__
        assert rep["hooks"]["discrepancies"] == [] and rep["modules"]["discrepancies"] == []
    finally:
        with rootkit.GuestRam(kvm) as ram:
            ram.write(site, orig)
    rc, rep = hidden(kvm)
    assert_clean(rep)
