"""Any QEMU guest whose RAM is a file, not only the ones `vmt vm start` makes:
QEMU is started here by hand as a q35 machine with 3 GiB, so guest RAM
lies both below the PCI hole and above 4 GiB, and read with
`vmt ps --mem RAMFILE --kernel VMLINUZ --machine q35`.  The ground truth
comes from the in-guest agent, spoken to directly over its socket."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import GUEST, SESSION_TAG, VMT
from truth import compare_ps


class AgentClient:
    """The in-guest agent's protocol (guest/README.md), minimal."""

    def __init__(self, path, timeout=240):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.s.settimeout(0.3)
        buf = b""
        while b"PONG\n" not in buf:
            if time.monotonic() > deadline:
                raise TimeoutError("agent did not answer")
            self.s.sendall(b"P\n")
            try:
                buf += self.s.recv(4096)
            except socket.timeout:
                pass
        time.sleep(0.3)  # let extra PONGs arrive, then drop them
        try:
            while self.s.recv(4096):
                pass
        except socket.timeout:
            pass
        self.s.settimeout(300)
        self.buf = b""

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("agent closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\n" not in self.buf:
            self.buf += self.s.recv(65536)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def run(self, cmd):
        data = cmd.encode()
        self.s.sendall(b"X %d\n" % len(data) + data)
        head = self._line().split()
        assert head[0] == "R", head
        code, outlen, errlen = int(head[1]), int(head[3]), int(head[4])
        out, err = self._read(outlen), self._read(errlen)
        return code, out.decode("utf-8", "surrogateescape"), err.decode()


class ForeignVm:
    def __init__(self, env, mem, kernel, agent):
        self.env, self.mem, self.kernel, self.agent = env, mem, kernel, agent

    def guest(self, script, timeout=300):
        code, out, err = self.agent.run(script)
        assert code == 0, err
        return out

    def vmt_json(self, sub, *args):
        p = subprocess.run([VMT, sub, "--mem", self.mem, "--kernel", self.kernel,
                            "--machine", "q35", "--json", *args],
                           env=self.env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)


@pytest.fixture(scope="module")
def q35_vm(env):
    d = tempfile.mkdtemp(prefix="vmt-foreign-")
    mem = f"/dev/shm/vmt-foreign-{SESSION_TAG}.ram"
    kernel = os.path.join(GUEST, "vmlinuz")
    qemu = subprocess.Popen(
        [os.environ.get("VMT_QEMU", "qemu-system-x86_64"), "-machine", "q35,memory-backend=ram0", "-accel", "tcg",
         "-cpu", "qemu64", "-m", "3G",
         "-object", f"memory-backend-file,id=ram0,size=3G,mem-path={mem},share=on",
         "-kernel", kernel, "-initrd", os.path.join(GUEST, "initramfs.cpio.gz"),
         "-append", "console=ttyS0 panic=-1 vmt.nproc=10",
         "-display", "none", "-monitor", "none", "-no-reboot",
         "-serial", f"file:{d}/console.log",
         "-serial", f"unix:{d}/agent.sock,server=on,wait=off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        vm = ForeignVm(env, mem, kernel, AgentClient(f"{d}/agent.sock"))
        vm.guest("i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 600 ]; do "
                 "sleep 0.2; i=$((i+1)); done; test -e /run/vmt-workload.ready")
        yield vm
    finally:
        qemu.kill()
        qemu.wait()
        if os.path.exists(mem):
            os.unlink(mem)
        shutil.rmtree(d, ignore_errors=True)


def test_q35_guest_above_4g(q35_vm):
    n, _ = compare_ps(q35_vm)
    assert n >= 15
    # The guest really uses RAM above 4 GiB: its own memory map says so.
    iomem = q35_vm.guest("grep 'System RAM' /proc/iomem")
    assert any(int(l.split("-")[0], 16) >= 1 << 32 for l in iomem.splitlines())
    info = q35_vm.vmt_json("info")
    code = q35_vm.guest("grep 'Kernel code' /proc/iomem").split("-")[0].strip()
    assert int(code, 16) == info["phys_load"]
