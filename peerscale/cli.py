"""The ``peerscale`` command line.

Subcommands live in :mod:`peerscale.commands` and are imported only when run, so
``peerscale --help`` does not import pandas, scipy, pingouin or matplotlib.

Exit codes, the same for every command:

* 0: success (``validate``: no problem found);
* 1: the run failed on a file, the data or a spec: a missing, unreadable or wrong input
  (directory, device), invalid values, an output that cannot be written, too little memory,
  problems ``validate`` found, or an internal error (reported as one); one message on stderr;
* 2: a usage error: unknown option, bad option value, missing argument;
* 130: interrupted (Ctrl-C); 143: terminated (SIGTERM; 129 for SIGHUP).

No run prints a traceback (``PEERSCALE_DEBUG=1`` shows it for an internal error), and an
interrupted or terminated run leaves no temporary file behind.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import click

from ._version import __version__
from .errors import PeerscaleError

# name -> (module:function, one-line help shown by `peerscale --help`)
COMMANDS = {
    "instruments": ("peerscale.commands.core:instruments", "List the bundled instruments."),
    "show": ("peerscale.commands.core:show", "Print an instrument's codebook: items, keys, scales, rules."),
    "score": ("peerscale.commands.core:score", "Score an export with an instrument or ad-hoc scales."),
    "validate": ("peerscale.commands.core:validate", "Check data against an instrument without scoring."),
    "reliability": ("peerscale.commands.reliability:reliability", "Alpha, G6, omega, intervals and item-total statistics."),
    "items": ("peerscale.commands.reliability:items_cmd", "Item analysis: distributions, floor/ceiling, flags."),
    "efa": ("peerscale.commands.factor:efa", "KMO, Bartlett, parallel analysis and exploratory factor analysis."),
    "cfa": ("peerscale.commands.factor:cfa", "Confirmatory factor analysis, lavaan-style fit, invariance."),
    "mediation": ("peerscale.commands.mediation:mediation", "Mediation (activities -> relationship -> outcomes) as lavaan sem()."),
    "irt": ("peerscale.commands.irt:irt", "Item response theory: calibrate a bank, score from it, information, DIF."),
    "dyads": ("peerscale.commands.design:dyads", "Young person vs worker: agreement on the same relationships."),
    "nesting": ("peerscale.commands.design:nesting", "Clustering within workers: ICC(1), design effect, effective n."),
    "change": ("peerscale.commands.design:change", "Change between two waves with the reliable change index."),
    "report": ("peerscale.commands.report:report", "A self-contained HTML (or Markdown) report."),
    "redcap-dictionary": ("peerscale.commands.redcap:redcap_dictionary", "Write a REDCap data dictionary for an instrument."),
    "redcap-mapping": ("peerscale.commands.redcap:redcap_mapping", "Map a REDCap project's fields to an instrument's items."),
    "cvi-form": ("peerscale.commands.content:cvi_form", "Write an expert rating form (.xlsx) for content validity."),
    "cvi": ("peerscale.commands.content:cvi", "Content validity from expert ratings: I-CVI, S-CVI, kappa, Aiken's V, sorting."),
    "interview-guide": ("peerscale.commands.content:interview_guide_cmd", "Write a cognitive-interview protocol for an instrument."),
    "simulate": ("peerscale.commands.simulate:simulate", "Simulate answers from an instrument's population model."),
    "plan": ("peerscale.commands.simulate:plan", "Plan a validation study: Monte Carlo power, fit, bias and coverage by n."),
    "export-rules": ("peerscale.commands.export_rules:export_rules",
                     "Scoring rules as SPSS syntax, an R function or REDCap calc fields."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        target = COMMANDS[name][0]
        module, _, attr = target.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            if ctx.resilient_parsing:
                return None
            raise click.UsageError(f"command {name!r} is not available in this installation")

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="peerscale")
def cli():
    """peerscale: draft peerness item banks, scoring and psychometrics for youth peer support.

    \b
    Examples:
      peerscale instruments
      peerscale score export.csv --instrument pbr-y -o scores.csv
      peerscale score bfi.csv --scale A=-A1,A2,A3,A4,A5 --range 1:6 -o scores.csv
    """


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread so that ``finally`` blocks remove temporary
    files as they do for Ctrl-C (a BaseException, so no ``except Exception`` swallows it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, _frame):
    raise Terminated(signum)


def _install_handlers() -> dict:
    previous = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, _on_signal)
    except (ValueError, OSError, AttributeError):  # not the main thread, or no such signal here
        pass
    return previous


def _os_error_text(exc: OSError) -> str:
    name = exc.filename if exc.filename is not None else None
    what = exc.strerror or str(exc)
    return f"{name}: {what}" if name else what


def main(argv=None) -> int:
    """Entry point: every failure is one message on stderr with the exit codes of the module
    docstring, never a traceback."""
    # The statistics work on k x k matrices (k items) where BLAS threads only add overhead
    # (8-15x slower on a busy two-core machine); set before NumPy is first imported.
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # not OMP_*: Arrow sizes its pool by it
        os.environ.setdefault(var, "1")
    previous = _install_handlers()
    try:
        # with standalone_mode=False click returns ctx.exit(code) codes instead of raising
        code = cli.main(args=argv, prog_name="peerscale", standalone_mode=False)
        if isinstance(code, int):
            return code
    except PeerscaleError as exc:
        from .cli_common import cli_error

        args = sys.argv[1:] if argv is None else list(argv)
        command = next((a for a in args if not str(a).startswith("-")), None)
        click.echo(f"error: {cli_error(exc, command)}", err=True)  # library parameters shown as flags
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was written", err=True)
        return 130
    except Terminated as exc:
        name = signal.Signals(exc.signum).name
        click.echo(f"terminated ({name}): nothing was written", err=True)
        return 128 + exc.signum
    except BrokenPipeError:  # e.g. `peerscale show pbr-y | head`
        return 0
    except MemoryError:
        click.echo("error: ran out of memory\n  What to do: split the input into parts (e.g. by site or wave) and "
                   "run each, or run where more memory is available", err=True)
        return 1
    except OSError as exc:  # e.g. permission denied, disk full: a problem the user can fix
        click.echo(f"error: {_os_error_text(exc)}", err=True)
        return 1
    except RecursionError:
        click.echo("error: the input is nested too deeply to process", err=True)
        return 1
    except Exception as exc:  # a bug in peerscale: still one message, never a traceback
        text = str(exc)
        if type(exc).__module__.startswith("pyarrow") and any(
                w in text for w in ("Resource temporarily unavailable", "bad_alloc", "Out of memory", "malloc")):
            click.echo("error: ran out of memory or threads\n  What to do: split the input into parts, or run "
                       "where more memory is available (a `ulimit -v` below about 1 GB is too small)", err=True)
            return 1
        if os.environ.get("PEERSCALE_DEBUG"):
            import traceback

            traceback.print_exc()
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        click.echo(f"error: internal error ({type(exc).__name__}{': ' + detail if detail else ''})\n"
                   "  What to do: this is a bug in peerscale; please report it with the command you ran "
                   "(PEERSCALE_DEBUG=1 shows the traceback)", err=True)
        return 1
    finally:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
    return 0


def run() -> None:  # pragma: no cover - the console script
    """``peerscale`` console script: run, flush, and exit without tearing the interpreter down.

    Freeing a million-row job's objects one by one at exit took 0.25 s of a 1.8 s run; the
    output files are already closed and renamed, so there is nothing left to clean up.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, OSError):  # e.g. `peerscale ... | head`
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
