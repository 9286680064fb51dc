"""The readable reference at /api/docs: the document's Markdown descriptions as HTML, and
its table of contents.

The descriptions are CommonMark (OpenAPI says so). markdown-it-py renders them with raw
HTML switched off (`<b>` in a description is shown as text, not obeyed) and its own link
check (no `javascript:` links), so the page stays safe and inline-free under the CSP.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markupsafe import Markup

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def markdown(text: str | None) -> Markup:
    """A description as HTML blocks (paragraphs, lists, code)."""
    return Markup(_MARKDOWN.render(text or ""))


def markdown_inline(text: str | None) -> Markup:
    """A short description (a table cell, a summary) as inline HTML: no paragraph around it."""
    return Markup(_MARKDOWN.renderInline(text or ""))


def anchor(method: str, path: str) -> str:
    """The id of an operation's section, e.g. `get-api-v2-metadata-key`."""
    return f"{method}{path.replace('/', '-').replace('{', '').replace('}', '')}".rstrip("-")


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    anchor: str
    spec: dict
    parameters: list


@dataclass
class TagGroup:
    """One API (an OpenAPI tag) and its operations, in the document's order."""

    name: str
    description: str
    anchor: str
    operations: list[Operation] = field(default_factory=list)


NOT_OPERATIONS = ("parameters", "summary", "description", "servers")


def contents(spec: dict) -> list[TagGroup]:
    """The operations grouped by tag (untagged ones last), for the contents and the page."""
    groups = {tag["name"]: TagGroup(tag["name"], tag.get("description", ""),
                                    "api-" + tag["name"].lower().replace(" ", "-"))
              for tag in spec.get("tags", [])}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in NOT_OPERATIONS:
                continue
            tag = (op.get("tags") or ["Other"])[0]
            group = groups.setdefault(tag, TagGroup(tag, "", "api-" + tag.lower().replace(" ", "-")))
            group.operations.append(Operation(
                method=method, path=path, summary=op.get("summary", ""),
                anchor=anchor(method, path), spec=op,
                parameters=(item.get("parameters") or []) + (op.get("parameters") or []),
            ))
    return [group for group in groups.values() if group.operations]
