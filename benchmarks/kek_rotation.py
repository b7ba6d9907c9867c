"""What a KEK rotation costs (issue 18, P18): the purge step that retires every copy of a purged key.

Each purge ends with a rotation: a new KEK generation (a private file, fsynced), one transaction
that re-wraps every surviving case and order key under it, and the old generation's file
overwritten, fsynced and removed. Its cost grows with the number of surviving scope keys, not
with the data: templates are never re-encrypted (a subject release also renews its case's key,
re-wrapping that case's subject keys and re-encrypting its case-level plate entries).

Seeds ``--scopes`` open cases, each with one subject and one enrolled template (so a case key
and a subject key each) through matcher's own enrolment, then measures ``--repeats`` rotations
on their own, and one whole purge (``run_due`` of one closed case: key, rows, checkpoint,
rotation, receipt)::

    python -m benchmarks.kek_rotation --scopes 1000 [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.search_bench import MODEL
from lifecycle.clock import SystemClock
from matcher.app import build_app
from matcher.config import Settings
from matcher.kek import generation_files

ACTOR = "bench"


def run(scopes: int, repeats: int, database_url: str = "") -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        if database_url.startswith("postgresql"):
            from tests.conftest import reset_postgres

            reset_postgres(database_url)
        settings = Settings(data_dir=data_dir, listen="127.0.0.1:0", database_url=database_url)
        app = build_app(settings, SystemClock())
        try:
            rng = np.random.default_rng(18)
            seeded = time.perf_counter()
            for i in range(scopes + 1):
                case_id = f"case-{i}"
                app.lifecycle.create_case(ACTOR, case_id, "Rotation", "benchmark")
                app.lifecycle.create_subject(ACTOR, case_id, "s", "", "suspect", "benchmark")
                vector = rng.standard_normal((1, 512)).astype(np.float32)
                vector /= np.linalg.norm(vector)
                app.faces.enroll_many(ACTOR, case_id, "s", vector, MODEL, "benchmark")
            seeding = time.perf_counter() - seeded
            rotations = []
            for _ in range(repeats):
                started = time.perf_counter()
                app.rotation.rotate(())
                rotations.append(time.perf_counter() - started)
            app.lifecycle.close_case(ACTOR, f"case-{scopes}", "benchmark")
            started = time.perf_counter()
            app.worker.run_due()
            purge = time.perf_counter() - started
            assert settings.kek_file is not None
            left = sorted(generation_files(settings.kek_file))
        finally:
            app.close()
    return {
        "backend": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "surviving_scope_keys": scopes,
        "seeding_s": round(seeding, 2),
        "rotation_s": {
            "median": round(statistics.median(rotations), 4),
            "min": round(min(rotations), 4),
            "max": round(max(rotations), 4),
            "repeats": repeats,
        },
        "whole_purge_s": round(purge, 4),
        "generations_left": left,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scopes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print(json.dumps(run(args.scopes, args.repeats, args.database_url), indent=2))


if __name__ == "__main__":
    main()
