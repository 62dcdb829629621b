"""How long one inclusion proof takes from the stored tree (``liuhen log prove``'s core), at N events.

Fills ``custody_tree`` of a fresh SQLite archive with the complete subtrees of an N-leaf tree (as
the log stores them while it grows; synthetic leaves, so no events are written), then times
``stored_nodes`` + ``merkle.build`` for inclusion proofs of random leaves and checks each against
the root. Usage: ``python bench/tlog_proof.py [N]`` (default 1,000,000).
"""

from __future__ import annotations

import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from hashing import merkle
from hashing.custody import stored_nodes
from hashing.models import CustodyNode
from liuhen import config


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    from app.runtime import open_archive

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.toml"
        cfg.write_text('[archive]\ndatabase_url = "sqlite:///var/liuhen.db"\n')
        archive = open_archive(config.load(cfg, environ={}))
        f, t0, batch = merkle.Frontier(), time.perf_counter(), []
        with archive.sessions.begin() as db:
            for i in range(n):
                for (level, idx), h in f.append(merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest())):
                    batch.append({"level": level, "idx": idx, "hash": h})
                if len(batch) >= 50_000:
                    db.execute(insert(CustodyNode), batch)
                    batch = []
            if batch:
                db.execute(insert(CustodyNode), batch)
        root = f.root()
        print(f"{n} leaves stored in {time.perf_counter() - t0:.1f} s")
        times = []
        with archive.sessions() as db:
            for i in random.Random(1).sample(range(n), 200):
                t = time.perf_counter()
                ranges = merkle.inclusion_ranges(i, n)
                nodes = stored_nodes(db, merkle.needed(ranges) | {(0, i)})
                proof = merkle.build(ranges, nodes)
                times.append(time.perf_counter() - t)
                merkle.verify_inclusion(i, n, nodes[(0, i)], proof, root)
        times.sort()
        print(f"inclusion proof at {n} leaves: median {times[len(times) // 2] * 1e3:.2f} ms, "
              f"p99 {times[int(len(times) * 0.99)] * 1e3:.2f} ms, max {times[-1] * 1e3:.2f} ms")
        archive.close()


if __name__ == "__main__":
    main()
