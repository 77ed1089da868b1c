"""The tool library the row generator draws from: synthetic tools, templates of the built-in
tools, general questions and the generator's phrasings, read from the YAML files beside it.

Each tool file (``tool_library/<domain>.yaml``) lists tools with a JSON schema, slots (value
pools, see ``slot_values``), request templates per language, a result and answer templates.
Tools marked ``heldout`` are never offered in a training row: they measure how the model calls
tools it never saw. ``builtin.yaml`` has no schemas (the registry's are used) and adds held-out
phrasings instead. This module only reads and checks; it draws nothing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from tools.tool_spec import ToolSpec
from train_app.slot_values import LANGUAGES, Language

LIBRARY_DIR = Path(__file__).resolve().parent / "tool_library"
PHRASINGS_FILE = Path(__file__).resolve().parent / "phrasings.yaml"
BUILTIN_FILE = "builtin.yaml"
CHAT_FILE = "chat.yaml"
# {slot}, {nested.slot} or {result.key}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


class LibraryError(ValueError):
    """A tool library file that cannot be used (the message names the file and the tool)."""


@dataclass(frozen=True)
class Template:
    """One request wording: its text, the slots it says and the arguments its words imply."""

    text: str
    slots: tuple[str, ...]
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LibraryTool:
    name: str
    domain: str
    heldout: bool
    parameters: dict[str, Any] | None  # None: the registry's schema (built-in tools)
    description: str
    slots: dict[str, Any]
    requests: dict[Language, tuple[Template, ...]]
    heldout_requests: dict[Language, tuple[Template, ...]]
    result: Any
    answers: dict[Language, tuple[str, ...]]
    run: bool  # the generator runs it through the registry instead of using ``result``

    def openai_schema(self) -> dict[str, Any]:
        assert self.parameters is not None, f"{self.name} takes its schema from the registry"
        return ToolSpec(self.name, self.description, self.parameters).openai_schema()


@dataclass(frozen=True)
class ChatQuestion:
    """A question no tool answers, with a short answer written for it."""

    language: Language
    question: str
    answer: str
    heldout: bool


def _templates(raw: Any, where: str) -> dict[Language, tuple[Template, ...]]:
    result: dict[Language, tuple[Template, ...]] = {}
    for language in LANGUAGES:
        templates = []
        for entry in (raw or {}).get(language, []):
            text, args = (
                (entry["text"], entry.get("args", {}))
                if isinstance(entry, dict)
                else (
                    entry,
                    {},
                )
            )
            if not isinstance(text, str):
                raise LibraryError(f"{where}: a {language} request is not text: {entry!r}")
            templates.append(Template(text, tuple(PLACEHOLDER.findall(text)), dict(args)))
        result[language] = tuple(templates)
    return result


def _check_tool(tool: LibraryTool, where: str) -> None:
    """Every placeholder has a slot, and (with a schema) every template covers the required
    arguments and names only known ones."""
    if tool.parameters is not None:
        try:
            Draft202012Validator.check_schema(tool.parameters)
        except Exception as error:
            raise LibraryError(f"{where}: parameters is no JSON schema: {error}") from error
    properties = (tool.parameters or {}).get("properties", {})
    required = set((tool.parameters or {}).get("required", []))
    for templates in (*tool.requests.values(), *tool.heldout_requests.values()):
        for template in templates:
            missing = [slot for slot in template.slots if slot not in tool.slots]
            if missing:
                raise LibraryError(
                    f"{where}: {template.text!r} uses slots without values: {missing}"
                )
            if tool.parameters is None:
                continue
            top = {slot.split(".")[0] for slot in template.slots} | set(template.args)
            if required - top or top - set(properties):
                raise LibraryError(
                    f"{where}: {template.text!r} must say every required argument "
                    f"{sorted(required)} and only known ones {sorted(properties)}"
                )
    if not any(tool.requests.values()):
        raise LibraryError(f"{where}: no requests")


def _read_tool(raw: dict[str, Any], domain: str, where: str) -> LibraryTool:
    where = f"{where}: tool {raw.get('name')!r}"
    try:
        tool = LibraryTool(
            name=raw["name"],
            domain=domain,
            heldout=bool(raw.get("heldout", False)),
            parameters=raw.get("parameters"),
            description=raw.get("description", ""),
            slots=dict(raw.get("slots") or {}),
            requests=_templates(raw.get("requests"), where),
            heldout_requests=_templates(raw.get("heldout_requests"), where),
            result=raw.get("result"),
            answers={lang: tuple((raw.get("answers") or {}).get(lang, [])) for lang in LANGUAGES},
            run=bool(raw.get("run", False)),
        )
    except KeyError as error:
        raise LibraryError(f"{where}: missing {error}") from error
    _check_tool(tool, where)
    return tool


@functools.cache
def load_library(folder: Path = LIBRARY_DIR) -> dict[str, LibraryTool]:
    """Every tool of the library by name, the built-in tools' templates included."""
    tools: dict[str, LibraryTool] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == CHAT_FILE:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        domain = data.get("domain", path.stem)
        for raw in data.get("tools", []):
            tool = _read_tool(raw, domain, path.name)
            if tool.name in tools:
                raise LibraryError(f"{path.name}: tool name {tool.name!r} is used twice")
            tools[tool.name] = tool
    return tools


@functools.cache
def load_chat(folder: Path = LIBRARY_DIR) -> tuple[ChatQuestion, ...]:
    data = yaml.safe_load((folder / CHAT_FILE).read_text(encoding="utf-8")) or {}
    questions = []
    for entry in data.get("questions", []):
        for language in LANGUAGES:
            if language in entry:
                questions.append(
                    ChatQuestion(
                        language,
                        entry[language],
                        entry[f"answer_{language}"],
                        bool(entry.get("heldout", False)),
                    )
                )
    return tuple(questions)


@functools.cache
def load_phrasings(path: Path = PHRASINGS_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))
