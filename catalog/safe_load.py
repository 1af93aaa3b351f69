"""YAML and JSON from users, parsed with limits: size, nesting depth and alias expansion.

``yaml.safe_load`` alone refuses tags that build arbitrary objects, but it still takes a
60 MB file, a 10,000-deep nesting (``RecursionError`` from the composer) or a "billion
laughs" alias bomb, whose few hundred bytes expand into billions of nodes as soon as
anything walks the result (pydantic, ``json.dumps``). Here the limits are checked on the
composed node graph *before* any Python object is built, so a bomb is refused in
milliseconds with a few kilobytes of memory.

>>> load_yaml_text("a: [1, 2]", source="inline")
{'a': [1, 2]}
>>> load_yaml_text("a: &x [1, 2]\\nb: *x", source="inline")  # aliases are fine within limits
{'a': [1, 2], 'b': [1, 2]}
>>> bomb = "a: &a [x, x]\\n" + "".join(f"{c}: &{c} [*{p}, *{p}]\\n" for p, c in zip("abcdefghijklmnopqrstuvwxy", "bcdefghijklmnopqrstuvwxyz"))
>>> load_yaml_text(bomb, source="bomb.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
catalog.errors.UnsafeInputError: bomb.yaml expands to more than 20000 nodes (aliases count once per use)...
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from catalog.errors import UnsafeInputError

__all__ = ["Limits", "DEFAULT_LIMITS", "load_yaml_text", "load_json_text", "load_file"]


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """What a user document may be: ``max_bytes`` of text, ``max_depth`` levels of nesting,
    ``max_nodes`` scalars/lists/maps after alias expansion (each use of an alias counts its
    whole subtree again) and ``max_aliases`` alias uses."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_nodes: int = 20_000
    max_aliases: int = 1_000


DEFAULT_LIMITS = Limits()


class _LimitedLoader(Reader, Scanner, Parser, Composer, SafeConstructor, Resolver):
    """SafeLoader whose composer refuses deep nesting and counts aliases while it composes."""

    def __init__(self, stream: str, limits: Limits, source: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._limits, self._source, self._depth, self._aliases = limits, source, 0, 0

    # The scanner looks ahead for simple keys in quadratic time in the flow level, so deep
    # nesting is refused where the scanner opens a level, before the composer sees it.
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 (PyYAML hook)
        if self.flow_level >= self._limits.max_depth:
            raise UnsafeInputError(
                f"{self._source} nests deeper than {self._limits.max_depth} levels; flatten the document",
                value=self.flow_level,
            )
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:  # noqa: D102 (PyYAML hook)
        if len(self.indents) >= self._limits.max_depth:
            raise UnsafeInputError(
                f"{self._source} nests deeper than {self._limits.max_depth} levels; flatten the document",
                value=len(self.indents),
            )
        return super().add_indent(column)

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # noqa: D102 (PyYAML hook)
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self._limits.max_aliases:
                raise UnsafeInputError(
                    f"{self._source} uses more than {self._limits.max_aliases} aliases (*name); "
                    "write the values out or split the document",
                    value=self._aliases,
                )
        self._depth += 1
        try:
            if self._depth > self._limits.max_depth:
                raise UnsafeInputError(
                    f"{self._source} nests deeper than {self._limits.max_depth} levels; flatten the document",
                    value=self._depth,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(root: Node, limits: Limits, source: str) -> int:
    """Nodes the document would have with every alias expanded; refuses cycles and excess.

    Memoised per node, so the work is linear in the *distinct* nodes even for a bomb.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise UnsafeInputError(f"{source} has a recursive alias (a node that contains itself); remove the cycle", value=None)
        if depth > limits.max_depth:
            raise UnsafeInputError(f"{source} nests deeper than {limits.max_depth} levels once aliases are expanded", value=depth)
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            children: list[Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child, depth + 1)
            if total > limits.max_nodes:
                break
        active.discard(key)
        sizes[key] = total
        if total > limits.max_nodes:
            raise UnsafeInputError(
                f"{source} expands to more than {limits.max_nodes} nodes (aliases count once per use); "
                "a manifest is a few dozen fields: remove the repeated aliases or split the data",
                value=total,
            )
        return total

    return size(root, 1)


def _check_size(text: str | bytes, limits: Limits, source: str) -> None:
    n = len(text.encode("utf-8") if isinstance(text, str) else text)
    if n > limits.max_bytes:
        raise UnsafeInputError(
            f"{source} is {n} bytes, over the limit of {limits.max_bytes}; a manifest or config is a few kilobytes: "
            "check that you passed the right file",
            value=n,
        )


def load_yaml_text(text: str, *, source: str = "<yaml>", limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse one YAML document (safe tags only) within ``limits``; raises :class:`UnsafeInputError`
    (a ``ValueError``) for anything too big, deep or expanding, or not valid YAML."""
    _check_size(text, limits, source)
    loader = _LimitedLoader(text, limits, source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if not isinstance(node, (ScalarNode, SequenceNode, MappingNode)):
            raise UnsafeInputError(f"{source} has an unexpected YAML node {type(node).__name__}", value=None)
        _expanded_size(node, limits, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise UnsafeInputError(f"{source} is not valid YAML ({exc}); fix the syntax", value=None) from None
    except RecursionError:
        raise UnsafeInputError(f"{source} nests too deeply to parse; flatten the document", value=None) from None
    finally:
        loader.dispose()


def _walk_json(value: Any, limits: Limits, source: str) -> None:
    count, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > limits.max_nodes:
            raise UnsafeInputError(f"{source} has more than {limits.max_nodes} values; split the data", value=count)
        if depth > limits.max_depth:
            raise UnsafeInputError(f"{source} nests deeper than {limits.max_depth} levels; flatten the document", value=depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def load_json_text(text: str | bytes, *, source: str = "<json>", limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse JSON within ``limits``; NaN/Infinity literals are refused (not JSON)."""
    _check_size(text, limits, source)

    def _no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise UnsafeInputError(f"{source} nests too deeply to parse; flatten the document", value=None) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnsafeInputError(f"{source} is not valid JSON ({exc}); fix the syntax", value=None) from None
    _walk_json(value, limits, source)
    return value


def load_file(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Read a ``.json`` file as JSON, anything else as YAML, never more than ``limits.max_bytes``."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise UnsafeInputError(f"{str(p)!r} does not exist; pass the path of an existing file", value=str(p)) from None
    except IsADirectoryError:
        raise UnsafeInputError(f"{str(p)!r} is a folder; pass the path of a file", value=str(p)) from None
    _check_size(data, limits, repr(str(p)))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeInputError(f"{str(p)!r} is not UTF-8 text ({exc}); save it as UTF-8", value=str(p)) from None
    if p.suffix.lower() == ".json":
        return load_json_text(text, source=repr(str(p)), limits=limits)
    return load_yaml_text(text, source=repr(str(p)), limits=limits)
