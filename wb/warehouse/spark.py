"""The Spark sessions wb starts or connects to: quiet, UTC, adaptive, results as Arrow.

:func:`spark_session` starts a driver in this process (``local[*]``, ``spark://…``, ``yarn``,
``k8s://…``) or connects to a Spark Connect server (``sc://…``); :func:`spark_backend` puts
Ibis's PySpark backend on it. :mod:`wb.warehouse.source` opens the warehouse tables through
them, :mod:`wb.warehouse.cluster` writes the same log settings for the JVMs it starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import ibis
from ibis.common.exceptions import IbisError

from wb.door import privacy
from wb.errors import InputError

#: Shuffle partitions for a local Spark (the default 200 makes small tables slow).
LOCAL_SHUFFLE_PARTITIONS = 8

#: Heap of a local driver wb starts (``local[…]``, where the driver is also the executor), as a
#: share of the machine's memory, and its bounds in bytes: Spark's default heap is 1 GB.
LOCAL_HEAP_SHARE = 0.25
LOCAL_HEAP_BOUNDS = (1 << 30, 8 << 30)
#: A join side a local driver broadcasts when its estimated size is at most this share of
#: the heap (Spark's default is 10 MB, whatever the heap). The adds join the ``customers``
#: grouping: on the 40M-row benchmark source 1.2M customers, estimated under 64 MB, held in a
#: 192 MB hash table; a sort-merge join instead shuffled and sorted all 11.3M adds (1.5 GB).
LOCAL_BROADCAST_SHARE = 1 / 64

#: log4j2 settings of a driver wb starts (unless ``SPARK_CONF_DIR`` is set): nothing on the
#: console. The JVM's own error log prints stack traces that name the files read (a file may
#: be named after a customer) straight to stderr, past any screen; every failure reaches the
#: user as the Python exception, through :func:`wb.door.privacy.screen`. The logger of
#: PySpark's gateway (which Spark starts as a shell) is off too: at another level than the
#: root's, Spark prints a note on setting the shell's log level to WARN.
QUIET_LOG4J = """\
rootLogger.level = off
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = off
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %p %c{1}: %m%n
"""


#: Code a local driver's JVM runs often while it plans and launches queries (the SQL parser,
#: the compiler of Spark's generated code, Java serialization, class loading), which its
#: optimising JIT (C2) is told not to compile: the quick first tier serves it, and the second
#: core stays with the queries. On the 40M-row benchmark source C2 spent 21 of the build's
#: ~100 CPU seconds on two cores, a third of them on these; the build ran ~2 s faster without
#: them (three alternating pairs twice). The generated code of the queries and Spark's
#: execution code are still compiled fully: with the first tier only the build takes 124 s.
LOCAL_C2_EXCLUDED = (
    "org/antlr/*.*",
    "org/codehaus/*.*",
    "java/io/Object*.*",
    "jdk/internal/org/objectweb/*.*",
    "org/apache/xbean/*.*",
    "jdk/internal/loader/*.*",
    "java/util/jar/*.*",
    "java/util/zip/*.*",
    "org/apache/hadoop/*.*",
    "com/fasterxml/*.*",
    "java/lang/invoke/*.*",
    "java/util/Formatter*.*",
    "org/apache/spark/sql/catalyst/analysis/*.*",
    "org/apache/spark/sql/catalyst/optimizer/*.*",
    "org/apache/spark/sql/catalyst/parser/*.*",
    "org/apache/spark/util/SizeEstimator*.*",
    "scala/reflect/*.*",
)


#: The garbage collector of a local driver: the throughput collector. G1, Java's default, ran
#: 21 concurrent marking cycles beside the queries in the 40M-row build (3.2 s of a core of
#: two); with this one the build took 34.3, 34.3 and 34.4 s against 37.4, 38.6 and 37.3 s
#: (alternating; the serial collector 34.9 and 33.9 s).
LOCAL_GC = "-XX:+UseParallelGC"

#: Environment variables through which the JVM also takes options (a collector chosen there and
#: another on the command line stop it from starting).
JVM_OPTION_VARIABLES = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")


def local_jvm_options(conf_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The JVM options of a local driver wb starts with its own settings folder ``conf_dir``:
    the compiler directives of :data:`LOCAL_C2_EXCLUDED`, written there; the JVM's own console
    output off (it announces the directives on stdout, where ``wb`` prints its results; Java's
    exceptions and Spark's log are not this output); and :data:`LOCAL_GC` unless the
    environment's JVM options (:data:`JVM_OPTION_VARIABLES`) choose a collector."""
    environ = os.environ if environ is None else environ
    path = conf_dir / "c2-directives.json"
    path.write_text(json.dumps([{"match": list(LOCAL_C2_EXCLUDED), "c2": {"Exclude": True}}]))
    options = [
        "-XX:+UnlockDiagnosticVMOptions",
        "-XX:-DisplayVMOutput",
        f"-XX:CompilerDirectivesFile={path}",
    ]
    chosen = " ".join(environ.get(name, "") for name in JVM_OPTION_VARIABLES)
    if not re.search(r"-XX:\+Use\w*GC\b", chosen):
        options.append(LOCAL_GC)
    return " ".join(options)


#: SQL settings of every Spark session wb opens, local or through Spark Connect: timestamps
#: are bank-local without a zone (nothing shifted), the build's casts follow Ibis's non-ANSI
#: semantics, and a nanosecond timestamp column Spark cannot read (pandas writes them) is read
#: as integers rather than failing the whole file: an undeclared one is dropped as on DuckDB,
#: a declared one is refused by the footer checks on both engines (wb.warehouse.files).
#: Adaptive query execution on (Spark 4's default, set in case a cluster's defaults turn it
#: off): shuffle partitions coalesced to the data's size and a join with a small side (the
#: groupings, the quota) made a broadcast join once the side's size is known.
_SESSION_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
}

