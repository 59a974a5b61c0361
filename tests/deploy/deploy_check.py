"""Shared runner of the deployment checks (ctest -L deployment).

A check is a function from the files it reads (path relative to the repository -> text) to the
problems it finds, one line each. The runner applies it to the repository's files, which must pass,
and then to broken variants of them (mutations), each of which must be reported with the expected
problem: a check that can no longer fail is itself a failure.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

Files = dict[str, str]
Check = Callable[[Files], list[str]]


@dataclass(frozen=True)
class Mutation:
    """A broken variant: replace each `old` by `new` in `file`; the check must report `expect`."""

    description: str
    file: str
    edits: tuple[tuple[str, str], ...]
    expect: str


def mutation(description: str, file: str, old: str, new: str, expect: str) -> Mutation:
    return Mutation(description, file, ((old, new),), expect)


def common_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--source-dir", required=True, type=Path, help="the repository root")
    return parser


def read_files(source_dir: Path, paths: list[str]) -> Files:
    files: Files = {}
    for path in paths:
        full = source_dir / path
        if not full.is_file():
            sys.exit(f"missing file {full}: the deployment checks need it")
        files[path] = full.read_text(encoding="utf-8")
    return files


def _mutate(files: Files, change: Mutation) -> Files:
    text = files[change.file]
    for old, new in change.edits:
        if old not in text:
            raise ValueError(f"mutation '{change.description}': {change.file} no longer contains {old!r}; "
                             "update the mutation to the file as it is now")
        text = text.replace(old, new)
    mutated = dict(files)
    mutated[change.file] = text
    return mutated


def run(name: str, check: Check, files: Files, mutations: list[Mutation]) -> int:
    """Runs the check on `files` and on every mutation; prints the outcome; returns the exit code."""
    problems = check(files)
    if problems:
        for problem in problems:
            print(f"{name}: {problem}")
        print(f"{name}: FAILED, {len(problems)} problem(s)")
        return 1

    failed = 0
    for change in mutations:
        try:
            found = check(_mutate(files, change))
        except ValueError as error:
            print(f"{name}: {error}")
            failed += 1
            continue
        if not any(change.expect in problem for problem in found):
            failed += 1
            print(f"{name}: broken variant not caught: {change.description} "
                  f"(expected a problem containing {change.expect!r}; got {found or 'none'})")
    if failed:
        print(f"{name}: FAILED, {failed} of {len(mutations)} broken variants not caught")
        return 1
    print(f"{name}: OK ({', '.join(sorted(files))}); {len(mutations)} broken variants caught")
    return 0
