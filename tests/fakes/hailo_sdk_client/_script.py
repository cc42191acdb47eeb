"""A small parser for DFC model scripts (.alls): ``[name =] command(args)`` per line, ``#`` comments."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

COMMANDS = {
    "normalization", "model_optimization_flavor", "model_optimization_config", "quantization_param",
    "pre_quantization_optimization", "post_quantization_optimization", "performance_param", "resources_param",
    "context_switch_param", "allocator_param", "platform_param", "resize", "input_conversion",
    "change_output_activation", "logits_layer", "nms_postprocess", "compilation_param",
}
_LINE = re.compile(r"^(?:(?P<name>[A-Za-z_]\w*)\s*=\s*)?(?P<cmd>[A-Za-z_]\w*)\s*\((?P<args>.*)\)\s*$")


class ModelScriptError(Exception):
    """A line of the model script cannot be parsed (the fake's own exception type)."""


@dataclass
class Script:
    lines: list[str] = field(default_factory=list)
    commands: list[tuple[str, list[Any], dict[str, Any]]] = field(default_factory=list)

    def last(self, cmd: str) -> tuple[list[Any], dict[str, Any]] | None:
        for c, args, kwargs in reversed(self.commands):
            if c == cmd:
                return args, kwargs
        return None


def _split(args: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in args:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # bare words: layer names, policies (enabled/disabled), {conv*} patterns


def parse_line(line: str) -> tuple[str, list[Any], dict[str, Any]] | None:
    line = line.split("#", 1)[0].strip()
    if not line:
        return None
    m = _LINE.match(line)
    if m is None:
        raise ModelScriptError(f"cannot parse model script line: {line!r}")
    cmd = m["cmd"]
    if cmd not in COMMANDS:
        raise ModelScriptError(f"unknown model script command {cmd!r} in line {line!r}")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for part in _split(m["args"]):
        key, eq, val = part.partition("=")
        if eq and re.fullmatch(r"[A-Za-z_]\w*", key.strip()):
            kwargs[key.strip()] = _value(val.strip())
        else:
            args.append(_value(part))
    _validate(cmd, args, kwargs, line)
    return cmd, args, kwargs


def _validate(cmd: str, args: list[Any], kwargs: dict[str, Any], line: str) -> None:
    if cmd == "normalization":
        if len(args) != 2 or not all(isinstance(a, list) and len(a) == 3 for a in args):
            raise ModelScriptError(f"normalization needs two lists of 3 numbers (mean, std): {line!r}")
        if any(float(s) <= 0 for s in args[1]):
            raise ModelScriptError(f"normalization std must be positive: {line!r}")
    if cmd == "model_optimization_flavor":
        if kwargs.get("optimization_level", 2) not in (-100, 0, 1, 2, 3, 4):
            raise ModelScriptError(f"optimization_level must be one of -100, 0..4: {line!r}")
        if kwargs.get("compression_level", 0) not in range(6):
            raise ModelScriptError(f"compression_level must be 0..5: {line!r}")


def parse(text: str) -> Script:
    script = Script()
    for raw in text.splitlines():
        parsed = parse_line(raw)
        if parsed is not None:
            script.lines.append(raw.strip())
            script.commands.append(parsed)
    return script
