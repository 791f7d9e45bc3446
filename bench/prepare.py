"""bench/prepare: what the run needs before it starts.

- The Debian packages of the peers and the tools, installed with apt-get when
  missing. Their services must not start (they would take port 53 and run with
  the distribution's settings): /usr/sbin/policy-rc.d exits 101 during the
  install, and is removed afterwards only if we created it.
- ternd and tern's libraries, built out of tree (../build-bench), unless --ternd.
- bench/ceiling and bench/cachebench, built by bench/Makefile into BUILD/bench/.
"""

import os
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

# command that must exist -> Debian package providing it
PACKAGES = {
    "unbound": "unbound",
    "kresd": "knot-resolver",
    "pdns_recursor": "pdns-recursor",
    "dnsperf": "dnsperf",
    "valgrind": "valgrind",
    "callgrind_control": "valgrind",
    "mdb_stat": "lmdb-utils",          # memory of the LMDB caches (tern, kresd)
    "knotd": "knot",                   # the simnet (tests/net/README.md)
    "ldns-signzone": "ldnsutils",
    "taskset": "util-linux",
    "cc": "gcc",
    "make": "make",
}
PYTHON_PACKAGES = {"dns": "python3-dnspython", "cryptography": "python3-cryptography"}
LIB_HEADERS = {"/usr/include/lmdb.h": "liblmdb-dev"}
POLICY_RC_D = "/usr/sbin/policy-rc.d"
BUILD_RETRIES = 3          # other people edit the sources while we build: retry a moment later
BUILD_RETRY_WAIT_S = 60


def missing_packages():
    need = {pkg for cmd, pkg in PACKAGES.items() if not shutil.which(cmd)
            and not os.path.exists("/usr/sbin/" + cmd)}
    for mod, pkg in PYTHON_PACKAGES.items():
        if subprocess.call(["/usr/bin/python3", "-c", "import " + mod],
                           stderr=subprocess.DEVNULL) != 0:
            need.add(pkg)
    need |= {pkg for path, pkg in LIB_HEADERS.items() if not os.path.exists(path)}
    return sorted(need)


def install(log):
    need = missing_packages()
    if not need:
        return
    log("installing %s (services kept stopped)" % " ".join(need))
    created = False
    if not os.path.exists(POLICY_RC_D):
        with open(POLICY_RC_D, "w") as f:
            f.write("#!/bin/sh\n# bench/prepare: do not start services during apt-get install\n"
                    "exit 101\n")
        os.chmod(POLICY_RC_D, 0o755)
        created = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.call(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + need,
                           env=env) != 0:
            subprocess.check_call(["apt-get", "update", "-q"], env=env)
            subprocess.check_call(["apt-get", "install", "-y", "-q", "--no-install-recommends"]
                                  + need, env=env)
    finally:
        if created:
            os.remove(POLICY_RC_D)


def make(build, targets, log):
    """make @targets in @build (configuring it first if needed), retrying on failure."""
    for attempt in range(1, BUILD_RETRIES + 1):
        try:
            os.makedirs(build, exist_ok=True)
            if not os.path.exists(os.path.join(build, "Makefile")):
                subprocess.check_call([os.path.join(TOP, "configure"), "-q"], cwd=build)
            subprocess.check_call(["make", "-s", "-j%d" % (os.cpu_count() or 2)] + targets,
                                  cwd=build)
            return
        except subprocess.CalledProcessError:
            if attempt == BUILD_RETRIES:
                raise SystemExit("bench: building %s in %s failed" % (" ".join(targets), build))
            log("build failed (sources being edited?); retrying in %d s" % BUILD_RETRY_WAIT_S)
            time.sleep(BUILD_RETRY_WAIT_S)


def prepare(do_install, build, ternd, log):
    """Returns the paths of ternd, ceiling and cachebench, and tern's commit."""
    if do_install:
        install(log)
    build = os.path.abspath(build)
    log("building in %s" % build)
    make(build, ["libcache.a", "libproto.a", "libbase.a"] + ([] if ternd else ["ternd"]), log)
    subprocess.check_call(["make", "-s", "-C", HERE, "BUILD=" + build])
    commit = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                            stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    return {"ternd": os.path.abspath(ternd) if ternd else os.path.join(build, "ternd"),
            "ceiling": os.path.join(build, "bench", "ceiling"),
            "cachebench": os.path.join(build, "bench", "cachebench"),
            "tern_commit": commit or "?"}
