"""Problem types are stable: unique slugs, each documented."""

from __future__ import annotations

from pathlib import Path

from service import problems


def all_problem_classes() -> list[type[problems.ProblemError]]:
    found: list[type[problems.ProblemError]] = []
    pending = [problems.ProblemError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_slugs_are_unique_and_documented() -> None:
    documented = (Path(__file__).parents[2] / "docs" / "problems.md").read_text()
    slugs: dict[str, type[problems.ProblemError]] = {}
    for cls in all_problem_classes():
        if cls is problems.InternalError:
            continue  # shares the base class's slug on purpose
        assert cls.slug not in slugs, f"{cls.__name__} reuses {cls.slug} of {slugs[cls.slug].__name__}"
        slugs[cls.slug] = cls
        assert f"`{cls.slug}`" in documented, f"{cls.slug} is not in docs/problems.md"
