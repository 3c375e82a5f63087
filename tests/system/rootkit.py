"""Rootkit behaviour made real: change a running guest's kernel structures
from outside, the way a rootkit inside it would (DKOM), through the VM's RAM
file while its vCPUs are stopped.

Shared by the tests of issue 10 (test_hidden.py: processes; the module and
hook tests of helper K) and test_ids_tools.py (unhide and chkrootkit on a
DKOM'd task).  Add what a new test needs here rather than copying it.

    with GuestRam(vm) as ram:          # QMP stop ... cont, pass or fail
        nxt = ram.rd(node)             # a u64 at a kernel virtual address
        ram.wr(node, nxt)              # written into the RAM file

Kernel virtual addresses are translated by `vmt mem translate` (the guest's
own page tables), once per page; struct offsets come from the profile
(`vmt profile field`).  Nothing here needs the guest's cooperation.
"""
import json
import os
import struct

from conftest import GUEST

KERNEL = os.path.join(GUEST, "vmlinuz")
PAGE = 4096


def field_offset(vm, type_, field):
    """Offset of type_.field (dotted path) in the BTF of the kernel vm runs
    (its descriptor's; the default guest's if it names none)."""
    kernel = vm.desc.get("kernel") or KERNEL
    p = vm.vmt("profile", "field", type_, field, "--kernel", kernel, "--json")
    return json.loads(p.stdout)["offset"]


def symbol(vm, name):
    """Run-time address of a kernel symbol (KASLR applied)."""
    p = vm.vmt("mem", "sym", "--vm", vm.name, "--json", name)
    return json.loads(p.stdout)[name]


def task_kva(vm, tid):
    """task_struct address of thread tid (any thread, leader or not)."""
    ps = vm.vmt_json("ps", "-T")
    return next(t["kva"] for t in ps if t["tid"] == tid)


class GuestRam:
    """The guest's RAM file with its vCPUs stopped: rd/wr by kernel VA."""

    def __init__(self, vm, pause=True):
        self.vm = vm
        self.pause = pause
        self._pa = {}
        self._f = None

    def __enter__(self):
        if self.pause:
            self.vm.vmt("vm", "pause", self.vm.name)
        try:
            self._f = open(self.vm.desc["mem_path"], "r+b")
        except BaseException:
            if self.pause:
                self.vm.vmt("vm", "resume", self.vm.name)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self._f.close()
        finally:
            if self.pause:
                self.vm.vmt("vm", "resume", self.vm.name)

    def pa(self, va):
        page = va & ~(PAGE - 1)
        if page not in self._pa:
            p = self.vm.vmt("mem", "translate", "--vm", self.vm.name, "--json", hex(page))
            self._pa[page] = json.loads(p.stdout)["pa"]
        # The RAM file is guest-physical from 0 (below the PCI hole: guests up to 3 GiB).
        return self._pa[page] + (va & (PAGE - 1))

    def read(self, va, n):
        assert (va & (PAGE - 1)) + n <= PAGE, "one page at a time"
        self._f.seek(self.pa(va))
        return self._f.read(n)

    def write(self, va, data):
        assert (va & (PAGE - 1)) + len(data) <= PAGE, "one page at a time"
        self._f.seek(self.pa(va))
        self._f.write(data)
        self._f.flush()

    def rd(self, va):
        return struct.unpack("<Q", self.read(va, 8))[0]

    def wr(self, va, v):
        self.write(va, struct.pack("<Q", v))


def list_unlink(ram, node):
    """list_del without poison: the neighbours point past node, which points
    at itself (so a later list_del by the kernel is harmless)."""
    nxt, prv = ram.rd(node), ram.rd(node + 8)
    assert ram.rd(nxt + 8) == node and ram.rd(prv) == node, "list not consistent"
    ram.wr(nxt + 8, prv)
    ram.wr(prv, nxt)
    ram.wr(node, node)
    ram.wr(node + 8, node)


def unlink_task(vm, pid, children=True):
    """Hide process pid as a DKOM rootkit does: its task_struct off
    init_task.tasks and (children=True) off its parent's children list; the
    pid index, its thread list and the scheduler still have it, so it runs
    and the guest's own /proc lookup of the pid still finds it.  Returns the
    task_struct's address."""
    kva = task_kva(vm, pid)
    tasks = field_offset(vm, "task_struct", "tasks")
    sibling = field_offset(vm, "task_struct", "sibling")
    with GuestRam(vm) as ram:
        list_unlink(ram, kva + tasks)
        if children:
            list_unlink(ram, kva + sibling)
    return kva


def unlink_thread(vm, tid):
    """Hide thread tid from its group's thread list (signal->thread_head);
    the pid index and the scheduler still have it.  Returns its task_struct."""
    kva = task_kva(vm, tid)
    node = field_offset(vm, "task_struct", "thread_node")
    with GuestRam(vm) as ram:
        list_unlink(ram, kva + node)
    return kva
