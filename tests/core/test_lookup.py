"""Finding a task by what a person types (src/core/lookup.py): id, id prefix or name."""

from __future__ import annotations

import pytest

from src.core.errors import AmbiguousTask, TaskNotFound
from src.core.lookup import find_task
from src.core.task import Task


def task(task_id: str, name: str) -> Task:
    return Task.from_dict(
        {"id": task_id, "name": name, "query": "SELECT 1", "schedule": {"cron": "0 9 * * *"}}
    )


TASKS = [task("abcd1111", "Daily sales"), task("abcd2222", "Weekly stock"), task("ef01", "abcd")]


def test_exact_id_wins_over_a_name_and_a_prefix() -> None:
    assert find_task(TASKS, "ef01").name == "abcd"
    assert find_task(TASKS, " abcd1111 ").name == "Daily sales"


def test_name_in_any_case() -> None:
    assert find_task(TASKS, "WEEKLY stock").id == "abcd2222"
    # a name is tried before an id prefix: "abcd" is a task's name and two ids' prefix
    assert find_task(TASKS, "abcd").id == "ef01"


def test_unique_prefix_of_at_least_four_characters() -> None:
    assert find_task(TASKS, "abcd2").name == "Weekly stock"


def test_prefix_of_several_ids_lists_them() -> None:
    tasks = TASKS[:2]
    with pytest.raises(AmbiguousTask) as caught:
        find_task(tasks, "abcd")
    assert str(caught.value) == (
        "'abcd' matches 2 tasks; give more of the id:\n"
        "  abcd1111  Daily sales\n"
        "  abcd2222  Weekly stock"
    )


def test_not_found_suggests_a_close_name_or_says_a_prefix_is_too_short() -> None:
    with pytest.raises(TaskNotFound) as caught:
        find_task(TASKS, "Daily sale")
    assert str(caught.value) == (
        "no task 'Daily sale' (by id, id prefix or name). Did you mean 'Daily sales'? "
        "See `manage_tasks.py list`."
    )
    with pytest.raises(TaskNotFound, match="An id prefix needs at least 4 characters"):
        find_task(TASKS, "zz")
