"""The run tag in R-BAK-2 snapshot names and tags: unique per run, the same for every retry of one run."""

from __future__ import annotations

import re
import uuid

import pytest

from adeflow.domain.snapshot_names import SNAPSHOT_NAME_MAX, run_tag, snapshot_name

MS = 0x01A24C3BD9A8  # a millisecond timestamp as the dev server puts it at the head of a UUIDv7 run id


def uuid7(ms: int, rand_a: int, rand_b: int) -> str:
    """A UUIDv7: 48-bit millisecond timestamp, version 7, 12 bits rand_a (or a counter), variant, 62 random bits."""
    assert ms < 1 << 48 and rand_a < 1 << 12 and rand_b < 1 << 62
    return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b))


def test_r_bak_2_two_runs_started_in_the_same_millisecond_get_different_tags() -> None:
    first, second = uuid7(MS, 0x0DE, 0x1995BA284284F006), uuid7(MS, 0x0DE, 0x1234ABCDEF012345)
    assert first[:8] == second[:8]  # the old tag (the run id's head) was the same for both
    assert run_tag(first) != run_tag(second)


def test_r_bak_2_runs_a_minute_apart_share_no_tag_through_their_timestamp() -> None:
    tags = {run_tag(uuid7(MS + step * 1000, 0x123, 0x2A5A5A5A5A5A5A5A + step)) for step in range(60)}
    assert len(tags) == 60


def test_r_bak_2_the_same_run_id_always_gives_the_same_tag() -> None:
    run_id = uuid7(MS, 0x3B3, 0x3995BA284284F006)
    assert run_tag(run_id) == run_tag(run_id) == run_tag(run_id.upper()) == "ba284284f006"


@pytest.mark.parametrize("run_id", [str(uuid.uuid4()), uuid7(MS, 1, 2), "not-a-uuid", ""])
def test_r_bak_2_the_tag_is_twelve_hex_digits_for_any_run_id(run_id: str) -> None:
    assert re.fullmatch(r"[0-9a-f]{12}", run_tag(run_id))
    assert run_tag(run_id) == run_tag(run_id)


def test_r_bak_2_a_long_disk_name_is_cut_so_the_run_tag_stays_in_the_snapshot_name() -> None:
    tag = run_tag(uuid7(MS, 1, 2))
    name = snapshot_name("d" * 100, tag)
    assert len(name) == SNAPSHOT_NAME_MAX and name.endswith(f"-ade-{tag}")
