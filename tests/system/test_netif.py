"""The guest's network interfaces read from its memory (lib/linux/netif.c),
served as /proc/net/if_inet6 and as the SIOCGIF* answers of `vmt exec`
(src/syscalls/netif.c), against what the guest itself says through its
agent: busybox `ifconfig -a` (its flags come from the guest kernel's
SIOCGIFFLAGS), /sys/class/net and /proc/net/if_inet6.

One VM for the module: lo and dummy0 (the dummy module), dummy0 given two
IPv4 addresses (one under the alias label dummy0:1) and an IPv6 one, and
brought up; dummy1 added, without an address, down.  The promiscuous-mode test turns promisc on last.
"""
import ipaddress
import json
import os
import re
import subprocess

import pytest

from conftest import BUILD, VMT, start_vm, stop_vm

DUMP = os.path.join(BUILD, "tests", "unit", "netif_dump")
SYSDUMP = os.path.join(BUILD, "tests", "unit", "sysfiles_dump")
IFPROMISC = "/usr/lib/chkrootkit/ifpromisc"

IFF = {"UP": 0x1, "BROADCAST": 0x2, "DEBUG": 0x4, "LOOPBACK": 0x8, "POINTOPOINT": 0x10,
       "NOTRAILERS": 0x20, "RUNNING": 0x40, "NOARP": 0x80, "PROMISC": 0x100,
       "ALLMULTI": 0x200, "MASTER": 0x400, "SLAVE": 0x800, "MULTICAST": 0x1000,
       "PORTSEL": 0x2000, "AUTOMEDIA": 0x4000, "DYNAMIC": 0x8000}
IFF_LOWER_UP, IFF_DORMANT = 0x10000, 0x20000

SETUP = ("modprobe dummy 2>/dev/null; ip link show dummy0 >/dev/null 2>&1 || "
         "ip link add dummy0 type dummy; "
         "ip addr add 10.9.8.7/24 brd + dev dummy0 && "
         "ip addr add 10.9.9.1/16 dev dummy0 label dummy0:1 && "
         "ip link set dummy0 up && ip -6 addr add fd00::7/64 dev dummy0 && "
         "ip link add dummy1 type dummy && "  # no address, down
         # the link-local address comes after DAD-free setup; wait for it (bounded)
         "i=0; while ! grep -q '^fe80.* dummy0$' /proc/net/if_inet6 && [ $i -lt 50 ]; do "
         "sleep 0.1; i=$((i+1)); done")


@pytest.fixture(scope="module")
def netvm(env):
    v = start_vm(env, "netif", procs=5)
    try:
        v.guest(SETUP)
    except BaseException:
        stop_vm(v)
        raise
    yield v
    stop_vm(v)


