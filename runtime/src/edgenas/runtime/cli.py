"""The one ``edgenas`` command. Subcommand groups load lazily, from whichever parts are installed."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from edgenas.runtime import __version__
from edgenas.runtime.errors import EdgeNasError

# name -> (module:attribute, distribution that provides it, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "bundle": ("edgenas.runtime.cli_bundle:bundle", "edgenas-runtime", "Create, inspect and validate bundles."),
    "bench": ("edgenas.runtime.cli_bench:bench", "edgenas-runtime", "Measure a bundle's model latency at batch 1."),
    "run": ("edgenas.runtime.cli_run:run", "edgenas-runtime", "Run a bundle live on a camera, stream, file or synthetic frames."),
    "compile": ("edgenas.compile.cli:compile_group", "edgenas-compile", "Check, quantize and compile bundles for a target."),
    "search": ("edgenas.search.cli:search", "edgenas-search", "Supernet, latency predictor and NSGA-II search."),
}


class FailedCommand(click.ClickException):
    """An EdgeNasError as the CLI reports it: ``error: <message>`` on stderr, exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class MissingPart(click.Command):
    """Stands in for a group whose part is not installed: says what to install, exits 1."""

    def __init__(self, name: str, dist: str, reason: str) -> None:
        super().__init__(name, help=f"(not installed: pip install {dist})", context_settings={
            "ignore_unknown_options": True, "allow_extra_args": True})
        self.dist, self.reason = dist, reason

    def invoke(self, ctx: click.Context) -> Any:
        click.echo(f"error: `edgenas {self.name}` needs the {self.dist} package, which is not installed "
                   f"({self.reason}).\nInstall it with: pip install -e {self.dist.split('-')[-1]}/  "
                   f"(or `make install`).", err=True)
        ctx.exit(1)


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when called (click docs, "Complex applications").

    ``commands_table`` maps a name to ``(module:attribute, distribution, one-line help)``.
    """

    def __init__(self, *args: Any, commands_table: dict[str, tuple[str, str, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands_table = COMMANDS if commands_table is None else commands_table

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands_table)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands_table:
            return None
        target, dist, _ = self.commands_table[cmd_name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            top = (exc.name or "").split(".")
            if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".") or top[0] != "edgenas"):
                return MissingPart(cmd_name, dist, f"cannot import {exc.name}")
            raise
        cmd = getattr(module, attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdgeNasError as exc:
            raise FailedCommand(str(exc)) from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the table, so `edgenas --help` imports nothing heavy.
        rows = [(name, self.commands_table[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgenas")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """edgenas: latency-aware neural architecture search for edge accelerators.

    Exit codes: 0 success, 1 failure (the message says the fix), 2 bad usage.
    """
    level = logging.WARNING - 10 * min(verbose + 1, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


def main() -> None:
    cli(prog_name="edgenas")
