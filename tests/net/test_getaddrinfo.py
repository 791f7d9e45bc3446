"""The system's own resolver (glibc getaddrinfo, through getent) uses ternd.

glibc only talks to port 53, so ternd listens on 127.77.0.N:53 and getent runs
in a private mount namespace where /etc/resolv.conf is bind-mounted over with
one that names it. Nothing outside the namespace sees the change."""

import os
import shutil
import socket
import subprocess

import pytest

GETENT_TIMEOUT_S = 20


def free_port53_address():
    for n in range(1, 50):
        addr = "127.77.0.%d" % n
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind((addr, 53))
                u.bind((addr, 53))
            return addr
        except OSError:
            continue
    pytest.skip("no free 127.77.0.N:53")


@pytest.fixture
def system_resolver(ternd, tmp_path):
    """A ternd on port 53 and run(database, name): getent resolving through it."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("getent"):
        pytest.skip("needs root, unshare(1) and getent(1)")
    addr = free_port53_address()
    t = ternd(listen="%s:53" % addr)

    def run(database, name, search=None):
        """getent @database @name, with ternd as the system's resolver."""
        conf = tmp_path / "resolv.conf"
        text = "nameserver %s\noptions timeout:5 attempts:1\n" % addr
        if search:
            text += "search %s\n" % search
        conf.write_text(text)
        t.note(name, "%s.%s" % (name, search) if search else name)
        cmd = ["getent", database, name]
        script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
        return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(conf)] + list(cmd),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=GETENT_TIMEOUT_S)
    run.ternd = t
    return run


def addresses(getent_stdout):
    return {line.split()[0] for line in getent_stdout.splitlines() if line.strip()}


def test_getent_ahosts_gets_ipv4_and_ipv6(system_resolver, simnet):
    r = system_resolver("ahosts", "www.zone001.test")
    assert r.returncode == 0, r.stderr
    assert addresses(r.stdout) == (simnet.expected("www.zone001.test", "A") |
                                   simnet.expected("www.zone001.test", "AAAA"))


def test_getent_ahostsv4_and_v6(system_resolver, simnet):
    r = system_resolver("ahostsv4", "www.zone002.test")
    assert r.returncode == 0 and addresses(r.stdout) == simnet.expected("www.zone002.test", "A")
    r = system_resolver("ahostsv6", "www.zone002.test")
    assert r.returncode == 0 and addresses(r.stdout) == simnet.expected("www.zone002.test", "AAAA")


def test_getent_hosts(system_resolver, simnet):
    r = system_resolver("hosts", "mail.zone003.test")
    assert r.returncode == 0, r.stderr
    got = addresses(r.stdout)
    assert got and got <= (simnet.expected("mail.zone003.test", "A") |
                           simnet.expected("mail.zone003.test", "AAAA"))


def test_getent_follows_cname_to_canonical_name(system_resolver, simnet):
    r = system_resolver("ahostsv4", "alias.zone004.test")
    assert r.returncode == 0, r.stderr
    assert addresses(r.stdout) == simnet.expected("www.zone004.test", "A")
    assert "www.zone004.test" in r.stdout       # the canonical name, from the CNAME


def test_getent_cname_chain_across_zones(system_resolver):
    r = system_resolver("ahostsv4", "www.cname-a.test")
    assert r.returncode == 0 and addresses(r.stdout) == {"10.23.0.4"}, r.stderr


def test_getent_unknown_name_fails(system_resolver):
    r = system_resolver("ahosts", "nx.zone005.test")
    assert r.returncode == 2          # getent: key not found


def test_search_domain_from_resolv_conf(system_resolver, simnet):
    r = system_resolver("ahostsv4", "www", search="zone006.test")
    assert r.returncode == 0, r.stderr
    assert addresses(r.stdout) == simnet.expected("www.zone006.test", "A")
