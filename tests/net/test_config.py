"""ternd's command line and configuration file: --help, --version,
--check-config, and errors that name the file and the line."""

import os
import subprocess

import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import free_port, ternd_binary

RUN_TIMEOUT_S = 10
FLAGS = ["--listen", "--root-hints", "--cache-dir", "--threads", "--qname-minimisation",
         "--config", "--check-config", "--version", "--help", "--ttl-min", "--ttl-max"]
HINTS = "/usr/share/dns/root.hints"


def run_ternd(*args):
    return subprocess.run([ternd_binary()] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=RUN_TIMEOUT_S)


@pytest.fixture
def hints(tmp_path):
    """A root hints file that exists whatever the machine has installed."""
    if os.path.exists(HINTS):
        return HINTS
    path = tmp_path / "root.hints"
    path.write_text(". 3600000 NS A.ROOT-SERVERS.NET.\nA.ROOT-SERVERS.NET. 3600000 A 198.41.0.4\n")
    return str(path)


def good_config(tmp_path, hints):
    return ("# a comment line\n"
            "listen 127.0.0.1:5399\n"
            "listen [::1]:5399\n"
            "root-hints %s\n"
            "cache-dir %s\n"
            "threads 2\n"
            "\n"
            "qname-minimisation strict   # a trailing comment\n"
            "ttl-min 5\n"
            "ttl-max 3600\n" % (hints, tmp_path))


def test_version_prints_a_version_and_exits_0():
    r = run_ternd("--version")
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "tern" in out.lower() and any(c.isdigit() for c in out), out


def test_help_lists_every_flag_and_exits_0():
    r = run_ternd("--help")
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    missing = [f for f in FLAGS if f not in out]
    assert missing == [], out


def test_check_config_accepts_a_good_file(tmp_path, hints):
    conf = tmp_path / "ternd.conf"
    conf.write_text(good_config(tmp_path, hints))
    r = run_ternd("--config", str(conf), "--check-config")
    assert r.returncode == 0, r.stderr


def test_check_config_accepts_good_flags_and_returns_at_once(tmp_path, hints):
    r = run_ternd("--check-config", "--listen", "127.0.0.1:5399", "--listen=[::1]:5399",
                  "--root-hints", hints, "--cache-dir", str(tmp_path), "--threads", "1",
                  "--qname-minimisation", "off", "--ttl-min", "0", "--ttl-max", "86400")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("bad_line", [
    "no-such-key 1",
    "threads banana",
    "threads 0",
    "listen 999.0.0.1:53",
    "listen 127.0.0.1:99999",
    "qname-minimisation sometimes",
    "ttl-max -5",
    "threads",
])
def test_bad_config_line_is_reported_with_file_and_line(tmp_path, hints, bad_line):
    conf = tmp_path / "ternd.conf"
    conf.write_text("# line 1\nroot-hints %s\n%s\ncache-dir %s\n" % (hints, bad_line, tmp_path))
    r = run_ternd("--config", str(conf), "--check-config")
    assert r.returncode != 0
    assert "%s:3:" % conf in r.stderr, r.stderr


def test_every_bad_line_is_reported(tmp_path, hints):
    conf = tmp_path / "ternd.conf"
    conf.write_text("threads banana\nroot-hints %s\nbogus-key yes\nttl-min x\n" % hints)
    r = run_ternd("--config", str(conf), "--check-config")
    assert r.returncode != 0
    for line in (1, 3, 4):
        assert "%s:%d:" % (conf, line) in r.stderr, r.stderr


def test_bad_config_file_stops_the_daemon_too(tmp_path, hints):
    conf = tmp_path / "ternd.conf"
    conf.write_text("listen 127.0.0.1:5399\nthreads banana\n")
    r = run_ternd("--config", str(conf), "--root-hints", hints, "--cache-dir", str(tmp_path))
    assert r.returncode != 0
    assert "%s:2:" % conf in r.stderr, r.stderr


def test_missing_config_file_is_an_error(tmp_path):
    path = str(tmp_path / "nowhere.conf")
    r = run_ternd("--config", path, "--check-config")
    assert r.returncode != 0 and path in r.stderr, r.stderr


def test_unknown_flag_is_an_error():
    r = run_ternd("--no-such-flag", "1", "--check-config")
    assert r.returncode != 0 and "no-such-flag" in r.stderr, r.stderr


def test_bad_flag_value_is_an_error(tmp_path, hints):
    r = run_ternd("--check-config", "--threads", "banana", "--root-hints", hints)
    assert r.returncode != 0 and "threads" in r.stderr, r.stderr


def test_missing_root_hints_file_is_an_error(tmp_path):
    path = str(tmp_path / "no.hints")
    r = run_ternd("--check-config", "--root-hints", path, "--cache-dir", str(tmp_path))
    assert r.returncode != 0 and path in r.stderr, r.stderr


def test_config_file_settings_take_effect(ternd):
    t = ternd(config_text="ttl-max 60\n")
    r = t.query("ttl86400.ttl.test", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.answer[0].ttl <= 60


def test_listens_on_every_listen_address(ternd):
    port = free_port()
    t = ternd("--listen", "127.0.0.1:%d" % port)
    r = t.query("www.zone001.test", "A")
    assert r.rcode() == dns.rcode.NOERROR
    t.note("www.zone002.test")
    q = dns.message.make_query("www.zone002.test", "A")
    for tcp in (False, True):
        ask = dns.query.tcp if tcp else dns.query.udp
        r = ask(q, "127.0.0.1", port=port, timeout=5)
        assert r.rcode() == dns.rcode.NOERROR and r.answer
