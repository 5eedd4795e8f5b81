"""`ttrec --help` lists every command from ttrec.cli.COMMANDS without importing a command's
module, and what it lists is exactly what click lists from the loaded commands themselves:
the summaries are one fact (COMMANDS), which `command` gives to each command."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from ttrec.cli import COMMANDS, cli


def _listing(width: int, *, clicks_own: bool) -> str:
    ctx = click.Context(cli, info_name="ttrec", terminal_width=width, max_content_width=width)
    formatter = ctx.make_formatter()
    if clicks_own:
        for name in COMMANDS:
            assert cli.get_command(ctx, name) is not None  # loads its module
        click.Group.format_commands(cli, ctx, formatter)  # from each command's own short help
    else:
        cli.format_commands(ctx, formatter)
    return formatter.getvalue()


@pytest.mark.parametrize("width", [80, 200])
def test_the_listing_is_what_click_lists_from_the_commands_themselves(width: int) -> None:
    ours = _listing(width, clicks_own=False)
    assert ours == _listing(width, clicks_own=True)
    assert set(cli.commands) == set(COMMANDS)  # every command registered is listed, and no other
    # One line a command, its summary whole, even at 80 columns.
    rows = ours.splitlines()[1:]
    assert [row.split()[0] for row in rows] == sorted(COMMANDS)
    assert [" ".join(row.split()[1:]) for row in rows] == [COMMANDS[name][1] for name in sorted(COMMANDS)]


def test_help_imports_no_command_module() -> None:
    modules = sorted({module for module, _ in COMMANDS.values()} | {"trio", "replayer", "recorder"})
    probe = (
        "import contextlib, sys\nfrom ttrec.cat import main\nsys.argv = ['ttrec', '--help']\n"
        "with contextlib.suppress(SystemExit):\n    main()\n"
        f"print([m for m in {modules!r} if m in sys.modules])"
    )
    command = [sys.executable, "-c", probe]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "Commands:" in lines and "  serve     " + COMMANDS["serve"][1] in lines
    assert lines[-1] == "[]"
