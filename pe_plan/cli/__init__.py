"""The command line: one module per verb, one error handler at the edge.

Each verb's module is a short orchestrator that reads like the pipeline of SPEC section 1.
Human text goes to stdout for reports (plan, show) and stderr for errors and progress;
``--json`` output goes to stdout. Every :class:`~pe_plan.errors.PePlanError` is printed as
``Error: ...`` with its hint and ends the process with its exit status; usage errors exit 64.
"""

from __future__ import annotations

import gc
import sys

import click

from pe_plan import __version__
from pe_plan.cli.apply import apply
from pe_plan.cli.destroy import destroy
from pe_plan.cli.import_ import import_
from pe_plan.cli.plan import plan
from pe_plan.cli.recover import recover
from pe_plan.cli.refresh import refresh
from pe_plan.cli.show import show
from pe_plan.cli.validate import validate
from pe_plan.errors import EXIT_ERROR, EXIT_USAGE, PePlanError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pe-plan")
def cli() -> None:
    """Plan and apply EVPN/VXLAN provider-edge routers on Linux, Terraform style.

    Reads OpenPERouter Underlay, L3VNI and L2VNI documents, works out the kernel objects
    and FRR configuration this node needs, and shows (plan), makes (apply) or removes
    (destroy) them, recording what it owns in a state file.
    """


for command in (validate, plan, apply, destroy, recover, refresh, import_, show):
    cli.add_command(command)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status; errors are printed, never raised."""
    try:
        status = cli.main(argv, prog_name="pe-plan", standalone_mode=False)
    except PePlanError as err:
        click.echo(f"Error: {err.message}", err=True)
        if err.hint:
            click.echo(f"Hint: {err.hint}", err=True)
        return err.exit_code
    except click.UsageError as err:
        err.show()
        return EXIT_USAGE
    except click.ClickException as err:
        err.show()
        return EXIT_ERROR
    except click.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    # Commands report "changes present" and similar outcomes by returning a status.
    return status if isinstance(status, int) else 0


def main() -> None:
    """Entry point of the ``pe-plan`` console script."""
    # A refresh of 1000 VNIs makes some 200,000 objects that live until the process ends;
    # at the default thresholds the cycle collector goes over them again and again (a tenth
    # of a no-op plan) and finds nothing. It still runs, but rarely (as mypy does it).
    gc.set_threshold(200_000, 30, 30)
    sys.exit(run())
