"""The migrations: src/services/cluster/migrations/env.py runs them on the caller's
connection; src/services/cluster/migrations/versions/0001_cluster_schema.py up and down."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from src.services.cluster.database import engine_for
from src.services.cluster.schema import MIGRATIONS, current, upgrade

pytestmark = pytest.mark.postgres


def test_the_schema_goes_down_and_up_again(pg_fresh_url: str) -> None:
    engine = engine_for(pg_fresh_url)
    upgrade(engine)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert current(engine) is None
    with engine.connect() as conn:
        left = conn.execute(
            sa.text(
                "SELECT count(*) FROM information_schema.tables WHERE "
                "table_schema = current_schema() AND table_name LIKE 'scheduler_%' "
                "AND table_name <> 'scheduler_alembic_version'"
            )
        ).scalar()
    assert left == 0
    upgrade(engine)
    assert current(engine) == "0001"
