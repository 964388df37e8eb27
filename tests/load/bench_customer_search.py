"""Customer search over 100,000 customers on PostgreSQL, and create throughput.

Prints search latency p50/p99 through the customers API (in-process Flask client, real
PostgreSQL) for name prefixes, email fragments and numbers, with the query plan used; then
customers created per second by concurrent API clients against the same database.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, make_url, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.customers.app import SERVICE
from services.customers.domain import customer_number, search_text
from services.customers.models import Customer
from shared.clock import utcnow
from shared.config import load_settings
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity
from tests.load.common import drop_database, percentile
from tests.support.realmode import DATABASE

SECRET = "benchmark-internal-secret-000"
SYLLABLES = [
    "ka",
    "lo",
    "me",
    "ni",
    "tra",
    "po",
    "sta",
    "vel",
    "gor",
    "dan",
    "ri",
    "zen",
    "mar",
    "tek",
    "ol",
    "ba",
    "qu",
    "fi",
    "ser",
    "ax",
]
GREEK = ["Αθηνά", "Ολυμπία", "Δέλτα", "Κρήτη", "Ερμής", "Ζέφυρος"]
SUFFIXES = ["Ltd", "GmbH", "SA", "Hotels", "Trading", "Foods", "Logistics", "& Sons"]


def company_name(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return f"{rng.choice(GREEK)} {rng.choice(SUFFIXES)} {rng.randint(1, 999)}"
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
    return f"{word} {rng.choice(SUFFIXES)}"


def fill(url: str, count: int, rng: random.Random) -> list[str]:
    engine = create_engine(url)
    names: list[str] = []
    now = utcnow()
    with engine.begin() as conn:
        for start in range(0, count, 5000):
            rows = []
            for seq in range(start + 1, min(start + 5000, count) + 1):
                name = company_name(rng)
                email = f"ap{seq}@{name.split()[0].lower()}.test"
                number = customer_number(seq)
                names.append(name)
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "seq": seq,
                        "number": number,
                        "name": name,
                        "search_text": search_text(name, email, number),
                        "email": email,
                        "payment_terms": "net_30",
                        "currency": "EUR",
                        "reminders_enabled": True,
                        "status": "active",
                        "has_documents": False,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            conn.execute(insert(Customer.__table__), rows)
        conn.execute(
            text("INSERT INTO counters (name, value) VALUES ('customer_number', :n)"), {"n": count}
        )
        conn.execute(text("ANALYZE customers"))
    engine.dispose()
    return names


def timed_searches(client, headers, queries: list[str]) -> list[float]:
    latencies = []
    for q in queries:
        started = time.perf_counter()
        answer = client.get("/customers", query_string={"q": q, "limit": 50}, headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.get_json()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--create-seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(7)

    name = f"tameio_benchsearch_{uuid.uuid4().hex[:8]}"
    url = make_url(DATABASE).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(
        "customers", {"TAMEIO_CUSTOMERS_DATABASE_URL": url, "TAMEIO_INTERNAL_SECRET": SECRET}
    )
    SERVICE.migrate(settings)
    try:
        started = time.perf_counter()
        names = fill(url, args.customers, rng)
        print(f"{args.customers} customers inserted in {time.perf_counter() - started:.1f} s")
        app = SERVICE.create_app(settings)
        client = app.test_client()
        headers = {IDENTITY_HEADER: sign_identity(SECRET, Identity("bench", "admin"))}
        client.get("/customers", headers=headers)  # warm up

        cases = {
            "name prefix (3-6 chars)": [
                n[: rng.randint(3, 6)] for n in rng.sample(names, args.searches)
            ],
            "name prefix (2 chars)": [n[:2] for n in rng.sample(names, args.searches // 4)],
            "whole name": [n for n in rng.sample(names, args.searches // 4)],
            "email fragment": [
                f"ap{rng.randint(1, args.customers)}@" for _ in range(args.searches // 4)
            ],
            "number": [
                customer_number(rng.randint(1, args.customers)) for _ in range(args.searches // 4)
            ],
            "Greek, any case or accent": ["αθηνα", "ΟΛΥΜΠΙΑ", "δελτα", "Ερμης"]
            * (args.searches // 16),
        }
        print(f"search latency through the API ({args.customers} customers, limit 50):")
        for label, queries in cases.items():
            latencies = timed_searches(client, headers, queries)
            print(
                f"  {label:<28} p50 {percentile(latencies, 0.5):6.1f} ms   "
                f"p99 {percentile(latencies, 0.99):6.1f} ms   (n={len(latencies)})"
            )

        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            plan = (
                conn.execute(
                    text(
                        "EXPLAIN SELECT * FROM customers WHERE search_text LIKE '%' || :q || '%' "
                        "ORDER BY seq LIMIT 51"
                    ),
                    {"q": "trapo"},
                )
                .scalars()
                .all()
            )
        engine.dispose()
        print("  plan for q=trapo: " + " / ".join(line.strip() for line in plan[:4]))

        counts = [0] * args.threads
        stop_at = time.perf_counter() + args.create_seconds

        def create(slot: int) -> None:
            own = app.test_client()
            while time.perf_counter() < stop_at:
                answer = own.post("/customers", json={"name": company_name(rng)}, headers=headers)
                assert answer.status_code == 201
                counts[slot] += 1

        workers = [threading.Thread(target=create, args=(i,)) for i in range(args.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        total = sum(counts)
        print(
            f"create throughput: {total / args.create_seconds:.0f} customers/s "
            f"({args.threads} threads, one process, in-process client; "
            f"spread {statistics.pstdev(counts):.0f})"
        )
        app.extensions["tameio"].db.dispose()
    finally:
        drop_database(DATABASE, name)


if __name__ == "__main__":
    main()
