"""The guest keeps running while vmt reads it: processes are created and
destroyed under the walker's feet.  Every listing must still end cleanly
(exit 0 with valid output, or exit 1 with one line saying what broke), never
crash or hang, and the long-lived processes must always be there."""
import json
import subprocess

import pytest

from conftest import VMT, start_vm, stop_vm


@pytest.fixture(scope="module")
def churning_vm(env):
    v = start_vm(env, "churn", procs=50)
    # A busy loop of short-lived processes (and their threads of execution
    # through fork/exec/exit), detached from the agent.
    v.guest("setsid sh -c 'while :; do for i in 1 2 3 4 5 6 7 8; do "
            "(echo $i > /dev/null) & done; wait; done' </dev/null >/dev/null 2>&1 &")
    yield v
    stop_vm(v)


def test_listings_while_guest_forks(churning_vm):
    vm = churning_vm
    stable = {p["pid"] for p in vm.vmt_json("ps") if p["comm"].startswith("wl-")}
    assert len(stable) >= 50
    ok, transient = 0, set()
    for _ in range(40):
        for cmd in (["ps", "--threads"], ["netstat"], ["lsmod"]):
            p = subprocess.run([VMT, *cmd, "--vm", vm.name, "--json"], env=vm.env,
                               capture_output=True, text=True, timeout=60)
            assert p.returncode in (0, 1), p.stderr
            if p.returncode == 1:
                assert p.stderr.count("\n") <= 2 and "vmt:" in p.stderr
                continue
            data = json.loads(p.stdout)
            if cmd[0] == "ps":
                pids = {t["pid"] for t in data}
                assert stable <= pids
                transient |= {t["pid"] for t in data if t["comm"] == "sh" and
                              t["pid"] not in stable}
            ok += 1
    assert ok >= 100, "most listings of a busy guest should succeed"
    assert len(transient) >= 5, "the guest should really have been forking"


def test_pause_gives_a_still_guest_and_resumes_it(churning_vm):
    """--pause reads a guest that holds still and lets it run again; a guest
    the user paused stays paused through a --pause listing."""
    vm = churning_vm

    def snapshot(*extra):
        return [(t["pid"], t["argv"]) for t in vm.vmt_json("ps", *extra)]

    assert snapshot("--pause")
    running = {p for p, _ in snapshot()}
    vm.guest("sleep 0.5")
    assert {p for p, _ in snapshot()} != running, "--pause must resume the guest"
    vm.vmt("vm", "pause", vm.name)
    try:
        a = snapshot()
        b = snapshot("--pause")
        c = snapshot()
    finally:
        vm.vmt("vm", "resume", vm.name)
    assert a == b == c, "a paused guest must stay paused through --pause"
