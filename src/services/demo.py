"""The bundled demo: a SQLite database of sample sales, built on first use.

``python -m src.services.demo [PATH]`` creates it (default ``data/demo.db``) unless it
exists. The data come from a fixed seed, dated around the day it is built.
"""

from __future__ import annotations

import random
import sqlite3
import sys
from datetime import date, timedelta
from pathlib import Path

from src.services.permissions import make_private_dir

REGIONS = ("North", "South", "East", "West")
PRODUCTS = {
    "Espresso beans 1 kg": 18.50,
    "Filter coffee 500 g": 7.90,
    "Green tea 100 bags": 5.25,
    "Ceramic mug": 9.00,
    "Milk frother": 34.99,
}


def build_demo_database(
    path: Path, today: date, days_back: int = 90, days_ahead: int = 400, seed: int = 7
) -> int:
    """Create the demo database at ``path``; returns the rows written.

    Sales run from ``days_back`` before ``today`` to ``days_ahead`` after it, so a
    report on "yesterday" finds rows for a year after the database was built.
    """
    make_private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    rng = random.Random(seed)
    rows = []
    for offset in range(-days_back, days_ahead + 1):
        day = today + timedelta(days=offset)
        for _ in range(rng.randint(15, 40)):
            product, price = rng.choice(list(PRODUCTS.items()))
            quantity = rng.randint(1, 12)
            rows.append(
                (
                    day.isoformat(),
                    rng.choice(REGIONS),
                    product,
                    quantity,
                    price,
                    round(price * quantity, 2),
                    rng.random() > 0.1,
                    rng.choice([None, None, None, "gift wrap", "rush order", "repeat customer"]),
                )
            )
    with sqlite3.connect(tmp) as conn:
        conn.execute(
            "CREATE TABLE sales (id INTEGER PRIMARY KEY, order_date DATE NOT NULL, "
            "region TEXT NOT NULL, product TEXT NOT NULL, quantity INTEGER NOT NULL, "
            "unit_price NUMERIC NOT NULL, total NUMERIC NOT NULL, paid BOOLEAN NOT NULL, "
            "note TEXT)"
        )
        conn.executemany(
            "INSERT INTO sales (order_date, region, product, quantity, unit_price, total, paid, "
            "note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()
    tmp.replace(path)
    return len(rows)


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "data/demo.db")
    if path.exists():
        print(f"Demo database: {path} (exists)")
        return 0
    count = build_demo_database(path, date.today())
    print(f"Demo database: {path} ({count} sales rows, built)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
