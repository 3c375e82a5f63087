"""`vmt bench fig4 --quick`: the paper's Fig. 4 end to end, once.  Checks that
the results folder holds well-formed outputs (CSV header and rows, JSON with
the machine and every knob, real PNGs) and that everything the bench made is
gone afterwards, also after Ctrl-C in the middle.  Never its values: timings
are not tests."""
import csv
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import VMT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, tc)")

PREFIX = "fbt" + uuid.uuid4().hex[:3]  # hosts PREFIX-main/-sub1, VMs PREFIX-f4-N
SUBNET = "10.93"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def leftovers(env, prefix):
    """What of prefix is still there: namespaces, VMs, /dev/shm files."""
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    left = [l.split()[0] for l in ns.splitlines() if l.startswith(prefix + "-")]
    vms = subprocess.run([VMT, "vm", "list", "--json"], env=env, capture_output=True,
                         text=True).stdout
    left += [v["name"] for v in json.loads(vms or "[]") if v["name"].startswith(prefix)]
    left += [f for f in os.listdir("/dev/shm") if prefix in f]
    return left


def sweep(env, prefix):
    """Clean up after a failed bench (the test then fails on leftovers anyway)."""
    for name in leftovers(env, prefix):
        if not name.startswith(prefix + "-f4"):
            continue
        subprocess.run([VMT, "vm", "stop", name], env=env, capture_output=True)
    subprocess.run([VMT, "hosts", "down", "--prefix", prefix], env=env, capture_output=True)


@pytest.fixture(scope="module")
def quick(env):
    out = tempfile.mkdtemp(prefix="vmt-bench-")
    p = subprocess.run([VMT, "bench", "fig4", "--quick", "--prefix", PREFIX, "--subnet", SUBNET,
                        "--out", out], env=env, capture_output=True, text=True, timeout=900)
    left = leftovers(env, PREFIX)
    sweep(env, PREFIX)
    yield p, out, left
    shutil.rmtree(out, ignore_errors=True)


def test_quick_runs_and_cleans_up(quick):
    p, out, left = quick
    assert p.returncode == 0, p.stderr[-3000:]
    assert left == [], f"left behind: {left}"
    assert "Fig. 4(a)" in p.stdout and "Fig. 4(b)" in p.stdout and "Targets" in p.stdout
    assert "[" in p.stderr and "instance 0" in p.stderr  # progress lines


