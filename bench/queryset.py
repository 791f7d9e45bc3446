"""bench/queryset: the fixed set of questions every resolver is asked.

Built from the simnet's model (simnet.json) and its unsigned zone files: names of
the hosting zones zone001..zone300.test, a few questions per zone, each with data
(one RRset per answer, no CNAME, no NODATA), so that "records cached" is the same
number for every resolver. Questions go slot by slot (first www A of every zone,
then www AAAA of every zone, ...) so that a small set still spreads over many
zones, then they are shuffled with a fixed seed.
"""

import os
import random
import re

import dns.rdatatype
import dns.zone

# (owner label or "" for the apex, type), in the order the set takes them.
SLOTS = [("www", "A"), ("www", "AAAA"), ("", "MX"), ("mail", "A"), ("", "A"),
         ("mail", "AAAA"), ("mx2", "A"), ("txt", "TXT"), ("", "TXT")]
SEED = 6   # issue 6: the same order on every run


class QuerySet:
    """@n questions: .questions [(name, type)], .expected {(name, type): {rdata text}},
    .signed: the questions whose zone is signed (a validating resolver sets AD)."""

    def __init__(self, simnet_info, n):
        zones = sorted(z for z in simnet_info["zones"] if re.fullmatch(r"zone\d{3}\.test\.", z))
        if n > len(zones) * len(SLOTS):
            raise SystemExit("bench: at most %d questions in the simnet" % (len(zones) * len(SLOTS)))
        self.questions = []
        self.expected = {}
        self.signed = set()
        loaded = {}
        for label, rtype in SLOTS:
            for z in zones:
                if len(self.questions) == n:
                    break
                name = (label + "." if label else "") + z
                if z not in loaded:
                    path = os.path.join(simnet_info["unsigned_dir"], z.rstrip(".") + ".zone")
                    loaded[z] = dns.zone.from_file(path, origin=z, relativize=False)
                rdataset = loaded[z].get_rdataset(name, dns.rdatatype.from_text(rtype))
                if not rdataset:
                    raise SystemExit("bench: %s %s has no data in the simnet" % (name, rtype))
                self.questions.append((name, rtype))
                if simnet_info["zones"][z].get("signed"):
                    self.signed.add((name, rtype))
                self.expected[(name, rtype)] = {rd.to_text() for rd in rdataset}
        random.Random(SEED).shuffle(self.questions)

    @property
    def rrsets(self):
        """RRsets the answers hold: one per question (what "per cached record" divides by)."""
        return len(self.questions)

    def write(self, path, questions=None):
        """Write a dnsperf data file ("name type" per line); returns @path."""
        with open(path, "w") as f:
            for name, rtype in questions or self.questions:
                f.write("%s %s\n" % (name, rtype))
        return path
