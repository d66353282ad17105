"""``pe-plan recover``: deal with the journal that an interrupted apply or destroy left.

A command that died (SIGKILL, power loss) could not undo what it had done; its journal says
how, and every other command refuses to run until it is dealt with. By default the undo
steps run newest first, as the command itself would have run them, and the journal goes
once they all worked. With ``--forward`` the work is kept instead: what the command made is
recorded in the state as pe-plan's own, the journal goes, and a normal apply of the
configuration finishes the job. A command that had already recorded its state (it died
while removing its journal) left nothing to undo: only its journal is removed.
"""

from __future__ import annotations

from pathlib import Path

import click
import msgspec

from pe_plan.apply import describe_object, objects_made, undo
from pe_plan.cli.apply import plan_approved, progress, report
from pe_plan.cli.options import (
    approve_option,
    no_color_option,
    node_options,
    node_settings,
    optional_config_option,
    read_config,
    state_option,
)
from pe_plan.cli.run import backend_runner, current_state, execute
from pe_plan.cli.session import Session, prepare, survey
from pe_plan.config import Config
from pe_plan.errors import PePlanError, StateError
from pe_plan.journal import Journal, PendingJournal, discard, read_journal, recorded
from pe_plan.operations import describe_operation
from pe_plan.state import adopted_addresses, resources_to_state


@click.command()
@click.option(
    "--forward",
    is_flag=True,
    help="Keep what the interrupted command did and finish applying -f CONFIG.",
)
@optional_config_option("With --forward: the configuration to finish applying (repeatable).")
@node_options
@state_option
@approve_option
@no_color_option
def recover(
    forward: bool,
    configs: tuple[Path, ...],
    node_index: int | None,
    node_file: Path | None,
    state_path: Path,
    auto_approve: bool,
    no_color: bool,
) -> None:
    """Roll back an apply or destroy that was interrupted, or finish it with --forward.

    Give the node and state options the interrupted command was given. Without --forward
    the node goes back to how it was before that command; if an undo step fails, every
    failure is listed and the journal is kept, to run recover again once the cause is
    fixed. With --forward the objects that command made are recorded as pe-plan's own and
    the configuration is applied as `pe-plan apply` would (same approval).
    """
    if forward and not configs:
        raise click.UsageError("--forward needs -f CONFIG: the configuration to finish applying")
    if configs and not forward:
        raise click.UsageError("-f is only used with --forward: a rollback needs no configuration")
    config = read_config(configs) if forward else None
    settings = node_settings(node_index, node_file)
    with Session(settings, state_path, "recover") as session:
        if not session.journal.exists():
            click.echo(f"Nothing to recover: there is no journal {session.journal}.", err=True)
            return
        pending = read_journal(session.journal)
        header = pending.header
        if (header.node, header.router_namespace) != (
            session.node.name,
            settings.router_namespace,
        ):
            raise StateError(
                f"the journal {session.journal} is of node {header.node} (router namespace "
                f"{header.router_namespace}), not of node {session.node.name} (router "
                f"namespace {settings.router_namespace})",
                hint="give recover the node options the interrupted command was given",
            )
        who = f"the interrupted `pe-plan {header.command}` (pid {header.pid}, {header.started})"
        state = session.read_state()
        if recorded(pending, state.serial if state else None):
            discard(session.journal)
            click.echo(
                f"{who} had completed and recorded the state; nothing to undo, its journal "
                "is removed.",
                err=True,
            )
        elif config is None:
            _roll_back(session, who)
        else:
            _keep(session, config, pending, who)
        if config is not None:
            prepared = prepare(session, config)
            if plan_approved(
                prepared.plan,
                "Do you want to perform these actions?",
                as_json=False,
                no_color=no_color,
                auto_approve=auto_approve,
            ):
                steps = execute(
                    session,
                    config,
                    prepared,
                    prepared.plan,
                    command="recover --forward",
                    on_step=progress(as_json=False),
                )
                report(
                    as_json=False,
                    message=f"Apply complete! {steps} steps; the state is in {state_path}.",
                )


def _roll_back(session: Session, who: str) -> None:
    journal, pending = Journal.resume(session.journal)
    failures = undo(pending.entries, backend_runner(session), journal)
    if failures:
        journal.close()
        details = "\n".join(f"  {f.operation}: {f.error}" for f in failures)
        raise PePlanError(
            f"could not undo {len(failures)} of the {len(pending.entries)} steps of {who}:\n"
            + details,
            hint=f"the journal {session.journal} is kept, with the steps that worked marked "
            "done: fix the cause and run `pe-plan recover` again to run the others",
        )
    journal.finish()
    click.echo(f"Rolled back {who}: {len(pending.entries)} steps undone, newest first:")
    for entry in reversed(pending.entries):
        click.echo(f"  {describe_operation(entry.undo)}")


def _keep(session: Session, config: Config, pending: PendingJournal, who: str) -> None:
    """Record what the interrupted command made as pe-plan's own, then drop its journal."""
    found = survey(session, config)
    made = objects_made(pending.entries, found.desired, found.observed, found.recorded.objects)
    if made:
        state = current_state(session, found.state, found.salt)
        objects = {**found.recorded.objects, **made}
        depends_on = {
            **found.recorded.depends_on,
            **{address: found.desired.depends_on.get(address, ()) for address in made},
        }
        resources = resources_to_state(objects, depends_on, adopted_addresses(state))
        session.state_file.write(msgspec.structs.replace(state, resources=resources))
    discard(session.journal)
    click.echo(f"Kept what {who} did: {len(made)} objects it made are now pe-plan's own.")
    for obj in made.values():
        click.echo(f"  {describe_object(obj)}")
