"""The `lake` fixture: the query tests' applied stack and curated files (helpers in query_support.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from query_support import REGION, ROWS, STACK, Lake, listing_table, moto_process

from components.data_lake import curated
from tricloud.engine import Emulator, Engine
from tricloud.inventory import stack_config


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    from tricloud.query.demo import register_run

    proc, url = moto_process()
    emu = Emulator.start(REGION, endpoint=url)
    state: Path = tmp_path_factory.mktemp("query-state") / "aws-dev.json"
    engine = Engine(emu, stack=STACK, config=stack_config("aws", "dev"), state_path=state)
    try:
        outputs = engine.apply().outputs
        lake = Lake(emu, dict(outputs), f"{outputs['curated_uri']}{curated.PREFIX}run-test/", state)
        for city, rows in ROWS.items():
            lake.put_parquet(city, listing_table(rows))
        bucket = lake.run_uri.removeprefix("s3://").split("/", 1)[0]
        emu.client("s3").put_object(Bucket=bucket, Key=lake.run_uri.split("/", 3)[3] + "_SUCCESS", Body=b"")
        register_run(emu, lake.outputs, lake.run_uri.replace("s3://", "s3a://"))
        yield lake
    finally:
        try:
            Engine(emu, stack=STACK, config=stack_config("aws", "dev"), state_path=state).destroy()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
