"""The ``bunraku`` command line: the composition root.

One module per command group; each command imports the packages it needs lazily, inside the
command, so ``bunraku facts`` never pays for the compiler and ``bunraku compile`` never pays for
gRPC. Errors a user can cause are one line on stderr (``FILE:LINE:COL: error: MESSAGE``), never a
traceback; the exit-code policy is in :mod:`cli.common`.
"""

from __future__ import annotations

import click

from cli import (
    agent,
    agentupgrade,
    apply,
    artifact,
    cert,
    compile,
    dashboard,
    facts,
    filebucket,
    fleet,
    master,
    report,
    resource,
    rollout,
    store,
    task,
)
from cli.common import __version__

__all__ = ["__version__", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bunraku")
def main() -> None:
    """Bunraku: declarative configuration management in the Puppet language."""
    from dsl.gctune import tune_gc

    tune_gc()  # a one-shot command: compiles and applies without walking their live objects over and over


for _command in (
    compile.compile_cmd, compile.parser_group, compile.lookup_cmd, facts.facts_cmd, apply.apply_cmd,
    resource.resource_cmd, filebucket.filebucket_group, master.master_cmd, dashboard.dashboard_group,
    store.store_group, agent.agent_group, cert.cert_group, fleet.nodes_cmd, report.report_group,
    fleet.catalog_group, rollout.rollout_group, task.task_group, artifact.artifact_group,
    agentupgrade.agent_upgrade_group,
):
    main.add_command(_command)