def walker(vm):
    """{name: device} as the walker reads them from the guest's memory."""
    d = vm.desc
    p = subprocess.run([DUMP, d["mem_path"], d["kernel"], str(d["mem_bytes"])], env=vm.env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return {dev["name"]: dev for dev in map(json.loads, p.stdout.splitlines())}


def busybox_ifconfig(text):
    """{label: {...}} from busybox `ifconfig -a` (the guest's own ioctls)."""
    out, cur = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            name = line.split()[0]
            cur = out[name] = {"inet6": set()}
            m = re.search(r"HWaddr (\S+)", line)
            cur["hwaddr"] = m.group(1).lower() if m else None
            continue
        if cur is None:
            continue
        if "inet addr:" in line:
            m = re.search(r"inet addr:(\S+)", line)
            cur["inet"] = m.group(1)
            for key, tag in (("broadcast", "Bcast"), ("netmask", "Mask"), ("peer", "P-t-P")):
                m = re.search(tag + r":(\S+)", line)
                if m:
                    cur[key] = m.group(1)
        elif "inet6 addr:" in line:
            m = re.search(r"inet6 addr: (\S+)/(\d+)", line)
            cur["inet6"].add((str(ipaddress.ip_address(m.group(1))), int(m.group(2))))
        elif "MTU:" in line:
            words = line.split("MTU:")[0].split()
            cur["flags"] = sum(IFF[w] for w in words)
            cur["mtu"] = int(re.search(r"MTU:(\d+)", line).group(1))
        elif "txqueuelen:" in line:
            cur["txqueuelen"] = int(re.search(r"txqueuelen:(\d+)", line).group(1))
    return out


def nettools_ifconfig(text):
    """{label: {...}} from net-tools `ifconfig -a` (the host's tool)."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\S+): flags=(\d+)<[^>]*>\s+mtu (\d+)", line)
        if m:
            cur = out[m.group(1)] = {"flags": int(m.group(2)), "mtu": int(m.group(3)),
                                     "inet6": set(), "hwaddr": None}
            continue
        if cur is None or not line.strip():
            continue
        f = line.split()
        if f[0] == "inet":
            cur["inet"] = f[1]
            for key, tag in (("netmask", "netmask"), ("broadcast", "broadcast"),
                             ("peer", "destination")):
                if tag in f:
                    cur[key] = f[f.index(tag) + 1]
        elif f[0] == "inet6":
            cur["inet6"].add((str(ipaddress.ip_address(f[1])), int(f[3])))
        elif f[0] in ("ether", "loop"):
            if f[0] == "ether":
                cur["hwaddr"] = f[1].lower()
            if "txqueuelen" in f:
                cur["txqueuelen"] = int(f[f.index("txqueuelen") + 1])
    return out


def guest_truth(vm):
    """busybox ifconfig -a, and per device /sys/class/net facts."""
    text = vm.guest("ifconfig -a; echo @@; cd /sys/class/net && for d in *; do "
                    "echo \"$d $(cat $d/ifindex $d/type $d/mtu $d/tx_queue_len $d/address "
                    "$d/broadcast $d/operstate $d/carrier 2>/dev/null | tr '\\n' ' ')\"; done")
    ifc, sysfs = text.split("@@\n")
    devs = {}
    for line in sysfs.splitlines():
        f = line.split()
        devs[f[0]] = {"ifindex": int(f[1]), "type": int(f[2]), "mtu": int(f[3]),
                      "txqlen": int(f[4]), "hwaddr": f[5], "broadcast": f[6],
                      "operstate": f[7], "carrier": f[8] if len(f) > 8 else None}
    return busybox_ifconfig(ifc), devs


def ip4_of(dev):
    return [(a["label"], a["local"], a["mask"], a["broadcast"]) for a in dev["ip4"]]


def test_walker_matches_guest(netvm):
    ifc, sysfs = guest_truth(netvm)
    mine = walker(netvm)
    assert set(mine) == set(sysfs) == {"lo", "dummy0", "dummy1"}
    for name, truth in sysfs.items():
        d = mine[name]
        for key in ("ifindex", "type", "mtu", "txqlen", "hwaddr", "broadcast"):
            assert d[key] == truth[key], (name, key)
        lower = IFF_LOWER_UP if truth["carrier"] == "1" else 0
        dormant = IFF_DORMANT if truth["operstate"] == "dormant" else 0
        assert d["if_flags"] == ifc[name]["flags"] | lower | dormant, name
        inet6 = {(str(ipaddress.ip_address(bytes.fromhex(a["addr"]))), a["prefixlen"])
                 for a in d["ip6"]}
        assert inet6 == ifc[name]["inet6"], name
    # every IPv4 address under its label, in the kernel's list order
    labels = {lab: t for lab, t in ifc.items() if "inet" in t}
    got = [a for d in mine.values() for a in ip4_of(d)]
    assert sorted(a[0] for a in got) == sorted(labels)
    for label, local, mask, bcast in got:
        assert local == labels[label]["inet"]
        assert mask == labels[label]["netmask"]
        assert bcast == labels[label].get("broadcast", "0.0.0.0")
    assert [a[0] for a in ip4_of(mine["dummy0"])] == ["dummy0", "dummy0:1"]
    assert mine["dummy0"]["if_flags"] & IFF["UP"] and mine["dummy0"]["if_flags"] & IFF["RUNNING"]


def test_if_inet6_exact(netvm):
    d = netvm.desc
    p = subprocess.run([SYSDUMP, d["mem_path"], d["kernel"], str(d["mem_bytes"]), "net/if_inet6"],
                       env=netvm.env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    head, _, body = p.stdout.decode().partition("\n")
    assert head.startswith("== net/if_inet6 "), head
    assert body == netvm.guest("cat /proc/net/if_inet6")


def vexec(vm, *cmd, check=True):
    p = subprocess.run([VMT, "exec", "--vm", vm.name, "--", *cmd], env=vm.env,
                       capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"vmt exec {' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    return p


@pytest.fixture(scope="module")
def supervised(netvm):
    """Skip when `vmt exec` answers no system calls from the guest (no supervisor)."""
    if vexec(netvm, "uname", "-r").stdout.strip() != netvm.guest("uname -r").strip():
        pytest.skip("vmt exec has no system-call supervisor in this build")
    return netvm


def test_ifconfig_through_exec(supervised):
    vm = supervised
    host = nettools_ifconfig(vexec(vm, "ifconfig", "-a").stdout)
    ifc, _ = guest_truth(vm)
    assert set(host) == set(ifc) == {"lo", "dummy0", "dummy0:1", "dummy1"}
    for name, truth in ifc.items():
        h = host[name]
        for key in ("flags", "mtu", "hwaddr", "inet", "netmask", "inet6"):
            assert h.get(key) == truth.get(key), (name, key)
        if truth.get("broadcast") not in (None, "0.0.0.0"):
            assert h.get("broadcast") == truth["broadcast"], name
        if "txqueuelen" in truth:
            assert h.get("txqueuelen") == truth["txqueuelen"], name


# A tool's own ioctls through vmt exec, with the errors Linux gives (python's fcntl.ioctl).
IOCTLS = r"""
import errno, fcntl, json, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def req(cmd, name=b"", tail=b""):
    try:
        return fcntl.ioctl(s, cmd, struct.pack("16s", name) + tail.ljust(24, b"\0"))[16:]
    except OSError as e:
        return errno.errorcode[e.errno]
out = {}
out["conf_null"] = struct.unpack("iiQ", fcntl.ioctl(s, 0x8912, struct.pack("iiQ", 0, 0, 0)))[0]
r = req(0x8933, b"dummy0")
out["index"] = struct.unpack("i", r[:4])[0]
out["name"] = fcntl.ioctl(s, 0x8910, struct.pack("16si20x", b"", out["index"]))[:16].rstrip(b"\0").decode()
out["name_bad"] = req(0x8910, b"", struct.pack("i", 999))
out["flags_alias"] = struct.unpack("H", req(0x8913, b"dummy0:1")[:2])[0]
out["flags_bad"] = req(0x8913, b"nosuch0")
out["addr_alias"] = socket.inet_ntoa(req(0x8915, b"dummy0:1")[4:8])
out["addr_none"] = req(0x8915, b"dummy1")
out["addr_bad"] = req(0x8915, b"nosuch0")
out["mtu"] = struct.unpack("i", req(0x8921, b"dummy1")[:4])[0]
out["metric"] = struct.unpack("i", req(0x891d, b"dummy0")[:4])[0]
print(json.dumps(out))
"""


def test_ioctls_through_exec(supervised):
    vm = supervised
    got = json.loads(vexec(vm, "python3", "-c", IOCTLS).stdout)
    ifc, sysfs = guest_truth(vm)
    assert got["conf_null"] == 3 * 40  # lo, dummy0, dummy0:1: one struct ifreq each
    assert got["index"] == sysfs["dummy0"]["ifindex"]
    assert got["name"] == "dummy0"
    assert got["name_bad"] == "ENODEV"
    assert got["flags_alias"] == ifc["dummy0"]["flags"]
    assert got["flags_bad"] == "ENODEV"
    assert got["addr_alias"] == "10.9.9.1"
    assert got["addr_none"] == "EADDRNOTAVAIL"
    assert got["addr_bad"] == "ENODEV"
    assert got["mtu"] == sysfs["dummy1"]["mtu"]
    assert got["metric"] == 0


def test_ip_link_refused(supervised):
    """iproute2 asks the kernel over NETLINK_ROUTE, which is not emulated: it
    must fail clearly, never list the host's interfaces."""
    p = vexec(supervised, "ip", "link", check=False)
    assert p.returncode != 0
    host_names = set(os.listdir("/sys/class/net")) - {"lo"}
    assert not any(f": {n}:" in p.stdout for n in host_names), p.stdout


def promisc_line(out, name):
    lines = [l for l in out.splitlines() if l.startswith(name + ":")]
    assert lines, out
    return lines[0]


def test_promisc(netvm):
    """Last: turns promisc on.  The walker sees it at once; chkrootkit's
    ifpromisc through vmt exec reports it (and did not before)."""
    ifpromisc = None
    try:
        ifpromisc = promisc_line(vexec(netvm, IFPROMISC).stdout, "dummy0")
    except AssertionError:
        pass
    assert not walker(netvm)["dummy0"]["if_flags"] & IFF["PROMISC"]
    netvm.guest("ip link set dummy0 promisc on")
    ifc, _ = guest_truth(netvm)
    assert ifc["dummy0"]["flags"] & IFF["PROMISC"]
    assert walker(netvm)["dummy0"]["if_flags"] & IFF["PROMISC"]
    if vexec(netvm, "uname", "-r").stdout.strip() != netvm.guest("uname -r").strip():
        pytest.skip("vmt exec has no system-call supervisor in this build (walker checked)")
    assert ifpromisc is not None and "PROMISC" not in ifpromisc, ifpromisc
    assert "PROMISC" in promisc_line(vexec(netvm, IFPROMISC).stdout, "dummy0")
