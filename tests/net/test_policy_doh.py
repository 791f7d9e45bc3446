"""Policy tenants by DoH path (issue 5): /dns-query for everyone,
/dns-query/family for a filtered view; scripts see q.path."""

import base64
import subprocess

import dns.message
import dns.rcode
import pytest

from tlsutil import Pki, start_encrypted

NAME = "www.zone011.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def ask(t, path, name):
    t.note(name)
    q = dns.message.make_query(name, "A")
    q.id = 0
    wire = base64.urlsafe_b64encode(q.to_wire()).rstrip(b"=").decode()
    url = "https://localhost:%d%s?dns=%s" % (t.doh_port, path, wire)
    r = subprocess.run(["curl", "-s", "-S", "--http2", "--max-time", "10", "--cacert", t.pki.ca,
                        "-o", "-", "-w", "\n%{http_code}", url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def test_tenant_by_doh_path_gets_its_own_script(ternd, simnet, pki, tmp_path):
    everyone = tmp_path / "all.lua"
    everyone.write_text("function on_query(q) return tern.pass() end\n")
    family = tmp_path / "family.lua"
    family.write_text("function on_query(q)\n"
                      "  if q.path ~= '/dns-query/family' then return tern.refuse() end\n"
                      "  return tern.nxdomain()\n"
                      "end\n")
    t = start_encrypted(ternd, pki, "--policy", str(everyone),
                        "--tenant", "/dns-query/family " + str(family), dot=False, doh=True)
    code, body = ask(t, "/dns-query", NAME)
    assert code == 200
    assert dns.message.from_wire(body).rcode() == dns.rcode.NOERROR
    code, body = ask(t, "/dns-query/family", NAME)
    assert code == 200
    assert dns.message.from_wire(body).rcode() == dns.rcode.NXDOMAIN, \
        "the family tenant's script runs, and sees q.path"
    code, _ = ask(t, "/elsewhere", NAME)
    assert code == 404
