"""vmt-memcheck, the in-guest memory checker (guest/memcheck.c): it passes
on a plain guest, and it fails when one of its pages is changed behind its
back.  The corruption is done from the host, through the VM's RAM file,
while the guest is paused: so a later "zero mismatches" on a split VM means
something."""
import json
import struct
import time

import pytest

STATE = "/run/memcheck.json"
PROBE_PAGE = 777
SEED = 0x5eed

MASK = (1 << 64) - 1


# The pattern, as guest/memcheck.c computes it (splitmix64's mixer).
def _mix(z):
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK
    return z ^ (z >> 31)


def page_words(seed, page, gen):
    h = _mix(seed ^ ((page * 0x9e3779b97f4a7c15) & MASK))
    key = _mix(h ^ ((gen * 0xbf58476d1ce4e5b9 + 0x632be59bd9b4e019) & MASK))
    return [_mix((key + w * 0x94d049bb133111eb) & MASK) | 1 for w in range(512)]


def guest_run(vm, script, timeout=300):
    """Run a guest script; (exit code, stdout, stderr), whatever the exit code."""
    p = vm.vmt("vm", "exec", vm.name, "--timeout", str(timeout), "--json", "--", script,
               timeout=timeout + 30)
    res = json.loads(p.stdout)
    return res["exit_code"], res["stdout"], res["stderr"]


def read_state(vm):
    return json.loads(vm.guest(f"cat {STATE}"))


def ram_offset(vm, phys):
    """RAM file offset of a guest-physical address.  On the pc machine all of
    a guest of at most 2 GiB sits below the PCI hole at offset == address."""
    desc = vm.desc
    assert desc["machine"] == "pc" and desc["mem_bytes"] <= 2 << 30
    assert 0 < phys < desc["mem_bytes"]
    return desc["mem_path"], phys


def wait_passes(vm, passes, limit=120):
    """Poll the state file until the daemon has done `passes` passes."""
    for _ in range(limit):
        st = read_state(vm)
        if st["passes"] >= passes or not st["running"]:
            return st
        time.sleep(1)
    raise AssertionError(f"memcheck daemon stuck: {st}")


def test_clean_guest_has_no_mismatch(vm):
    code, out, err = guest_run(vm, "vmt-memcheck --size 160M --passes 3 --json")
    assert code == 0, err
    r = json.loads(out)
    assert r["pages"] == (160 << 20) // 4096
    assert r["passes"] == 3 and r["generation"] == 3
    assert r["pages_checked"] == 3 * r["pages"]
    assert r["mismatches"] == 0 and r["mismatched_words"] == 0
    assert r["first_mismatch"] is None and r["error"] is None


def test_file_mode_has_no_mismatch(vm):
    code, out, err = guest_run(vm, "vmt-memcheck --size 32M --passes 2 --json "
                                   "--file /run/memcheck.file; ls /run")
    assert code == 0, err
    r = json.loads(out[:out.rindex("}") + 1])
    assert r["mode"] == "file" and r["mismatches"] == 0 and r["pages_checked"] == 2 * r["pages"]
    assert "memcheck.file" not in out[out.rindex("}"):], "the file is removed after the run"


@pytest.mark.parametrize("args", ["--size 64G", "--size 0", "--size 1M --passes 0",
                                  "--size 12Q", "--daemon --size 1M", "--bogus"])
def test_bad_usage_is_refused(vm, args):
    code, _, err = guest_run(vm, f"vmt-memcheck {args}")
    assert code == 2, err
    if "64G" in args:
        assert "MemAvailable" in err


def _corrupt(vm, path, off, data):
    vm.vmt("vm", "pause", vm.name)
    try:
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(data)
    finally:
        vm.vmt("vm", "resume", vm.name)


def _probe_page_is_pattern(path, off, st):
    """The RAM file holds the probe page's pattern of some recent generation:
    proof that the pagemap address and the offset name the checker's page."""
    with open(path, "rb") as f:
        f.seek(off)
        words = list(struct.unpack("<512Q", f.read(4096)))
    gens = range(st["generation"], st["generation"] + 64)
    return any(words == page_words(SEED, PROBE_PAGE, g) for g in gens)


def test_corruption_through_the_ram_file_is_detected(vm):
    code, _, err = guest_run(vm, f"vmt-memcheck --daemon --state {STATE} --size 64M "
                                 f"--seed {SEED} --probe-page {PROBE_PAGE} --interval 1000 "
                                 f"--seconds 900")
    assert code == 0, err
    try:
        st = read_state(vm)
        assert st["running"] and st["probe"] and st["probe"]["page"] == PROBE_PAGE
        path, off = ram_offset(vm, st["probe"]["phys"])
        vm.vmt("vm", "pause", vm.name)
        try:
            assert _probe_page_is_pattern(path, off, st)
        finally:
            vm.vmt("vm", "resume", vm.name)

        # One word of the page changed: that page, that offset, those bytes.
        _corrupt(vm, path, off + 808, b"\xde\xad\xbe\xef\0\0\0\0")
        st1 = wait_passes(vm, read_state(vm)["passes"] + 2)
        assert st1["mismatches"] == 1 and st1["mismatched_words"] == 1, st1
        assert st1["mismatch_pages"] == [PROBE_PAGE]
        first = st1["first_mismatch"]
        assert (first["page"], first["offset"]) == (PROBE_PAGE, 808)
        assert int(first["got"], 16) == 0xefbeadde
        assert int(first["expected"], 16) != 0xefbeadde

        # The whole page zeroed (a lost page reads as zeros): every word fails.
        _corrupt(vm, path, off, bytes(4096))
        st2 = wait_passes(vm, read_state(vm)["passes"] + 2)
        assert st2["mismatches"] == 2 and st2["mismatched_words"] == 1 + 512, st2
        assert st2["mismatch_pages"] == [PROBE_PAGE, PROBE_PAGE]
        # The page never moved in the guest: the address we wrote was its own.
        assert st2["probe"]["phys"] == st["probe"]["phys"]
    finally:
        guest_run(vm, f"touch {STATE}.stop; i=0; while [ $i -lt 100 ] && "
                      f"grep -q '\"running\": true' {STATE}; do sleep 0.2; i=$((i+1)); done")
    code, out, _ = guest_run(vm, f"vmt-memcheck --status {STATE} --json")
    assert code == 1
    final = json.loads(out)
    assert not final["running"] and final["phase"] == "done" and final["mismatches"] == 2