def test_csv_well_formed(quick):
    _, out, _ = quick
    with open(os.path.join(out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert rows
    assert set(rows[0]) >= {"figure", "method", "chunk_bytes", "rep", "instance", "ms",
                            "pages_read", "pageins", "main_chunks", "sub_chunks",
                            "moved_since_split"}
    seen = {(r["figure"], r["method"]) for r in rows}
    assert seen == {(f, m) for f in ("4a", "4b") for m in ("unsplit", "runtime", "vm")} | \
        {("4b", "local")}
    for r in rows:
        float(r["ms"])
        int(r["chunk_bytes"])
        if r["method"] == "local":  # (b)'s control: split, and nothing left the main host
            assert int(r["main_chunks"]) > 0 and int(r["sub_chunks"]) == 0
        elif r["method"] != "unsplit":  # a split VM's placement is recorded before every point
            assert int(r["main_chunks"]) > 0 and int(r["sub_chunks"]) > 0
    chunks = {int(r["chunk_bytes"]) for r in rows if r["figure"] == "4a" and r["method"] == "vm"}
    assert chunks == {4096, 2 << 20}


def test_json_has_machine_and_knobs(quick):
    _, out, _ = quick
    with open(os.path.join(out, "results.json")) as f:
        j = json.load(f)
    assert j["bench"] == "fig4" and j["complete"] is True
    for k in ("cpu", "cores", "kernel", "qemu", "date"):
        assert k in j["machine"], k
    for k in ("quick", "reps", "chunks", "mem", "main_mem", "subhosts", "link", "procs",
              "pt_chunk", "policy", "prefix"):
        assert k in j["knobs"], k
    assert j["knobs"]["quick"] is True and j["knobs"]["reps"] >= 1
    assert j["guest_kernel"]
    assert j["instances"] and all("split" in i for i in j["instances"])
    assert len(j["rows"]) > 0 and len(j["summary"]) > 0
    for s in j["summary"]:
        assert {"median_ms", "min_ms", "max_ms", "q1_ms", "q3_ms", "n"} <= set(s)
    # The pager's counters over each point of a split VM: the same page-ins as the row's,
    # and method 1 never asks the pager for anything.
    for r in j["rows"]:
        if r["method"] in ("unsplit", "local"):  # not split, or nothing remote: no pager
            assert r["pager"] is None, r
            continue
        pg = r["pager"]
        assert {"pageins", "pageouts", "bytes_in", "pagein_cmds", "pagein_batches",
                "pagein_reads", "pagein_net_us", "pagein_install_us"} <= set(pg), r
        assert pg["pageins"] == r["pageins"], r
        if r["figure"] == "4a" and r["method"] == "runtime":
            assert pg["pagein_cmds"] == 0, r
        if r["figure"] == "4a" and r["method"] == "vm":
            assert pg["pagein_cmds"] >= 1, r


def test_plots_are_png(quick):
    _, out, _ = quick
    for name in ("fig4a.png", "fig4b.png"):
        with open(os.path.join(out, name), "rb") as f:
            assert f.read(8) == PNG_MAGIC, name
    # Every series with data is drawn (the control in (b) once was not).
    for name, titles in (("fig4a.gp", ("method 1", "method 2", "unsplit VM")),
                         ("fig4b.gp", ("after method 2", "after method 1", "unsplit VM",
                                       "new QEMU, nothing remote"))):
        with open(os.path.join(out, name)) as f:
            gp = f.read()
        for t in titles:
            assert t in gp, f"{name} lacks {t!r}"


def test_interrupt_cleans_up(env, quick):
    """Ctrl-C (SIGINT to the process group) during the first split: exit 1,
    the partial results written, nothing left."""
    prefix = "fbi" + uuid.uuid4().hex[:3]
    out = tempfile.mkdtemp(prefix="vmt-bench-int-")
    p = subprocess.Popen([VMT, "bench", "fig4", "--quick", "--reps", "1", "--prefix", prefix,
                          "--subnet", "10.94", "--out", out], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        deadline = time.time() + 240
        for line in p.stderr:
            if "splitting" in line or time.time() > deadline:
                break
        time.sleep(1)
        os.killpg(p.pid, signal.SIGINT)
        p.communicate(timeout=300)
        assert p.returncode == 1
        with open(os.path.join(out, "results.json")) as f:
            assert json.load(f)["complete"] is False
        assert leftovers(env, prefix) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        sweep(env, prefix)
        shutil.rmtree(out, ignore_errors=True)


def test_usage_errors(env):
    def run(*args):
        return subprocess.run([VMT, "bench", *args], env=env, capture_output=True, text=True)
    assert run().returncode == 2
    assert run("fig4", "--chunks", "3K").returncode == 2
    assert run("fig4", "--reps", "0").returncode == 2
    assert run("nosuch").returncode == 2
    assert run("scale", "--axes", "procs,nosuch").returncode == 2
    assert run("scale", "--links", "fast").returncode == 2
    assert run("scale", "--mem-list", "1G,12").returncode == 2  # 12 MiB: below 64M
    assert run("scale", "--reps", "0").returncode == 2
    assert run("scale", "--help").returncode == 0
    assert run("--help").returncode == 0


# ---------------------------------------------------------------- vmt bench scale

SCALE_PREFIX = "sbt" + uuid.uuid4().hex[:3]  # hosts SCALE_PREFIX-main/-subN, VMs -sc-N
SCALE_AXES = ("procs", "subhosts", "link")  # the memory axis: the unit test and the full run
SCALE_COLUMNS = {"axis", "x", "label", "method", "chunk_bytes", "rep", "instance", "ms",
                 "cpu_ms", "pages_read", "pageins", "mem_mib", "procs", "subhosts", "link", "main_chunks",
                 "sub_chunks", "absent_chunks", "moved_since_split", "boot_ms", "fill_ms",
                 "split_ms", "load1"}


@pytest.fixture(scope="module")
def scale(env):
    """`vmt bench scale --quick`, one repetition, two points on three axes: four
    512 MiB instances (100 processes on one sub-host behind 1gbit; 300 processes;
    two sub-hosts; a bare veth), about 90 s."""
    out = tempfile.mkdtemp(prefix="vmt-bench-scale-")
    p = subprocess.run([VMT, "bench", "scale", "--quick", "--reps", "1", "--axes",
                        ",".join(SCALE_AXES), "--procs-list", "100,300", "--prefix",
                        SCALE_PREFIX, "--subnet", SUBNET, "--out", out], env=env,
                       capture_output=True, text=True, timeout=1200)
    left = leftovers(env, SCALE_PREFIX)
    for name in left:
        if name.startswith(SCALE_PREFIX + "-sc"):
            subprocess.run([VMT, "vm", "stop", name], env=env, capture_output=True)
    subprocess.run([VMT, "hosts", "down", "--prefix", SCALE_PREFIX], env=env,
                   capture_output=True)
    yield p, out, left
    shutil.rmtree(out, ignore_errors=True)


def test_scale_quick_runs_and_cleans_up(scale):
    p, out, left = scale
    assert p.returncode == 0, p.stderr[-3000:]
    assert left == [], f"left behind: {left}"
    assert "slope" in p.stdout and "R^2" in p.stdout
    assert "procs 300: instance" in p.stderr  # progress lines


def test_scale_csv_well_formed(scale):
    _, out, _ = scale
    with open(os.path.join(out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) >= SCALE_COLUMNS
    for axis in SCALE_AXES:  # two points, each with every method
        mine = [r for r in rows if r["axis"] == axis]
        assert len({r["x"] for r in mine}) == 2, axis
        assert {r["method"] for r in mine} == {"unsplit", "runtime", "vm"}, axis
    for r in rows:
        float(r["ms"]), float(r["cpu_ms"]), float(r["x"]), int(r["mem_mib"]), int(r["procs"])
        if r["method"] != "unsplit":  # split: both hosts hold some of the guest
            assert int(r["main_chunks"]) > 0 and int(r["sub_chunks"]) > 0
    # the points really differ in what their axis says
    assert {r["procs"] for r in rows if r["axis"] == "procs"} == {"100", "300"}
    assert {r["subhosts"] for r in rows if r["axis"] == "subhosts"} == {"1", "2"}
    assert {r["link"] for r in rows if r["axis"] == "link"} == {"1gbit", "none"}


def test_scale_json_fits_and_knobs(scale):
    _, out, _ = scale
    with open(os.path.join(out, "results.json")) as f:
        j = json.load(f)
    assert j["bench"] == "scale" and j["complete"] is True
    for k in ("cpu", "cores", "kernel", "qemu", "loadavg"):
        assert k in j["machine"] and k in j["machine_after"], k
    for k in ("axes", "reps", "procs_list", "procs_mem", "mem_list", "subhosts_list", "links",
              "chunk_runtime", "chunk_vm", "prefix"):
        assert k in j["knobs"], k
    assert isinstance(j["skipped"], list)
    assert j["instances"] and all("split" in i and "fill_ms" in i for i in j["instances"])
    fits = {(f["axis"], f["method"]): f for f in j["fits"]}
    for axis in SCALE_AXES:
        for method in ("unsplit", "runtime", "vm"):
            f = fits[(axis, method)]
            assert f["n"] == 2 and f["slope_unit"] and f["verdict"]
            for k in ("slope", "intercept_ms", "r2"):
                assert isinstance(f[k], float), (axis, method, k)
    for s in j["summary"]:
        assert {"axis", "x", "method", "n", "median_ms", "min_ms", "max_ms"} <= set(s)


def test_scale_plots_are_png(scale):
    _, out, _ = scale
    for axis in SCALE_AXES:
        with open(os.path.join(out, f"scale_{axis}.png"), "rb") as f:
            assert f.read(8) == PNG_MAGIC, axis



def test_scale_interrupt_cleans_up(env, scale):
    """Ctrl-C during scale's first split: exit 1, partial results written, nothing left."""
    prefix = "sbi" + uuid.uuid4().hex[:3]
    out = tempfile.mkdtemp(prefix="vmt-bench-scale-int-")
    p = subprocess.Popen([VMT, "bench", "scale", "--quick", "--reps", "1", "--axes", "subhosts",
                          "--prefix", prefix, "--subnet", "10.94", "--out", out], env=env,
                         text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        deadline = time.time() + 240
        for line in p.stderr:
            if "splitting" in line or time.time() > deadline:
                break
        time.sleep(1)
        os.killpg(p.pid, signal.SIGINT)
        p.communicate(timeout=300)
        assert p.returncode == 1
        with open(os.path.join(out, "results.json")) as f:
            j = json.load(f)
        assert j["complete"] is False and j["rows"]  # the unsplit rows before the split
        assert leftovers(env, prefix) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for name in leftovers(env, prefix):
            if name.startswith(prefix + "-sc"):
                subprocess.run([VMT, "vm", "stop", name], env=env, capture_output=True)
        subprocess.run([VMT, "hosts", "down", "--prefix", prefix], env=env,
                       capture_output=True)
        shutil.rmtree(out, ignore_errors=True)


def test_scale_skips_what_the_host_cannot_hold(env):
    """A point whose guest the host's MemAvailable cannot hold twice plus the margin is
    skipped with the reason, in results.json and the summary; nothing is started."""
    out = tempfile.mkdtemp(prefix="vmt-bench-scale-skip-")
    prefix = "sbs" + uuid.uuid4().hex[:3]
    try:
        p = subprocess.run([VMT, "bench", "scale", "--quick", "--axes", "procs,mem",
                            "--mem-margin", str(1 << 24), "--prefix", prefix, "--out", out],
                           env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr[-2000:]
        with open(os.path.join(out, "results.json")) as f:
            j = json.load(f)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert j["rows"] == [] and j["fits"] == []
    assert {(s["axis"], s["label"]) for s in j["skipped"]} == {
        ("procs", "100"), ("procs", "1000"), ("mem", "512M"), ("mem", "1G")}
    assert all("MemAvailable" in s["reason"] for s in j["skipped"])
    assert "Skipped:" in p.stdout
    assert leftovers(env, prefix) == []

# ---------------------------------------------------------------- vmt bench micro

MICRO_PREFIX = "mbt" + uuid.uuid4().hex[:3]  # hosts MICRO_PREFIX-main/-subN, VMs -mi-N
MICRO_SUBNET = "10.94"
MICRO_COLUMNS = ["section", "metric", "param", "unit", "role", "n", "value", "p90", "min", "max",
                 "q1", "q3", "limit_metric", "limit", "ratio"]
MICRO_FIGURES = {  # section: the figures every run has, each beside a limit
    "mem": {"phys_read_cold_ns", "phys_read_cached_ns", "virt_read_cold_ns",
            "phys_read_cold_mbs"},
    "nbd": {"nbd_read_latency", "nbd_read_mbs", "tcp_stream_mbs"},
    "pager": {"pager_fault_latency"},
    "split": {"split_total_s", "split_downtime_s"},
}


def micro_tmp_left(before):
    """The pager probe's and the run's private folders in /tmp made since before."""
    return sorted(f for f in set(os.listdir("/tmp")) - before
                  if f.startswith(("vmt-pager-probe-", "vmt-bench-micro-")))


@pytest.fixture(scope="module")
def micro(env):
    """`vmt bench micro --quick`: every section once (about 30-90 s here)."""
    out = tempfile.mkdtemp(prefix="vmt-bench-micro-")
    before = set(os.listdir("/tmp"))
    p = subprocess.run([VMT, "bench", "micro", "--quick", "--prefix", MICRO_PREFIX, "--subnet",
                        MICRO_SUBNET, "--out", out], env=env, capture_output=True, text=True,
                       timeout=600)
    left = leftovers(env, MICRO_PREFIX) + micro_tmp_left(before)
    for name in left:
        if name.startswith(MICRO_PREFIX + "-mi"):
            subprocess.run([VMT, "vm", "stop", name], env=env, capture_output=True)
    subprocess.run([VMT, "hosts", "down", "--prefix", MICRO_PREFIX], env=env,
                   capture_output=True)
    yield p, out, left
    shutil.rmtree(out, ignore_errors=True)


def test_micro_quick_runs_and_cleans_up(micro):
    p, out, left = micro
    assert p.returncode == 0, p.stderr[-3000:]
    assert left == [], f"left behind: {left}"
    for section in MICRO_FIGURES:  # the summary table, one block per section
        assert f"\n{section}: median" in p.stdout, section
    assert "[" in p.stderr and "pager: fault to resume" in p.stderr  # progress lines


def test_micro_csv_has_a_limit_beside_every_figure(micro):
    _, out, _ = micro
    with open(os.path.join(out, "results.csv")) as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == MICRO_COLUMNS
        rows = list(reader)
    limits = {(r["section"], r["metric"]) for r in rows if r["role"] == "limit"}
    for r in rows:
        assert r["role"] in ("figure", "limit"), r
        assert int(r["n"]) >= 1 and int(r["param"]) >= 0 and r["unit"], r
        for k in ("value", "p90", "min", "max", "q1", "q3"):
            float(r[k])
        if r["role"] == "figure":  # compared with a limit row of its section, same run
            assert (r["section"], r["limit_metric"]) in limits, r
            float(r["limit"]), float(r["ratio"])
        else:
            assert r["limit_metric"] == r["limit"] == r["ratio"] == "", r
    for section, figures in MICRO_FIGURES.items():
        have = {r["metric"] for r in rows if r["section"] == section and r["role"] == "figure"}
        assert figures <= have, (section, figures - have)
    chunks = {int(r["param"]) for r in rows if r["metric"] == "nbd_read_latency"}
    assert chunks == {4096, 65536, 2 << 20}
    assert {int(r["param"]) for r in rows if r["section"] == "split"} == {512 << 20}


def test_micro_json_has_machine_knobs_rows(micro):
    _, out, _ = micro
    with open(os.path.join(out, "results.json")) as f:
        j = json.load(f)
    with open(os.path.join(out, "results.csv")) as f:
        nrows = len(list(csv.DictReader(f)))
    assert j["bench"] == "micro" and j["complete"] is True
    for k in ("cpu", "cores", "kernel", "qemu", "date"):
        assert k in j["machine"], k
    for k in ("sections", "quick", "reps", "samples", "chunks", "split_sizes", "split_reps",
              "mem_file_bytes", "pager_ram_bytes", "link", "prefix", "tls"):
        assert k in j["knobs"], k
    assert set(j["knobs"]["sections"]) == set(MICRO_FIGURES)
    assert j["hosts"]["link_tc_mbs"] > 0 and j["hosts"]["export"]
    assert j["instances"] and all("split" in i for i in j["instances"])
    assert len(j["rows"]) == nrows
    for r in j["rows"]:
        assert set(MICRO_COLUMNS) <= set(r), r
        assert (r["limit"] is None) == (r["role"] == "limit"), r


def test_micro_plots_are_png(micro):
    _, out, _ = micro
    for name in ("latency.png", "throughput.png", "pager.png", "split.png"):
        with open(os.path.join(out, name), "rb") as f:
            assert f.read(8) == PNG_MAGIC, name


def test_micro_usage_errors(env):
    def run(*args):
        return subprocess.run([VMT, "bench", "micro", *args], env=env, capture_output=True,
                              text=True)
    assert run("--only", "mem,nosuch").returncode == 2
    assert run("--chunks", "3K").returncode == 2
    assert run("--sizes", "512M,12M").returncode == 2
    assert run("--reps", "0").returncode == 2
    assert run("--mem-file", "1M").returncode == 2
    assert run("--help").returncode == 0


def test_micro_interrupt_cleans_up(env, micro):
    """Ctrl-C (SIGINT to the process group: the pager's child and the TCP responder get it
    too) during the pager section: exit 1, the partial results written, nothing left."""
    prefix = "mbi" + uuid.uuid4().hex[:3]
    out = tempfile.mkdtemp(prefix="vmt-bench-micro-int-")
    before = set(os.listdir("/tmp"))
    p = subprocess.Popen([VMT, "bench", "micro", "--quick", "--only", "nbd,pager", "--prefix",
                          prefix, "--subnet", MICRO_SUBNET, "--out", out], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        deadline = time.time() + 120
        for line in p.stderr:
            if "pager: fault to resume" in line or time.time() > deadline:
                break
        time.sleep(0.5)
        os.killpg(p.pid, signal.SIGINT)
        p.communicate(timeout=120)
        assert p.returncode == 1
        with open(os.path.join(out, "results.json")) as f:
            j = json.load(f)
        assert j["complete"] is False and "stopped" in j["error"]
        assert leftovers(env, prefix) + micro_tmp_left(before) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        subprocess.run([VMT, "hosts", "down", "--prefix", prefix], env=env, capture_output=True)
        shutil.rmtree(out, ignore_errors=True)
