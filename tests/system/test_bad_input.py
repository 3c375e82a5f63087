"""Bad input: a one-line error that names the problem, exit status 1 (2 for
bad usage), and nothing on stdout."""
import glob
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import BUILD, GUEST, VMT, start_vm, stop_vm

KERNEL = os.path.join(GUEST, "vmlinuz")


def run(env, *args):
    return subprocess.run([VMT, *args], env=env, capture_output=True, text=True, timeout=120)


def assert_fails(p, words, code=1):
    assert p.returncode == code, f"exit {p.returncode}, stderr {p.stderr!r}"
    assert p.stdout == "", "nothing may be written on failure"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, f"one line expected: {p.stderr!r}"
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"


@pytest.fixture
def scratch():
    d = tempfile.mkdtemp(prefix="vmt-bad-", dir="/dev/shm")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("cmd", ["ps", "lsmod", "netstat", "info"])
def test_missing_memory_file(env, cmd):
    assert_fails(run(env, cmd, "--mem", "/nonexistent/ram", "--kernel", KERNEL),
                 ["/nonexistent/ram", "No such file"])


def test_not_a_ram_file(env, scratch):
    path = os.path.join(scratch, "random.ram")
    with open(path, "wb") as f:
        f.write(os.urandom(64 << 20))
    assert_fails(run(env, "ps", "--mem", path, "--kernel", KERNEL), ["no Linux kernel"])


def test_empty_and_odd_files(env, scratch):
    empty = os.path.join(scratch, "empty.ram")
    open(empty, "wb").close()
    assert_fails(run(env, "ps", "--mem", empty, "--kernel", KERNEL), ["not a QEMU RAM file"])
    odd = os.path.join(scratch, "odd.ram")
    with open(odd, "wb") as f:
        f.write(b"\0" * ((2 << 20) + 5))
    assert_fails(run(env, "ps", "--mem", odd, "--kernel", KERNEL), ["not a QEMU RAM file"])


def test_bad_kernel_image(env, scratch):
    bogus = os.path.join(scratch, "vmlinuz")
    with open(bogus, "wb") as f:
        f.write(b"MZ" + os.urandom(1 << 20))
    mem = os.path.join(scratch, "x.ram")
    with open(mem, "wb") as f:
        f.truncate(64 << 20)
    assert_fails(run(env, "ps", "--mem", mem, "--kernel", bogus,
                     "--cache-dir", scratch), ["kernel"])


def test_bad_usage(env):
    for args in (["ps", "--bogus"], ["nosuchcommand"],
                 ["ps", "--vm", "a", "--mem", "b", "--kernel", "c"],
                 ["netstat", "extra-arg"], ["ps", "--pid", "abc"]):
        p = run(env, *args)
        assert p.returncode == 2, f"{args}: exit {p.returncode}"
        assert p.stdout == ""
    # --mem alone is a whole target now (the profile comes from memory): a
    # file that is not there is a failure, not a usage error
    assert_fails(run(env, "ps", "--mem", "/nonexistent/x"), ["/nonexistent/x"])


def test_vm_not_found(env):
    assert_fails(run(env, "ps", "--vm", "no-such-vm"), ["no-such-vm"])


@pytest.fixture(scope="module")
def vm_dead(env):
    v = start_vm(env, "dead", procs=5)
    yield v
    stop_vm(v)


def test_truncated_memory_file_and_dead_vm(env, vm_dead, scratch):
    desc = vm_dead.desc
    # A copy of the RAM file cut short is refused for the VM's size...
    cut = os.path.join(scratch, "cut.ram")
    with open(desc["mem_path"], "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(8 << 20))
    p = run(env, "ps", "--mem", cut, "--kernel", KERNEL)
    assert_fails(p, ["no Linux kernel"])
    # ...and once QEMU is gone, the VM is reported as not running.
    os.kill(desc["qemu_pid"], signal.SIGKILL)
    for _ in range(100):
        if not os.path.exists(f"/proc/{desc['qemu_pid']}"):
            break
        subprocess.run(["sleep", "0.05"])
    assert_fails(run(env, "ps", "--vm", vm_dead.name), ["not running"])


def other_kernel(cache):
    """A Debian cloud kernel other than the guest's, fetched once."""
    release = open(os.path.join(GUEST, "kernel-release")).read().strip()
    found = glob.glob(os.path.join(cache, "boot", "vmlinuz-*"))
    if found:
        return found[0]
    names = subprocess.run(
        ["apt-cache", "search", "--names-only", r"^linux-image-6\.[0-9.]+-[0-9]+-cloud-amd64$"],
        capture_output=True, text=True, check=True).stdout.split("\n")
    pkgs = sorted(n.split()[0] for n in names if n and release not in n)
    assert pkgs, "no other cloud kernel in the archive"
    os.makedirs(cache, exist_ok=True)
    subprocess.run(["apt-get", "download", "-q", pkgs[-1]], cwd=cache, check=True,
                   capture_output=True)
    deb = glob.glob(os.path.join(cache, "*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, cache], check=True)
    os.unlink(deb)
    return glob.glob(os.path.join(cache, "boot", "vmlinuz-*"))[0]


def test_profile_of_another_kernel(env, vm):
    other = other_kernel(os.path.join(BUILD, "test-cache", "other-kernel"))
    mem = vm.desc["mem_path"]
    p = run(env, "ps", "--mem", mem, "--kernel", other)
    assert_fails(p, ["does not match", "6.1"])
