"""Ctrl-C at a terminal: SIGINT to the whole process group of a ``dstripes`` command running a
Dask job on local workers. One line, exit 130, within seconds, nothing left running, and no
dashboard port taken (docs/usage.md §7)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DSTRIPES = str(Path(sys.executable).with_name("dstripes"))


def conv_stack(path, width: int = 32, depth: int = 3) -> str:
    """``depth`` 3x3 convolutions of ``width`` filters with ReLUs, then a 10-way Gemm; the
    input size is free (224 by default): a network whose profiling takes many seconds."""
    rng = np.random.default_rng(3)
    inits, nodes, x, c = [], [], "image", 3
    for i in range(depth):
        w = rng.normal(0, (2 / (9 * c)) ** 0.5, (width, c, 3, 3)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes += [helper.make_node("Conv", [x, f"w{i}"], [f"c{i}"], name=f"conv{i}", kernel_shape=[3, 3],
                                   pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x, c = f"r{i}", width
    inits.append(numpy_helper.from_array(rng.normal(0, 0.3, (10, width)).astype(np.float32), "wf"))
    nodes += [helper.make_node("GlobalAveragePool", [x], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("Gemm", ["f", "wf"], ["out"], name="fc", transB=1)]
    g = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                         ["n", 3, "h", "w"])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


def photo_dir(folder: Path, n: int) -> Path:
    from PIL import Image
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(folder / f"p{i:02d}.png")
    return folder


def _children(pid: int) -> list[int]:
    """Live descendants of ``pid`` (zombies are not running)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d.name))
    return out + [g for c in out for g in _children(c)]


def _comm(pid: int) -> str:
    """The program name of ``pid``; empty once it has ended (a short-lived child may end between
    the listing and the reading)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _group(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                stat = (d / "stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    out.append(int(d.name))
    return out


def _loaded_onnxruntime(pid: int) -> bool:
    """A task is running on a worker of ``pid``: a worker has loaded onnxruntime (workers import
    it only to run a network's task)."""
    for c in _children(pid):
        with contextlib.suppress(OSError):
            if "onnxruntime" in Path(f"/proc/{c}/maps").read_text():
                return True
    return False


def _simulating(pid: int) -> bool:
    """A worker of ``pid`` runs a simulator (Icarus' ``vvp``, which takes SIGINT as a pause)."""
    for c in _children(pid):
        if _comm(c) == "vvp":
            return True
    return False


@contextlib.contextmanager
def _dask_port_taken():
    """Hold Dask's default dashboard port 8787 (as another run would), if nobody does already."""
    s = socket.socket()
    try:
        s.bind(("", 8787))
        s.listen()
    except OSError:
        pass  # already taken: the case to test anyway
    try:
        yield
    finally:
        s.close()


def _interrupt(argv: list, running) -> None:
    """Start ``dstripes ARGV`` in a process group of its own, wait until ``running(pid)``, send
    SIGINT to the group as a terminal's Ctrl-C does; then one line, 130, within seconds, and no
    process of the group (workers, simulators) left alive."""
    env = dict(os.environ, DSTRIPES_NO_CACHE="1")
    with _dask_port_taken():
        proc = subprocess.Popen([DSTRIPES] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            # a task runs, and both local workers are up (under load the second may start later)
            while not (running(proc.pid) and len([c for c in _children(proc.pid) if "python" in _comm(c)]) >= 2):
                assert proc.poll() is None, f"ended before any task ran: {proc.communicate()}"
                assert time.monotonic() < deadline, "no task on two local workers within 120 s"
                time.sleep(0.05)
            t = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            out, err = proc.communicate(timeout=30)
            seconds = time.monotonic() - t
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 130, err
    assert err.splitlines() == ["dstripes: interrupted"], err
    assert seconds < 5, f"took {seconds:.1f} s to stop"
    deadline = time.monotonic() + 5
    while _group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group(proc.pid) == [], "processes of the run still alive"


def test_sigint_to_the_process_group_of_a_dask_job(tmp_path):
    model = conv_stack(tmp_path / "stack.onnx")
    photos = photo_dir(tmp_path / "photos", 12)
    _interrupt(["evaluate", "--model", model, "--image-dir", str(photos), "--images", "6", "--profile-images", "6",
                "--jobs", "2", "--out", str(tmp_path / "out")], _loaded_onnxruntime)


def test_sigint_stops_the_simulators_of_verify(tmp_path):
    """verify's workers run Icarus (each layer a simulation of a minute), which takes SIGINT as a
    pause and would run on: the workers kill it."""
    from dstripes.scripts.cli import main
    model = conv_stack(tmp_path / "stack.onnx", width=16, depth=2)
    photos = photo_dir(tmp_path / "photos", 4)
    prof = str(tmp_path / "stack.json")
    assert main(["profile", "--model", model, "--image-dir", str(photos), "--images", "2", "--heldout", "0",
                 "--size", "32", "--criterion", "cosine", "--no-progress", "--jobs", "1", "--out", prof]) == 0
    _interrupt(["verify", "--model", model, "--profile", prof, "--image-dir", str(photos), "--size", "32",
                "--sim", "icarus", "--lanes", "4", "--columns", "4", "--rows", "2", "--weight-bits", "8",
                "--jobs", "2", "--out", str(tmp_path / "v")], _simulating)
