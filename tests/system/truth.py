"""Ground truth: what the guest says about itself, through the in-guest agent.

Each function runs a busybox shell script in the guest that reads the
guest's own /proc, and parses the output into plain Python data that the
tests compare with what `vmt` read from the guest's memory.
"""

PROCS_SCRIPT = r"""
echo "ME $$"
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ -r $d/status ] || continue
  echo "P $p"
  grep -E '^(Name|State|Tgid|PPid|Uid|Gid|Threads):' $d/status 2>/dev/null
  printf 'C '; od -An -v -tx1 $d/cmdline 2>/dev/null | tr -d ' \n'; echo
  printf 'T '; ls $d/task 2>/dev/null | tr '\n' ' '; echo
  s=$(cat $d/stat 2>/dev/null); echo "S ${s##*) }"
done
"""


def guest_procs(vm):
    """{pid: {...}} for every process the guest's /proc lists, and the
    pid of the collecting shell (processes from it on are the script's own)."""
    out = vm.guest(PROCS_SCRIPT)
    procs, cur, me = {}, None, None
    for line in out.splitlines():
        if line.startswith("ME "):
            me = int(line[3:])
        elif line.startswith("P "):
            cur = {"pid": int(line[2:])}
            procs[cur["pid"]] = cur
        elif cur is None:
            continue
        elif line.startswith("C "):
            raw = bytes.fromhex(line[2:].strip())
            cur["cmdline"] = raw
        elif line.startswith("T "):
            cur["tids"] = sorted(int(t) for t in line[2:].split())
        elif line.startswith("S "):
            # /proc/PID/stat after "comm) ": state ppid pgrp session ...
            # Empty when the process exited between its status and its
            # stat; such an entry is dropped below.
            f = line[2:].split()
            if len(f) >= 4:
                cur["pgrp"], cur["session"] = int(f[2]), int(f[3])
        elif ":" in line:
            key, val = line.split(":", 1)
            val = val.strip()
            if key == "Name":
                cur["comm"] = val
            elif key == "State":
                cur["state"] = val[0]
            elif key in ("Tgid", "PPid", "Threads"):
                cur[key.lower()] = int(val)
            elif key in ("Uid", "Gid"):
                real, eff, saved, fs = (int(x) for x in val.split())
                k = key.lower()
                cur[k], cur["e" + k] = real, eff
    assert me is not None, "guest script printed no ME line"
    # A process that exited while the script read it left a partial entry:
    # it is not in the guest any more, so it is not part of the truth.
    gone = [p for p, d in procs.items() if "comm" not in d or "session" not in d]
    for p in gone:
        del procs[p]
    return procs, me


def argv_of(cmdline: bytes):
    """Split /proc/PID/cmdline as the kernel returns it into argv strings."""
    if not cmdline:
        return []
    parts = cmdline.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


def guest_modules(vm):
    mods = []
    for line in vm.guest("cat /proc/modules").splitlines():
        f = line.split()
        mods.append({"name": f[0], "size": int(f[1]), "refcnt": int(f[2]),
                     "deps": f[3], "state": f[4], "base": int(f[5], 16)})
    return mods


def _hexaddr_v4(h):
    b = bytes.fromhex(h)[::-1]
    return ".".join(str(x) for x in b)


def _hexaddr_v6(h):
    import ipaddress
    raw = bytes.fromhex(h)
    # /proc prints the address as four host-order (little-endian) u32 words.
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
    return str(ipaddress.IPv6Address(b"".join(words)))


def guest_inet_sockets(vm):
    """(proto, local, lport, remote, rport, state, uid, inode) from /proc/net."""
    out = vm.guest("for f in tcp tcp6 udp udp6; do echo \"F $f\"; cat /proc/net/$f; done")
    socks, proto = [], None
    for line in out.splitlines():
        if line.startswith("F "):
            proto = line[2:]
            continue
        f = line.split()
        if not f or f[0] == "sl":
            continue
        laddr, lport = f[1].split(":")
        raddr, rport = f[2].split(":")
        conv = _hexaddr_v6 if proto.endswith("6") else _hexaddr_v4
        socks.append({"proto": proto, "local": conv(laddr), "lport": int(lport, 16),
                      "remote": conv(raddr), "rport": int(rport, 16),
                      "state": int(f[3], 16), "uid": int(f[7]), "inode": int(f[9])})
    return socks


def guest_unix_sockets(vm):
    socks = []
    for line in vm.guest("cat /proc/net/unix").splitlines()[1:]:
        f = line.split()
        socks.append({"flags": int(f[3], 16), "type": int(f[4], 16), "st": int(f[5], 16),
                      "inode": int(f[6]), "path": f[7] if len(f) > 7 else ""})
    return socks


def is_kernel_thread(p):
    return p["pid"] == 2 or p["ppid"] == 2


def compare_ps(vm):
    """Every process of the guest, field by field: pid, ppid, uid, gid,
    euid, comm and the full argv.  Returns the number compared."""
    truth, me = guest_procs(vm)
    return check_ps(truth, me, vm.vmt_json("ps"))


def check_ps(truth, me, listing):
    """compare_ps against a truth taken earlier (guest_procs): processes
    started since (pid >= me) are left out.  Returns (compared, truth)."""
    seen = {p["pid"]: p for p in listing}
    # Processes from the collecting shell on belong to the agent's script.
    truth = {pid: p for pid, p in truth.items() if pid < me}
    seen = {pid: p for pid, p in seen.items() if pid < me}
    # Kernel workers come and go on their own; user processes must match exactly.
    user_truth = {pid for pid, p in truth.items() if not is_kernel_thread(p)}
    user_seen = {pid for pid, p in seen.items() if not is_kernel_thread(p)}
    assert user_seen == user_truth, (
        f"missing {sorted(user_truth - user_seen)}, extra {sorted(user_seen - user_truth)}")
    compared = 0
    for pid in sorted(set(truth) & set(seen)):
        t, s = truth[pid], seen[pid]
        for key in ("ppid", "uid", "gid", "euid"):
            assert s[key] == t[key], f"pid {pid} {key}: vmt {s[key]!r} guest {t[key]!r}"
        if is_kernel_thread(t):
            # A kworker's name carries the work item it ran last, which can
            # change between the two reads: its comm part must agree.
            assert s["name"].split("-")[0].split("+")[0] == t["comm"].split("-")[0].split("+")[0]
        else:
            assert s["name"] == t["comm"], f"pid {pid} name: {s['name']!r} vs {t['comm']!r}"
        assert s["argv"] == argv_of(t["cmdline"]), f"pid {pid} argv differs"
        for key in ("pgrp", "session"):
            assert s[key] == t[key], f"pid {pid} {key}: vmt {s[key]} guest {t[key]}"
        if not is_kernel_thread(t) and t["comm"] != "vmt-agent":
            # Sleeping workload processes hold still; the agent is busy serving.
            assert s["state"] == t["state"], f"pid {pid} state {s['state']} vs {t['state']}"
        assert s["threads"] == t["threads"], f"pid {pid} thread count"
        compared += 1
    return compared, truth
