"""System tests: a real guest under stock QEMU, read from outside by `vmt`,
compared with what the guest itself says through its in-guest agent.

Every VM a test starts lives in a private run directory and is stopped at
the end, pass or fail; a final sweep kills any QEMU and removes any
/dev/shm RAM file this session left behind.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VMT_BUILD_DIR", os.path.join(REPO, "build"))
VMT = os.path.join(BUILD, "src", "vmt", "vmt")
GUEST = os.environ.get("VMT_GUEST_DIR", os.path.join(BUILD, "guest"))
SESSION_TAG = "t" + uuid.uuid4().hex[:6]


class Vm:
    """One running test VM and the ways to look at it."""

    def __init__(self, name, env):
        self.name = name
        self.env = env

    def vmt(self, *args, check=True, timeout=300):
        cmd = [VMT, *args]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr}")
        return p

    def vmt_json(self, sub, *args):
        return json.loads(self.vmt(sub, "--vm", self.name, "--json", *args).stdout)

    def guest(self, script, timeout=300):
        """Run a shell script in the guest through the agent; its stdout."""
        p = self.vmt("vm", "exec", self.name, "--timeout", str(timeout), "--json",
                     "--", script, timeout=timeout + 30)
        res = json.loads(p.stdout)
        assert res["exit_code"] == 0, f"guest script failed: {res['stderr']}"
        return res["stdout"]

    @property
    def desc(self):
        return json.loads(self.vmt("vm", "show", self.name, "--json").stdout)


@pytest.fixture(scope="session")
def run_dir():
    d = tempfile.mkdtemp(prefix="vmt-test-run-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def env(run_dir):
    e = dict(os.environ)
    e["VMT_RUN_DIR"] = run_dir
    e["VMT_GUEST_DIR"] = GUEST
    e.setdefault("XDG_CACHE_HOME", os.path.join(BUILD, "test-cache"))
    return e


def _sweep(run_dir):
    """Kill any QEMU left in run_dir and remove its RAM file."""
    if not os.path.isdir(run_dir):
        return
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name, "vm.json")
        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, ValueError):
            continue
        pid = d.get("qemu_pid")
        try:
            # Only if that pid is still this VM's QEMU (pids get reused).
            with open(f"/proc/{int(pid)}/cmdline", "rb") as f:
                if d.get("mem_path", "").encode() in f.read():
                    os.kill(int(pid), signal.SIGKILL)
        except (OSError, TypeError, ValueError):
            pass
        mem = d.get("mem_path")
        if mem and os.path.exists(mem):
            os.unlink(mem)


@pytest.fixture(scope="session", autouse=True)
def final_sweep(run_dir):
    yield
    _sweep(run_dir)


def start_vm(env, name, procs=20, mem="512M", extra=()):
    vm = Vm(f"{SESSION_TAG}-{name}", env)
    p = subprocess.run([VMT, "vm", "start", vm.name, "--procs", str(procs), "--mem", mem,
                        "--timeout", "240", *extra],
                       env=env, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        subprocess.run([VMT, "vm", "stop", vm.name], env=env, capture_output=True)
        raise AssertionError(f"vmt vm start failed: {p.stderr}")
    # The workload reports readiness itself; wait for it through the agent.
    try:
        vm.guest("i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 600 ]; do "
                 "sleep 0.2; i=$((i+1)); done; test -e /run/vmt-workload.ready", timeout=200)
    except BaseException:
        stop_vm(vm)
        raise
    return vm


def stop_vm(vm):
    subprocess.run([VMT, "vm", "stop", vm.name], env=vm.env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def vm(env):
    """The default guest: KASLR on, 4-level paging, a small workload."""
    v = start_vm(env, "base", procs=20)
    yield v
    stop_vm(v)
