"""Batch import at 100,000 rows: a generated CSV with 5% bad rows, imported and validated end to
end through ``calls.services.batch_create`` (read, encoding and delimiter detection, phone
parsing, do-not-call lookup, de-duplication, bulk insert, counters), with its time and the
peak memory it added.

Run with `make bench` or `.venv/bin/python bench/bench_batch_import.py [rows]`. Uses the
development database; works in the `bench` organization (created if missing) with its own
agent and number, and deletes the batches it made before and after.

Targets (issue 13): under 20 s end to end, peak memory growth under 200 MB.
Peak memory growth is the process's maximum resident set (ru_maxrss) after the import minus
before it, measured after a warm-up import of 2,000 rows (so imports of Django, phonenumbers'
metadata and the like are not counted), and tracemalloc's peak of Python allocations.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django_tenants.utils import tenant_context  # noqa: E402

from agents.models import Agent  # noqa: E402
from agents.services import agent_create  # noqa: E402
from calls import services  # noqa: E402
from calls.models import Batch, DoNotCallEntry, PhoneNumber  # noqa: E402
from organizations.models import Organization  # noqa: E402
from organizations.services import organization_create  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
BAD_SHARE = 0.05
DNC_NUMBERS = 500
NUMBER = "+14155550100"
SEED = 20261201
AREA_CODES = ["212", "305", "312", "415", "503", "617", "702", "713", "808", "917"]


def bench_organization() -> Organization:
    org = Organization.objects.filter(slug="bench").first()
    return org or organization_create(name="Bench", slug="bench", industry="benchmarks")


def setup() -> Agent:
    agent = Agent.objects.alive().filter(name="Bench batch caller").first()
    if agent is None:
        agent = agent_create(
            name="Bench batch caller",
            system_prompt="You call {{customer_name}} about their {{plan}} plan.",
        )
    if not PhoneNumber.objects.filter(number=NUMBER).exists():
        services.phone_number_create(number=NUMBER, agent_id=agent.pk)
    return agent


def write_csv(path: Path, rows: int) -> dict[str, int]:
    """A CSV of ``rows`` callees: 5% bad (unparseable numbers, missing names, bad zones,
    broken lines), some duplicates and do-not-call numbers among the rest."""
    rng = random.Random(SEED)
    kinds = {"bad_number": 0, "missing_variable": 0, "bad_zone": 0, "broken": 0}
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Phone Number,Customer Name,Plan,Time Zone,Notes\n")
        for i in range(rows):
            area = rng.choice(AREA_CODES)
            phone = f"({area}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
            name, plan, zone = f"Customer {i}", rng.choice(["gold", "silver"]), ""
            note = '"Prefers mornings, ask for ""the manager"""' if i % 7 == 0 else "renewal"
            if rng.random() < BAD_SHARE:
                kind = rng.choice(list(kinds))
                kinds[kind] += 1
                if kind == "bad_number":
                    phone = f"555-{i}"
                elif kind == "missing_variable":
                    name = ""
                elif kind == "bad_zone":
                    zone = "Mars/Olympus"
                else:
                    out.write(f'{phone},"{name},{plan}x,\n')
                    continue
            out.write(f"{phone},{name},{plan},{zone},{note}\n")
    return kinds


def delete_bench_batches() -> None:
    for batch in Batch.objects.filter(name="Bench import"):
        services.batch_delete(batch=batch)


def import_file(agent: Agent, path: Path) -> Batch:
    with path.open("rb") as file:
        return services.batch_create(
            agent_id=agent.pk,
            source=services.UploadSource(file=file, name=path.name, origin="cli"),
            name="Bench import",
        )


def main() -> None:
    org = bench_organization()
    with tenant_context(org):
        agent = setup()
        delete_bench_batches()
        rng = random.Random(SEED + 1)
        DoNotCallEntry.objects.all().delete()
        DoNotCallEntry.objects.bulk_create(
            DoNotCallEntry(number=f"+1{rng.choice(AREA_CODES)}{rng.randint(2000000, 9999999)}")
            for _ in range(DNC_NUMBERS)
        )
        with tempfile.TemporaryDirectory() as tmp:
            warm = Path(tmp) / "warm.csv"
            write_csv(warm, 2_000)
            import_file(agent, warm)  # warm-up: imports, metadata, connection

            path = Path(tmp) / "callees.csv"
            kinds = write_csv(path, ROWS)
            size_mb = path.stat().st_size / 1e6

            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            batch = import_file(agent, path)
            seconds = time.perf_counter() - start
            rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

            delete_bench_batches()
            tracemalloc.start()
            import_file(agent, path)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        delete_bench_batches()
        DoNotCallEntry.objects.all().delete()

    print(f"rows: {ROWS:,} ({size_mb:.1f} MB), bad rows written: {sum(kinds.values()):,} {kinds}")
    print(
        f"batch: total {batch.total_count:,}, queued {batch.queued_count:,}, "
        f"invalid {batch.invalid_count:,}, skipped {batch.skipped_count:,}"
    )
    print(f"import: {seconds:.2f} s, {ROWS / seconds:,.0f} rows/s (target < 20 s)")
    print(
        f"peak RSS growth: {rss_growth_mb:.1f} MB; tracemalloc peak (second run): "
        f"{peak / 1e6:.1f} MB (target < 200 MB)"
    )


if __name__ == "__main__":
    main()