#: Settings of a driver wb starts itself (not through Spark Connect, whose results always come
#: as Arrow): results reach Python as Arrow batches, not pickled row by row (the panel's
#: rows).
_DRIVER_CONF = {"spark.sql.execution.arrow.pyspark.enabled": "true"}


def local_driver_conf(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Settings of a local driver wb starts: a heap of :data:`LOCAL_HEAP_SHARE` of the
    machine's memory within :data:`LOCAL_HEAP_BOUNDS` (unless ``SPARK_DRIVER_MEMORY`` or
    ``PYSPARK_SUBMIT_ARGS`` sizes it), and broadcast joins up to :data:`LOCAL_BROADCAST_SHARE`
    of that heap. Settings given to :func:`spark_session` override these."""
    environ = os.environ if environ is None else environ
    if "SPARK_DRIVER_MEMORY" in environ or "--driver-memory" in environ.get(
        "PYSPARK_SUBMIT_ARGS", ""
    ):
        return {}
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        ram = 4 << 30
    low, high = LOCAL_HEAP_BOUNDS
    heap_mb = min(max(int(ram * LOCAL_HEAP_SHARE), low), high) >> 20
    return {
        "spark.driver.memory": f"{heap_mb}m",
        "spark.sql.autoBroadcastJoinThreshold": f"{int(heap_mb * LOCAL_BROADCAST_SHARE)}m",
    }


def java_found() -> bool:
    """Whether a local Spark can find Java: ``java`` on the PATH or ``JAVA_HOME`` set."""
    return bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


def spark_session(
    master: str = "local[*]", remote: str | None = None, conf: dict[str, str] | None = None
):
    """A quiet SparkSession: UI and console progress off, no JVM log, UTC session time.

    ``remote`` (a ``sc://`` URL) connects to Spark Connect instead of starting a local JVM; its
    session gets the same SQL settings (UTC, ANSI off), the server keeps its own otherwise.
    Local sessions get few shuffle partitions, a heap sized to the machine
    (:func:`local_driver_conf`) and, when wb writes the JVM's settings folder (no
    ``SPARK_CONF_DIR``) and no driver JVM options are given, :func:`local_jvm_options`;
    ``conf`` adds settings (e.g.
    ``spark.sql.warehouse.dir``). An existing session in this process is reused.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a declared dependency
        raise InputError("--engine spark needs pyspark; run `make install`") from exc
    if remote:
        try:
            session = SparkSession.builder.remote(remote).getOrCreate()
            for key, value in _SESSION_SQL_CONF.items():
                session.conf.set(key, value)
        except Exception as exc:
            kind = getattr(exc, "getCondition", lambda: None)() or type(exc).__name__
            if kind == "SESSION_ALREADY_EXIST":
                raise InputError(
                    f"cannot connect to Spark Connect at {remote}: a local Spark session is "
                    "already running in this process (PySpark allows one kind at a time); stop "
                    "it first (spark.stop()) or use a new kernel"
                ) from exc
            raise InputError(f"cannot connect to Spark Connect at {remote}: {kind}") from exc
        return session
    if not java_found():
        raise InputError("--engine spark needs Java 17+; run `make install` (openjdk-17)")
    # a Spark Connect session earlier in this process (a notebook, a test) leaves PySpark in
    # Connect mode for every later builder, which then refuses a local master
    # (CONNECT_URL_NOT_SET): a local session asked for by name is a classic one
    os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    jvm_options = None
    if "SPARK_CONF_DIR" not in os.environ:
        conf_dir = Path(tempfile.mkdtemp(prefix="wb-spark-conf-"))
        (conf_dir / "log4j2.properties").write_text(QUIET_LOG4J)
        os.environ["SPARK_CONF_DIR"] = str(conf_dir)
        jvm_options = local_jvm_options(conf_dir)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", "python3"))
    builder = (
        SparkSession.builder.master(master)
        .appName("wb-warehouse")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in (_SESSION_SQL_CONF | _DRIVER_CONF).items():
        builder = builder.config(key, value)
    if master.startswith("local"):
        builder = builder.config("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
        for key, value in local_driver_conf().items():
            builder = builder.config(key, value)
        if jvm_options and "--driver-java-options" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
            builder = builder.config("spark.driver.extraJavaOptions", jvm_options)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise InputError(
            f"cannot start Spark (master {privacy.redact(master)}): {type(exc).__name__}: "
            f"{privacy.screen(exc)}"
        ) from exc
    session.sparkContext.setLogLevel("OFF")  # see QUIET_LOG4J
    return session


def spark_backend(session):
    """wb's Ibis backend on a Spark ``session``: :class:`wb.warehouse.ibis_spark.SparkBackend`
    (imported here: it imports PySpark, a second a DuckDB build does not spend)."""
    from wb.warehouse.ibis_spark import SparkBackend

    if getattr(ibis.options, "pyspark", None) is None:  # as loading ``ibis.pyspark`` does
        SparkBackend.register_options()  # (its compiler reads ``ibis.options.pyspark``)
    return SparkBackend().connect(session)


def on_spark(expr: object) -> bool:
    """Whether an Ibis expression runs on Spark (its tables are bound to the PySpark backend);
    false for one on unbound tables (compiled, not run)."""
    try:
        return ibis.get_backend(expr).name == "pyspark"
    except IbisError:
        return False


def is_spark_connect(session: object) -> bool:
    """Whether ``session`` is a Spark Connect client session (not a driver in this process)."""
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError:  # the Connect client packages are missing: a classic session
        return False
    return isinstance(session, ConnectSession)
