"""The CLI: one naming style for every subcommand, and old names answered with the command that replaced them."""

from __future__ import annotations

import argparse

import pytest

from debiaslab.cli import RENAMED, build_parser, main


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Every (sub)command path of the parser -> its help line."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found[(*path, name)] = helps.get(name)
                found.update(subcommands(sub, (*path, name)))
    return found


def test_every_subcommand_is_kebab_case_and_says_what_it_does():
    commands = subcommands(build_parser())
    assert len(commands) >= 30
    assert [" ".join(c) for c in commands if c[-1] != c[-1].lower() or "_" in c[-1]] == []
    assert [" ".join(c) for c, help_line in commands.items() if not help_line] == []


@pytest.mark.parametrize("old, new", sorted(RENAMED.items()))
def test_an_old_name_prints_the_new_one_in_one_line_and_exits_2(old, new, capsys):
    assert main(["--threads", "1", *old, "--settings", "{}", "--out", "x.parquet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"`debiaslab {old[0]} {new}`" in err, err
    assert (old[0], new.split()[0]) in subcommands(build_parser())
