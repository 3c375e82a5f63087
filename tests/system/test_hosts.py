"""System tests of `vmt hosts` (namespaces, veths, tc, tmpfs stores) and
`vmt subhost` (supervised nbdkit exports with TLS-PSK).

Every prefix is unique to this test session; a module fixture always runs
`vmt hosts down`, and the last test checks that nothing is left: no
namespace of our prefixes, no nbdkit serving from our run dir, no mount
under it.  Traffic goes only to the namespaces made here and to loopback;
every client call has a timeout.
"""
import json
import os
import socket
import subprocess

import pytest

from conftest import SESSION_TAG, VMT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, tc, mount)")

# SESSION_TAG is "t" + 6 hex digits; one more letter per set of hosts (8 chars max).
PREFIX = SESSION_TAG + "a"
PREFIX_NONE = SESSION_TAG + "b"
PREFIX_CAP = SESSION_TAG + "c"
PREFIX_FAIL = SESSION_TAG + "d"
ALL_PREFIXES = (PREFIX, PREFIX_NONE, PREFIX_CAP, PREFIX_FAIL)
TIMEOUT = 60


def vmt(env, *args, check=True, timeout=TIMEOUT):
    p = subprocess.run([VMT, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"vmt {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def run(*args, check=True, timeout=TIMEOUT, netns=None, **kw):
    cmd = list(args)
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr!r}")
    return p


def netns_list():
    out = run("ip", "netns", "list", text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def state(env, prefix):
    return json.loads(vmt(env, "hosts", "show", "--prefix", prefix, "--json").stdout)


def uri(addr, export, key=None, user="vmt"):
    """An NBD URI for nbdinfo/nbdcopy: nbds:// with the key file, or plain nbd://."""
    if key:
        return f"nbds://{user}@{addr}/{export}?tls-psk-file={key}"
    return f"nbd://{addr}/{export}"


def make_key(env, path, user="vmt"):
    vmt(env, "subhost", "key", "--out", str(path), "--user", user)
    assert os.stat(path).st_mode & 0o777 == 0o600
    return str(path)


def down(env, prefix):
    return vmt(env, "hosts", "down", "--prefix", prefix, check=False, timeout=120)


@pytest.fixture(scope="module")
def hosts(env):
    """Two sub-hosts on 1gbit links, 256M of store each."""
    try:
        p = vmt(env, "hosts", "up", "--prefix", PREFIX, "--subhosts", "2",
                "--capacity", "256M")
        assert "up:" in p.stdout
        yield state(env, PREFIX)
    finally:
        p = down(env, PREFIX)
        assert p.returncode == 0, p.stderr


def start_export(env, sub, vm, size, key=None, prefix=PREFIX):
    args = ["subhost", "start", "--prefix", prefix, "--on", sub, "--vm", vm, "--size", size]
    args += ["--psk", key] if key else ["--insecure"]
    addr, export = vmt(env, *args).stdout.split()
    assert export == vm
    return addr


def test_up_show(env, hosts):
    main = hosts["main_netns"]
    assert main == f"{PREFIX}-main"
    assert {main, f"{PREFIX}-sub1", f"{PREFIX}-sub2"} <= netns_list()
    assert hosts["link"] == "1gbit" and hosts["complete"]
    for k, sub in enumerate(hosts["subhosts"], 1):
        assert sub["name"] == f"sub{k}"
        assert sub["addr"] == f"10.77.{k}.2" and sub["main_addr"] == f"10.77.{k}.1"
        # veth ends exist where they should, with the tbf rate on both
        for ns, dev in ((main, sub["main_if"]), (sub["netns"], sub["sub_if"])):
            run("ip", "-n", ns, "link", "show", dev)
            q = run("tc", "-n", ns, "qdisc", "show", "dev", dev, text=True).stdout
            assert "tbf" in q and "rate 1Gbit" in q, q
        assert sub["rate_main"] == "1Gbit" and sub["rate_sub"] == "1Gbit"
        # reachable: once, bounded
        run("ping", "-c", "1", "-W", "2", sub["addr"], netns=main)
        # the store is a tmpfs of the capacity
        st = os.statvfs(sub["store"])
        assert st.f_blocks * st.f_frsize == 256 << 20
    text = vmt(env, "hosts", "--prefix", PREFIX).stdout
    assert "sub2" in text and "10.77.2.2" in text


def test_up_again_is_noop(env, hosts, run_dir):
    path = os.path.join(run_dir, "hosts", PREFIX, "hosts.json")
    before = open(path).read()
    p = vmt(env, "hosts", "up", "--prefix", PREFIX, "--subhosts", "2", "--capacity", "256M")
    assert p.stdout.startswith("already up")
    assert open(path).read() == before


def test_up_other_options_refused(env, hosts, run_dir):
    path = os.path.join(run_dir, "hosts", PREFIX, "hosts.json")
    before = open(path).read()
    p = vmt(env, "hosts", "up", "--prefix", PREFIX, "--subhosts", "3", "--link", "100mbit",
            "--capacity", "256M", check=False)
    assert p.returncode == 1
    assert "sub-hosts: 2 up, 3 asked" in p.stderr and "link: 1gbit up, 100mbit asked" in p.stderr
    assert "vmt hosts down" in p.stderr
    assert open(path).read() == before
    assert f"{PREFIX}-sub3" not in netns_list()
    q = run("tc", "-n", f"{PREFIX}-main", "qdisc", "show", "dev", f"{PREFIX}-m1", text=True)
    assert "rate 1Gbit" in q.stdout


def test_link_none_has_no_tbf(env):
    try:
        vmt(env, "hosts", "up", "--prefix", PREFIX_NONE, "--subhosts", "1", "--link", "none",
            "--capacity", "16M", "--subnet", "10.78")
        s = state(env, PREFIX_NONE)
        sub = s["subhosts"][0]
        assert sub["addr"] == "10.78.1.2" and sub["rate_main"] == "none"
        for ns, dev in ((s["main_netns"], sub["main_if"]), (sub["netns"], sub["sub_if"])):
            q = run("tc", "-n", ns, "qdisc", "show", "dev", dev, text=True).stdout
            assert "tbf" not in q, q
        run("ping", "-c", "1", "-W", "2", sub["addr"], netns=s["main_netns"])
    finally:
        assert down(env, PREFIX_NONE).returncode == 0
    assert not any(n.startswith(PREFIX_NONE + "-") for n in netns_list())


def test_export_tls(env, hosts, tmp_path):
    main = hosts["main_netns"]
    key = make_key(env, tmp_path / "vm1.psk", "vm1")
    addr = start_export(env, "sub1", "vm1", "8M", key)
    assert addr == "10.77.1.2:10809"
    good = uri(addr, "vm1", key, "vm1")
    out = run("nbdinfo", "--size", good, netns=main, text=True).stdout
    assert int(out) == 8 << 20
    data = os.urandom(1 << 20)
    (tmp_path / "in").write_bytes(data)
    run("nbdcopy", str(tmp_path / "in"), good, netns=main)
    run("nbdcopy", good, str(tmp_path / "out"), netns=main)
    back = (tmp_path / "out").read_bytes()
    assert back[:len(data)] == data and back[len(data):] == bytes(len(back) - len(data))

    # nbdkit offers no software ChaCha20, so TLS-PSK clients take AES-GCM
    # (unless the machine has a GnuTLS configuration of its own: that wins)
    store = hosts["subhosts"][0]["store"]
    conf = os.path.join(store, "vm1.gnutls.conf")
    if not os.path.exists("/etc/gnutls/config"):
        with open(os.path.join(store, "vm1.nbdkit.pid")) as f:
            npid = int(f.read())
        with open(f"/proc/{npid}/environ", "rb") as f:
            assert f"GNUTLS_SYSTEM_PRIORITY_FILE={conf}".encode() in f.read().split(b"\0")
        with open(conf) as f:
            assert "tls-disabled-cipher = CHACHA20-POLY1305" in f.read()

    # no key, no byte: a plain client is refused at the handshake
    p = run("nbdcopy", uri(addr, "vm1"), str(tmp_path / "nokey"), netns=main, check=False)
    assert p.returncode != 0 and b"TLS" in p.stderr
    assert not (tmp_path / "nokey").exists() or (tmp_path / "nokey").stat().st_size == 0
    p = run("nbdinfo", "--size", uri(addr, "vm1"), netns=main, check=False)
    assert p.returncode != 0
    # a wrong key (same user name, other bits) is refused
    wrong = make_key(env, tmp_path / "wrong.psk", "vm1")
    p = run("nbdinfo", "--size", uri(addr, "vm1", wrong, "vm1"), netns=main, check=False)
    assert p.returncode != 0 and b"handshake" in p.stderr

    # the state and `show` know the export; it is alive
    ex = state(env, PREFIX)["subhosts"][0]["exports"]
    assert [(e["vm"], e["addr"], e["alive"]) for e in ex] == [("vm1", addr, True)]
    # a second start of the same VM returns the running export
    assert start_export(env, "sub1", "vm1", "8M", key) == addr
    # and one of another size is refused
    p = vmt(env, "subhost", "start", "--prefix", PREFIX, "--on", "sub1", "--vm", "vm1",
            "--size", "16M", "--psk", key, check=False)
    assert p.returncode == 1 and "bytes" in p.stderr

    # stop: supervisor, nbdkit, data file and TLS configuration go
    vmt(env, "subhost", "stop", "--prefix", PREFIX, "--on", "sub1", "--vm", "vm1")
    assert not os.path.exists(os.path.join(store, "vm1.mem"))
    assert not os.path.exists(conf)
    assert state(env, PREFIX)["subhosts"][0]["exports"] == []
    assert run("nbdinfo", "--size", good, netns=main, check=False).returncode != 0


def test_crash_restart_keeps_data(env, hosts, tmp_path):
    main = hosts["main_netns"]
    key = make_key(env, tmp_path / "vm2.psk", "vm2")
    addr = start_export(env, "sub2", "vm2", "4M", key)
    good = uri(addr, "vm2", key, "vm2")
    data = os.urandom(4 << 20)
    (tmp_path / "in").write_bytes(data)
    run("nbdcopy", str(tmp_path / "in"), good, netns=main)
    lst = vmt(env, "subhost", "list", "--prefix", PREFIX, "--on", "sub2").stdout.split("\n")[1]
    old_nbdkit = int(lst.split()[2])

    vmt(env, "subhost", "crash", "--prefix", PREFIX, "--on", "sub2", "--vm", "vm2")
    lst = vmt(env, "subhost", "list", "--prefix", PREFIX, "--on", "sub2").stdout.split("\n")[1]
    assert lst.split()[3] == "yes" and int(lst.split()[2]) != old_nbdkit
    run("nbdcopy", good, str(tmp_path / "out"), netns=main)
    assert (tmp_path / "out").read_bytes() == data
    vmt(env, "subhost", "stop", "--prefix", PREFIX, "--on", "sub2", "--vm", "vm2")


def test_export_skips_port_in_use(env, hosts, tmp_path):
    """Port 10809 of sub2 taken by someone else: the export gets the next one."""
    sub = hosts["subhosts"][1]
    holder = subprocess.Popen(
        ["ip", "netns", "exec", sub["netns"], "python3", "-c",
         "import socket,sys,time; s=socket.socket(); "
         "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
         f"s.bind(('{sub['addr']}', 10809)); s.listen(); print('ok', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        addr = start_export(env, "sub2", "vm3", "1M")
        assert addr == f"{sub['addr']}:10810"
        out = run("nbdinfo", "--size", uri(addr, "vm3"), netns=hosts["main_netns"], text=True)
        assert int(out.stdout) == 1 << 20
        vmt(env, "subhost", "stop", "--prefix", PREFIX, "--on", "sub2", "--vm", "vm3")
    finally:
        holder.kill()
        holder.wait()


def test_capacity_enospc(env, tmp_path):
    """An 8M sub-host: a 16M write fails with ENOSPC, data already there stays."""
    try:
        vmt(env, "hosts", "up", "--prefix", PREFIX_CAP, "--subhosts", "1", "--link", "none",
            "--capacity", "8M", "--subnet", "10.79")
        main = f"{PREFIX_CAP}-main"
        key = make_key(env, tmp_path / "cap.psk")
        keep = start_export(env, "sub1", "keep", "4M", key, prefix=PREFIX_CAP)
        big = start_export(env, "sub1", "big", "16M", key, prefix=PREFIX_CAP)
        data = os.urandom(4 << 20)
        (tmp_path / "keep").write_bytes(data)
        run("nbdcopy", str(tmp_path / "keep"), uri(keep, "keep", key), netns=main)
        (tmp_path / "big").write_bytes(os.urandom(16 << 20))
        p = run("nbdcopy", str(tmp_path / "big"), uri(big, "big", key), netns=main, check=False)
        assert p.returncode != 0 and b"No space left on device" in p.stderr
        run("nbdcopy", uri(keep, "keep", key), str(tmp_path / "back"), netns=main)
        assert (tmp_path / "back").read_bytes() == data
        used = state(env, PREFIX_CAP)["subhosts"][0]["used"]
        assert used <= 8 << 20
    finally:
        assert down(env, PREFIX_CAP).returncode == 0


def ours(prefix):
    return [n for n in netns_list() if n.startswith(prefix + "-")]


def mounts_under(path):
    with open("/proc/self/mounts") as f:
        return [line for line in f if path in line]


def test_up_failure_undoes(env, run_dir):
    """sub2's store cannot be made (a file is in the way): sub1, fully made, is undone."""
    d = os.path.join(run_dir, "hosts", PREFIX_FAIL)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "sub2"), "w").close()
    try:
        p = vmt(env, "hosts", "up", "--prefix", PREFIX_FAIL, "--subhosts", "3",
                "--capacity", "16M", "--subnet", "10.80", check=False)
        assert p.returncode == 1 and "sub2" in p.stderr, p.stderr
        assert ours(PREFIX_FAIL) == []
        assert mounts_under(d) == []
        assert not os.path.exists(os.path.join(d, "hosts.json"))
    finally:
        os.unlink(os.path.join(d, "sub2"))
        down(env, PREFIX_FAIL)


def test_down_without_state(env, run_dir):
    """The state file lost: up refuses (namespaces without state), down still cleans all."""
    vmt(env, "hosts", "up", "--prefix", PREFIX_FAIL, "--subhosts", "2", "--capacity", "16M",
        "--subnet", "10.80")
    d = os.path.join(run_dir, "hosts", PREFIX_FAIL)
    try:
        os.unlink(os.path.join(d, "hosts.json"))
        p = vmt(env, "hosts", "up", "--prefix", PREFIX_FAIL, "--subhosts", "2",
                "--capacity", "16M", "--subnet", "10.80", check=False)
        assert p.returncode == 1 and "exists but no state" in p.stderr
        p = vmt(env, "hosts", "show", "--prefix", PREFIX_FAIL, check=False)
        assert p.returncode == 1
    finally:
        p = down(env, PREFIX_FAIL)
    assert p.returncode == 0 and "removed" in p.stdout
    assert ours(PREFIX_FAIL) == [] and mounts_under(d) == []
    assert not os.path.exists(d)


@pytest.mark.parametrize("args,msg", [
    (["--subhosts", "0"], "--subhosts"),
    (["--subhosts", "17"], "--subhosts"),
    (["--subhosts", "two"], "--subhosts"),
    (["--link", "fast"], "bad link rate"),
    (["--link", "1gbitx"], "bad link rate"),
    (["--capacity", "lots"], "--capacity"),
    (["--subnet", "10.300"], "bad subnet"),
    (["--prefix", "Bad!"], "bad prefix"),
    (["--prefix", "waytoolong"], "bad prefix"),
    (["--bogus"], ""),
])
def test_up_bad_input(env, args, msg):
    p = vmt(env, "hosts", "up", *args, check=False)
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr
    assert not any(n.startswith(("Bad", "waytoolong")) for n in netns_list())


def test_needs_root(env):
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", VMT]
    for sub in (["up"], ["down"]):
        p = subprocess.run([*nobody, "hosts", *sub, "--prefix", SESSION_TAG + "y"], env=env,
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 1 and "needs root" in p.stderr


def test_down_of_nothing(env):
    p = vmt(env, "hosts", "down", "--prefix", SESSION_TAG + "z")
    assert "nothing to do" in p.stdout


def test_help(env):
    for args in (["hosts", "--help"], ["hosts", "up", "--help"], ["hosts", "down", "--help"],
                 ["hosts", "show", "--help"], ["subhost", "--help"],
                 ["subhost", "serve", "--help"], ["subhost", "start", "--help"],
                 ["subhost", "stop", "--help"], ["subhost", "list", "--help"],
                 ["subhost", "crash", "--help"], ["subhost", "key", "--help"]):
        p = vmt(env, *args)
        assert p.stdout.startswith("usage: vmt " + args[0])


def test_serve_bad_input(env, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    base = ["subhost", "serve", "--vm", "x", "--size", "1M", "--store", str(store)]
    # no key and no --insecure
    p = vmt(env, *base, "--listen", "127.0.0.1:10999", check=False)
    assert p.returncode == 2 and "--psk" in p.stderr
    # both
    p = vmt(env, *base, "--listen", "127.0.0.1:10999", "--psk", "/nonexistent", "--insecure",
            check=False)
    assert p.returncode == 2
    # bad size, bad listen address
    p = vmt(env, "subhost", "serve", "--vm", "x", "--size", "1000", "--store", str(store),
            "--listen", "127.0.0.1:10999", "--insecure", check=False)
    assert p.returncode == 2
    p = vmt(env, *base, "--listen", "127.0.0.1", "--insecure", check=False)
    assert p.returncode == 2 and "ADDR:PORT" in p.stderr
    # a port in use on loopback
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        port = s.getsockname()[1]
        p = vmt(env, *base, "--listen", f"127.0.0.1:{port}", "--insecure", check=False)
        assert p.returncode == 1 and "cannot listen" in p.stderr
        assert "WARNING" in p.stderr  # --insecure says so
    finally:
        s.close()
    assert not (store / "x.pid").exists()


def test_serve_foreground_loopback(env, tmp_path):
    """`serve` outside any namespace, on loopback: serves, stops, keeps data on request."""
    store = tmp_path / "store"
    store.mkdir()
    key = make_key(env, tmp_path / "k.psk")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    vmt(env, "subhost", "serve", "--vm", "lo", "--size", "1M", "--store", str(store),
        "--listen", f"127.0.0.1:{port}", "--psk", key)
    try:
        out = run("nbdinfo", "--size", uri(f"127.0.0.1:{port}", "lo", key), text=True).stdout
        assert int(out) == 1 << 20
        # nbdkit gets /dev/null as stdin, no stray copy of it (nbdkit puts stdout there too)
        npid = (store / "lo.nbdkit.pid").read_text().strip()
        fds = os.listdir(f"/proc/{npid}/fd")
        nulls = [fd for fd in fds if os.readlink(f"/proc/{npid}/fd/{fd}") == "/dev/null"]
        assert all(int(fd) <= 2 for fd in nulls), nulls
        p = vmt(env, "subhost", "serve", "--vm", "lo", "--size", "1M", "--store", str(store),
                "--listen", f"127.0.0.1:{port}", "--psk", key, check=False)
        assert p.returncode == 1 and "served already" in p.stderr
    finally:
        vmt(env, "subhost", "stop", "--vm", "lo", "--store", str(store), "--keep-data")
    assert (store / "lo.mem").exists() and not (store / "lo.pid").exists()
    vmt(env, "subhost", "stop", "--vm", "lo", "--store", str(store))
    assert not (store / "lo.mem").exists()


def test_zz_nothing_left(env, run_dir):
    """Runs last in this module: nothing of ours is left on the machine."""
    for prefix in ALL_PREFIXES:
        down(env, prefix)
    assert not [n for n in netns_list() if n.startswith(SESSION_TAG)]
    with open("/proc/self/mounts") as f:
        assert run_dir not in f.read()
    ps = run("ps", "-eo", "pid,args", text=True).stdout
    assert not [line for line in ps.splitlines() if "nbdkit" in line and run_dir in line]
    assert not os.path.exists(os.path.join(run_dir, "hosts", PREFIX, "hosts.json"))
