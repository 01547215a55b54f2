"""The console's Jinja environment: autoescaping on for every template, whatever its file name."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar.plugins.jinja import JinjaTemplateEngine


def engine(directory: Path) -> JinjaTemplateEngine:
    """Every value is escaped unless a label helper built it as Markup; an unknown name is an error, not blank."""
    environment = Environment(
        loader=FileSystemLoader(directory), autoescape=True, undefined=StrictUndefined, auto_reload=False
    )
    return JinjaTemplateEngine.from_environment(environment)
