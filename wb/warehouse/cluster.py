"""A one-machine Spark cluster from the PySpark wheel, to test `wb warehouse` the way a bank runs it.

Three JVMs on 127.0.0.1, each started with the wheel's ``bin/spark-class`` or
``bin/spark-submit`` (the wheel has no ``sbin/start-*.sh``): a standalone master, one worker,
and a Spark Connect server (``org.apache.spark.sql.connect.service.SparkConnectServer``, the
``spark-connect`` jar in the wheel) that runs its queries as an application on that master.
``make spark-cluster`` / ``make spark-cluster-stop`` and the ``spark`` tests use this module::

    python -m wb.warehouse.cluster start [--dir .spark-cluster] [--master-port 7077]
                                         [--connect-port 15002] [--timeout 180]
    python -m wb.warehouse.cluster stop [--dir .spark-cluster]

Everything lives under one folder (git-ignored): ``cluster.json`` (URLs, ports, PIDs),
``logs/`` (one log per JVM), the worker's and the drivers' scratch space and a fresh Spark
warehouse folder per start (a catalog left by an earlier start breaks ``CREATE DATABASE``).
Stopping signals each recorded PID (SIGTERM, then SIGKILL after a grace period) after checking
that the PID still runs the JVM it was recorded for; nothing is stopped by name.

Sizes fit a small shared machine: the worker offers two task slots and 2 GB; every application
(the Connect server's, a ``--spark-master spark://`` build's) takes one slot and 768 MB, so a
build through the master and the Connect server can run side by side. Daemons get 256 MB heaps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wb.errors import InputError
from wb.warehouse.spark import QUIET_LOG4J

HOST = "127.0.0.1"
STATE = "cluster.json"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
#: Settings every application on this cluster gets: one task slot of the worker's two, a small
#: executor, few shuffle partitions (the default 200 make tiny tables slow). The Connect server
#: gets them on its command line, a driver started elsewhere (``wb warehouse build
#: --spark-master spark://…``) from ``client-conf/spark-defaults.conf`` through
#: ``SPARK_CONF_DIR`` (:meth:`Cluster.client_env`), as a gateway machine's configuration would.
APP_CONF: dict[str, str] = {
    "spark.cores.max": "1",
    "spark.executor.memory": "768m",
    "spark.sql.shuffle.partitions": "4",
}
_JAVA_HELP = (
    "Java 17 or later is needed to run Spark: no `java` on the PATH and no JAVA_HOME. "
    "`sudo make install` installs Debian's openjdk-17-jre-headless "
    "(or: apt-get install openjdk-17-jre-headless)"
)


@dataclass
class ClusterConfig:
    """Where the cluster keeps its files and which ports it listens on (all on 127.0.0.1).

    ``worker_memory`` / ``executor_memory`` / ``driver_memory`` are JVM sizes such as ``"2g"``;
    ``timeout_s`` bounds each ready check, in seconds.
    """

    root: Path = Path(".spark-cluster")
    master_port: int = 7077
    connect_port: int = 15002
    master_ui_port: int = 0
    worker_ui_port: int = 0
    worker_cores: int = 2
    worker_memory: str = "2g"
    driver_memory: str = "1g"
    timeout_s: float = 180.0


@dataclass
class Cluster:
    """A started cluster: its URLs and the PIDs of its three JVMs (read back from
    ``cluster.json`` by :func:`stop`)."""

    root: Path
    master_url: str
    remote_url: str
    warehouse_dir: Path
    pids: dict[str, int] = field(default_factory=dict)

    def client_env(self) -> dict[str, str]:
        """Environment for a driver that uses this cluster through ``--spark-master``: its
        ``SPARK_CONF_DIR`` (the cluster's application settings, quiet logs)."""
        return {"SPARK_CONF_DIR": str(self.root / "client-conf")}

    def to_json(self) -> dict:
        out = asdict(self)
        out["root"], out["warehouse_dir"] = str(self.root), str(self.warehouse_dir)
        return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def spark_home() -> Path:
    """The PySpark wheel's folder: it holds ``bin/spark-class`` and ``jars/``."""
    import pyspark

    return Path(pyspark.__file__).parent


def java_version() -> int:
    """The major version of the ``java`` Spark would use; :class:`InputError` (exit 2) with what
    to install when there is none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise InputError(_JAVA_HELP)
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        raise InputError(f"{java} -version: cannot read the version; {_JAVA_HELP}")
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SPARK_REMOTE", None)
    env.pop("SPARK_CONF_DIR", None)  # the wheel's defaults: INFO logs, which the checks read
    env |= {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_MASTER_HOST": HOST,
        "SPARK_WORKER_DIR": str(root / "work"),
        "SPARK_LOCAL_DIRS": str(root / "tmp"),
        "PYSPARK_PYTHON": sys.executable,
    }
    return env


def _launch(root: Path, name: str, argv: list[str], daemon_memory: str = "256m") -> int:
    log = (root / "logs" / f"{name}.log").open("ab")
    env = _env(root) | {"SPARK_DAEMON_MEMORY": daemon_memory}
    # its own session: a Ctrl-C at the terminal that ran `make` does not reach the daemons
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    log.close()
    (root / f"{name}.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # a zombie child (exited, not yet reaped) is not running
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def _runs(pid: int, main_class: str) -> bool:
    """Whether ``pid`` is alive and runs ``main_class`` (not a recycled PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return _alive(pid) and main_class in cmdline


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((HOST, port)) == 0


def _wait(root: Path, name: str, pid: int, ready, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if not _alive(pid):
            raise InputError(f"spark cluster: the {name} exited before {what}; {_tail(root, name)}")
        time.sleep(0.5)
    raise InputError(
        f"spark cluster: the {name} did not {what} within {timeout_s:.0f} s; {_tail(root, name)}"
    )


def _tail(root: Path, name: str, lines: int = 8) -> str:
    log = root / "logs" / f"{name}.log"
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return f"no log at {log}"
    errors = [t for t in text if " ERROR " in t or "Exception" in t] or text
    return f"log {log}:\n  " + "\n  ".join(errors[-lines:])


def _log_has(root: Path, name: str, needle: str) -> bool:
    try:
        return needle in (root / "logs" / f"{name}.log").read_text(errors="replace")
    except OSError:
        return False


def start(config: ClusterConfig | None = None) -> Cluster:
    """Start master, worker and Connect server under ``config.root`` and wait until each is
    ready (master port open, worker registered, Connect port open). On any failure the JVMs
    started so far are stopped and :class:`InputError` (exit 2) says which one failed and shows
    its log's last errors."""
    config = config or ClusterConfig()
    java = java_version()
    if java < 17:
        raise InputError(f"Spark 4 needs Java 17 or later; found Java {java}. {_JAVA_HELP}")
    root = config.root.resolve()
    if (root / STATE).is_file() and any(_runs(pid, cls) for pid, cls in _recorded(root).values()):
        raise InputError(
            f"spark cluster: already running from {root} (see {root / STATE}); "
            "`make spark-cluster-stop` first"
        )
    for port in (config.master_port, config.connect_port):
        if _port_open(port):
            raise InputError(f"spark cluster: port {port} on {HOST} is already in use")
    for sub in ("logs", "work", "tmp", "client-conf"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "client-conf" / "spark-defaults.conf").write_text(
        "".join(f"{key} {value}\n" for key, value in APP_CONF.items())
    )
    (root / "client-conf" / "log4j2.properties").write_text(QUIET_LOG4J)
    warehouse = root / f"warehouse-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    warehouse.mkdir()
    bin_ = spark_home() / "bin"
    master_url = f"spark://{HOST}:{config.master_port}"
    cluster = Cluster(root, master_url, f"sc://{HOST}:{config.connect_port}", warehouse)
    ui = {"master": config.master_ui_port or free_port()}
    ui["worker"] = config.worker_ui_port or free_port()
    try:
        pid = _launch(
            root,
            "master",
            [str(bin_ / "spark-class"), MASTER_CLASS, "--host", HOST,
             "--port", str(config.master_port), "--webui-port", str(ui["master"])],
        )  # fmt: skip
        cluster.pids["master"] = pid
        _save(cluster)
        _wait(
            root, "master", pid, lambda: _port_open(config.master_port), "listen",
            config.timeout_s,
        )  # fmt: skip
        pid = _launch(
            root,
            "worker",
            [str(bin_ / "spark-class"), WORKER_CLASS, "--host", HOST,
             "--cores", str(config.worker_cores), "--memory", config.worker_memory,
             "--webui-port", str(ui["worker"]), "--work-dir", str(root / "work"), master_url],
        )  # fmt: skip
        cluster.pids["worker"] = pid
        _save(cluster)
        _wait(
            root, "worker", pid,
            lambda: _log_has(root, "worker", "Successfully registered with master"),
            "register with the master", config.timeout_s,
        )  # fmt: skip
        conf = {
            **APP_CONF,
            "spark.connect.grpc.binding.address": HOST,
            "spark.connect.grpc.binding.port": str(config.connect_port),
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.ui.enabled": "false",
            "spark.driver.host": HOST,
            "spark.local.dir": str(root / "tmp"),
        }
        argv = [str(bin_ / "spark-submit"), "--master", master_url, "--class", CONNECT_CLASS]
        argv += ["--name", "wb Spark Connect server", "--driver-memory", config.driver_memory]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        argv.append(str(_connect_jar()))
        # Spark's launcher sizes the Connect server's driver by SPARK_DAEMON_MEMORY
        pid = _launch(root, "connect", argv, daemon_memory=config.driver_memory)
        cluster.pids["connect"] = pid
        _save(cluster)
        _wait(
            root, "connect", pid, lambda: _port_open(config.connect_port),
            f"listen on port {config.connect_port}", config.timeout_s,
        )  # fmt: skip
    except BaseException:
        stop(root)
        raise
    return cluster


def _connect_jar() -> Path:
    jars = sorted((spark_home() / "jars").glob("spark-connect_*.jar"))
    if not jars:
        raise InputError(f"no spark-connect jar in {spark_home() / 'jars'}; reinstall pyspark")
    return jars[-1]


def _save(cluster: Cluster) -> None:
    (cluster.root / STATE).write_text(json.dumps(cluster.to_json(), indent=2) + "\n")


_CLASSES = {"master": MASTER_CLASS, "worker": WORKER_CLASS, "connect": CONNECT_CLASS}


def _recorded(root: Path) -> dict[str, tuple[int, str]]:
    """The PIDs recorded under ``root`` (``cluster.json``, else the ``*.pid`` files)."""
    pids: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError):
        pids = {k: int(v) for k, v in json.loads((root / STATE).read_text())["pids"].items()}
    for name in _CLASSES:
        with contextlib.suppress(OSError, ValueError):
            pids.setdefault(name, int((root / f"{name}.pid").read_text()))
    return {name: (pid, _CLASSES[name]) for name, pid in pids.items() if name in _CLASSES}


def stop(root: Path | str = Path(".spark-cluster"), grace_s: float = 20.0) -> list[str]:
    """Stop the JVMs recorded under ``root``, Connect server first, by PID: SIGTERM, then
    SIGKILL after ``grace_s`` seconds. A PID that no longer runs its JVM is skipped. Returns
    one line per JVM saying what happened."""
    root = Path(root).resolve()
    said = []
    for name in ("connect", "worker", "master"):
        pid, main_class = _recorded(root).get(name, (0, ""))
        if not pid:
            continue
        if not _runs(pid, main_class):
            said.append(f"{name}: not running (pid {pid})")
        else:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
                said.append(f"{name}: killed (pid {pid}, no exit {grace_s:.0f} s after SIGTERM)")
            else:
                said.append(f"{name}: stopped (pid {pid})")
        (root / f"{name}.pid").unlink(missing_ok=True)
    (root / STATE).unlink(missing_ok=True)
    return said


def main(argv: list[str] | None = None) -> int:
    """``start`` or ``stop`` from the command line (``make spark-cluster``); exit 2 with one
    line on a failure."""
    parser = argparse.ArgumentParser(prog="python -m wb.warehouse.cluster", description=__doc__)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", type=Path, default=ClusterConfig.root)
    parser.add_argument("--master-port", type=int, default=ClusterConfig.master_port)
    parser.add_argument("--connect-port", type=int, default=ClusterConfig.connect_port)
    parser.add_argument("--timeout", type=float, default=ClusterConfig.timeout_s)
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            print("\n".join(stop(args.dir)) or f"spark cluster: nothing recorded in {args.dir}")
            return 0
        config = ClusterConfig(
            root=args.dir,
            master_port=args.master_port,
            connect_port=args.connect_port,
            timeout_s=args.timeout,
        )
        c = start(config)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"spark cluster up: master {c.master_url}, Spark Connect {c.remote_url}")
    print(f"  pids {c.pids}; logs {c.root / 'logs'}; stop with `make spark-cluster-stop`")
    print(
        f"  try: wb warehouse build --source SRC --out b --engine spark --spark-remote {c.remote_url}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
