"""The FRR backend with fake processes: vtysh calls, errors, and the managed daemons.

The fakes stand for vtysh and the daemons; the integration tests (``tests/integration/
test_frr.py``) run the same classes against a real FRR.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path

import pytest

from pe_plan.backends.frr import CommandResult, ManagedFrr, Vtysh
from pe_plan.errors import BackendError
from pe_plan.frr_diff import diff_frr

RUNNING = """Building configuration...

Current configuration:
!
frr version 8.4.4
router bgp 64514
 neighbor 192.168.11.2 remote-as 64512
exit
!
end
"""
DAEMONS = " zebra bgpd staticd bfdd\n"


def ok(stdout: str = "", stderr: str = "", returncode: int = 0) -> CommandResult:
    return CommandResult(returncode=returncode, stdout=stdout, stderr=stderr)


class ScriptedVtysh:
    """Answers vtysh calls from a script and records them."""

    def __init__(self, *replies: CommandResult) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[list[str], str | None]] = []

    def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float
    ) -> CommandResult:
        assert timeout > 0
        self.calls.append((list(argv), stdin))
        return self.replies.pop(0)


def test_running_config_asks_for_the_daemons_too() -> None:
    runner = ScriptedVtysh(ok(DAEMONS + RUNNING))
    assert Vtysh(runner, pathspace="perouter").running_config() == RUNNING
    assert runner.calls == [
        (["vtysh", "-N", "perouter", "-c", "show daemons", "-c", "show running-config"], None)
    ]


def test_a_missing_bgpd_is_unreachable_not_an_empty_config() -> None:
    runner = ScriptedVtysh(ok(" zebra staticd\n" + RUNNING))
    with pytest.raises(BackendError, match="bgpd not running") as caught:
        Vtysh(runner, pathspace="perouter").running_config()
    assert caught.value.hint is not None
    assert "pe-plan apply" in caught.value.hint


def test_unreachable_instance_names_pathspace_and_how_to_start_it() -> None:
    runner = ScriptedVtysh(ok(stderr="Exiting: failed to connect to any daemons.\n", returncode=1))
    vtysh = Vtysh(runner, pathspace="perouter", start_hint="start it like this")
    with pytest.raises(BackendError) as caught:
        vtysh.running_config()
    assert caught.value.message == (
        'FRR instance "perouter" (vtysh -N perouter, in /var/run/frr/perouter) is not '
        "reachable: Exiting: failed to connect to any daemons."
    )
    assert caught.value.hint == "start it like this"


def test_vty_socket_directory_instance() -> None:
    runner = ScriptedVtysh(ok(stderr="Exiting: failed to connect to any daemons.", returncode=1))
    vtysh = Vtysh(runner, vty_socket=Path("/run/router/frr"))
    with pytest.raises(BackendError, match="with vty sockets in /run/router/frr") as caught:
        vtysh.running_config()
    assert runner.calls[0][0][:3] == ["vtysh", "--vty_socket", "/run/router/frr"]
    assert caught.value.hint is not None
    assert "/run/router/frr" in caught.value.hint


def test_reachable() -> None:
    runner = ScriptedVtysh(ok(DAEMONS), ok(" zebra\n"), ok(returncode=1))
    vtysh = Vtysh(runner, pathspace="p")
    assert [vtysh.reachable() for _ in range(3)] == [True, False, False]


DESIRED = RUNNING.replace("exit\n", " neighbor 192.168.11.2 password s3cret\nexit\n")


def test_apply_feeds_the_commands_on_stdin_never_in_argv() -> None:
    runner = ScriptedVtysh(ok())
    delta = diff_frr(RUNNING, DESIRED)
    Vtysh(runner, pathspace="p").apply(delta)
    [(argv, stdin)] = runner.calls
    assert argv == ["vtysh", "-N", "p", "-f", "/proc/self/fd/0"]
    assert stdin == "router bgp 64514\n neighbor 192.168.11.2 password s3cret\nexit\n"


def test_apply_of_an_empty_delta_runs_nothing() -> None:
    runner = ScriptedVtysh()
    Vtysh(runner, pathspace="p").apply(diff_frr(RUNNING, RUNNING))
    assert runner.calls == []


def test_a_rejected_line_is_named_with_its_secret_hidden() -> None:
    runner = ScriptedVtysh(
        ok(
            stdout="% Unknown command: neighbor 192.168.11.2 password s3cret\n",
            stderr="line 2: % Unknown command[25]:  neighbor 192.168.11.2 password s3cret\n",
            returncode=2,
        )
    )
    with pytest.raises(BackendError) as caught:
        Vtysh(runner, pathspace="p").apply(diff_frr(RUNNING, DESIRED))
    assert caught.value.message == (
        "FRR rejected the line 'neighbor 192.168.11.2 password (sensitive)' (line 2 of the "
        "change): % Unknown command: neighbor 192.168.11.2 password (sensitive)"
    )


def test_restore_applies_the_difference_and_checks_it() -> None:
    runner = ScriptedVtysh(ok(DAEMONS + DESIRED), ok(), ok(DAEMONS + RUNNING))
    Vtysh(runner, pathspace="p").restore(RUNNING)
    assert runner.calls[1][1] == "router bgp 64514\n no neighbor 192.168.11.2 password\nexit\n"


def test_restore_that_does_not_take_is_an_error() -> None:
    runner = ScriptedVtysh(ok(DAEMONS + DESIRED), ok(), ok(DAEMONS + DESIRED))
    with pytest.raises(BackendError, match="still differs") as caught:
        Vtysh(runner, pathspace="p").restore(RUNNING)
    assert "s3cret" not in caught.value.message


# Managed daemons.


class FakeHost:
    """Daemons that write their pid file and socket when started, like FRR's."""

    def __init__(self, run_dir: Path, *, stubborn: bool = False, silent: str = "") -> None:
        self.run_dir = run_dir
        self.stubborn = stubborn  # ignores SIGTERM
        self.silent = silent  # a daemon that never opens its socket
        self.processes: dict[int, tuple[str, ...]] = {1: ("/sbin/init",)}
        self.commands: list[list[str]] = []
        self.signals: list[tuple[int, int]] = []

    def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float
    ) -> CommandResult:
        assert stdin is None
        assert timeout > 0
        self.commands.append(list(argv))
        if argv[0] == "install":
            for directory in argv[-2:]:
                Path(directory).mkdir(parents=True, exist_ok=True)
            return ok()
        daemon_argv = tuple(argv[4:])
        daemon = Path(daemon_argv[0]).name
        pid = max(self.processes) + 1
        self.processes[pid] = daemon_argv
        instance = self.run_dir / daemon_argv[daemon_argv.index("-N") + 1]
        (instance / f"{daemon}.pid").write_text(f"{pid}\n")
        if daemon != self.silent:
            (instance / f"{daemon}.vty").touch()
        return ok()

    def cmdline(self, pid: int) -> tuple[str, ...] | None:
        return self.processes.get(pid)

    def signal(self, pid: int, signum: int) -> None:
        self.signals.append((pid, signum))
        if signum == signal.SIGKILL or not self.stubborn:
            self.processes.pop(pid, None)


def managed(host: FakeHost, timeout: float = 5.0) -> ManagedFrr:
    return ManagedFrr(host, namespace="perouter", run_dir=host.run_dir, timeout=timeout)


def test_start_runs_each_daemon_in_the_namespace_once(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    frr = managed(host)
    frr.start()
    assert host.commands == [
        ["install", "-d", "-o", "frr", "-g", "frr", "-m", "0755", str(tmp_path),
         str(tmp_path / "perouter")],
        *(
            ["ip", "netns", "exec", "perouter", f"/usr/lib/frr/{daemon}", "-N", "perouter",
             "-d", "-A", "127.0.0.1", "-P", "0", "-f", "/dev/null"]
            for daemon in ("zebra", "bgpd", "staticd", "bfdd")
        ),
    ]  # fmt: skip
    assert frr.running()
    frr.start()
    assert len(host.commands) == 5


def test_start_only_restarts_what_died(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    frr = managed(host)
    frr.start()
    bgpd = int((tmp_path / "perouter" / "bgpd.pid").read_text())
    del host.processes[bgpd]
    assert not frr.running()
    frr.start()
    assert [Path(c[4]).name for c in host.commands[5:] if c[0] == "ip"] == ["bgpd"]


def test_start_after_a_stop_cut_short_restarts_every_daemon(tmp_path: Path) -> None:
    # A stop removes the vty sockets before SIGTERM; a process killed right after that
    # leaves daemons that are exiting: start must not take them for running.
    host = FakeHost(tmp_path)
    frr = managed(host)
    frr.start()
    old = {int((tmp_path / "perouter" / f"{d}.pid").read_text()) for d in frr.daemons}
    for daemon in frr.daemons:
        (tmp_path / "perouter" / f"{daemon}.vty").unlink()
    frr.start()
    assert {pid for pid, signum in host.signals if signum == signal.SIGTERM} == old
    assert [Path(c[4]).name for c in host.commands[5:] if c[0] == "ip"] == list(frr.daemons)
    assert frr.running()


def test_stop_kills_the_daemons_and_removes_their_files(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    frr = managed(host)
    frr.start()
    (tmp_path / "perouter" / "zserv.api").touch()
    frr.stop()
    assert [s for _, s in host.signals] == [signal.SIGTERM] * 4
    assert list(host.processes) == [1]
    assert not (tmp_path / "perouter").exists()
    assert not frr.running()
    frr.stop()  # nothing left: nothing to do


def test_a_reused_pid_is_not_a_daemon_and_is_never_signalled(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    (tmp_path / "perouter").mkdir()
    (tmp_path / "perouter" / "zebra.pid").write_text("1\n")
    frr = managed(host)
    assert not frr.running()
    frr.stop()
    assert host.signals == []


def test_stubborn_daemons_get_sigkill(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, stubborn=True)
    frr = managed(host, timeout=0.1)
    frr.start()
    frr.stop()
    assert {s for _, s in host.signals} == {signal.SIGTERM, signal.SIGKILL}
    assert list(host.processes) == [1]


def test_a_daemon_that_never_listens_times_out(tmp_path: Path) -> None:
    frr = managed(FakeHost(tmp_path, silent="bgpd"), timeout=0.1)
    with pytest.raises(BackendError, match=r"timed out after 0\.1 s") as caught:
        frr.start()
    assert caught.value.hint is not None
    assert "/usr/lib/frr/zebra -N perouter -A" in caught.value.hint


def test_a_missing_namespace_is_reported_with_a_hint(tmp_path: Path) -> None:
    class NoNamespace(FakeHost):
        def run(
            self, argv: Sequence[str], *, stdin: str | None = None, timeout: float
        ) -> CommandResult:
            if argv[0] == "ip":
                return ok(stderr='Cannot open network namespace "perouter"\n', returncode=255)
            return super().run(argv, stdin=stdin, timeout=timeout)

    with pytest.raises(BackendError) as caught:
        managed(NoNamespace(tmp_path)).start()
    assert caught.value.message == (
        "cannot start zebra for FRR instance perouter in namespace perouter: "
        'Cannot open network namespace "perouter"'
    )
    assert caught.value.hint is not None
    assert "must exist" in caught.value.hint


def test_start_hint_lists_the_exact_commands(tmp_path: Path) -> None:
    hint = managed(FakeHost(tmp_path)).start_hint
    assert hint.startswith("`pe-plan apply` starts it in managed mode; by hand: ip netns exec")
    assert hint.count("ip netns exec perouter") == 4


WITH_L3VNI = """\
frr version 8.4.4
vrf red
 vni 100
exit-vrf
!
router bgp 64514
 neighbor 192.168.11.2 remote-as 64512
exit
!
router bgp 64514 vrf red
 neighbor 192.169.10.2 remote-as 64515
exit
!
end
"""
STILL_BOUND = ok(
    stdout="% Please unconfigure l3vni 100\n"
    "% Cannot delete default BGP instance. Dependent VRF instances exist\n",
    stderr="line 1: Warning[4]: no router bgp 64514 vrf red\n"
    "line 2: Warning[4]: no router bgp 64514\n",
    returncode=4,
)


def test_bgp_instances_bgpd_keeps_until_zebra_catches_up_are_removed_again() -> None:
    runner = ScriptedVtysh(STILL_BOUND, STILL_BOUND, ok())
    vtysh = Vtysh(runner, pathspace="p", retry_delays=(0, 0, 0))
    vtysh.apply(diff_frr(WITH_L3VNI, "frr version 8.4.4\n!\nend\n"))
    scripts = [stdin for _, stdin in runner.calls]
    assert scripts == [
        "no router bgp 64514 vrf red\nno router bgp 64514\nvrf red\n no vni 100\nexit-vrf\n",
        "no router bgp 64514 vrf red\nno router bgp 64514\n",
        "no router bgp 64514 vrf red\nno router bgp 64514\n",
    ]


def test_a_bgp_instance_still_bound_after_the_last_attempt_is_an_error() -> None:
    runner = ScriptedVtysh(STILL_BOUND, STILL_BOUND)
    vtysh = Vtysh(runner, pathspace="p", retry_delays=(0,))
    with pytest.raises(BackendError, match=r"'no router bgp 64514 vrf red' .*l3vni 100"):
        vtysh.apply(diff_frr(WITH_L3VNI, "frr version 8.4.4\n!\nend\n"))
    assert len(runner.calls) == 2


def test_other_refusals_are_not_tried_again() -> None:
    refused = ok(
        stdout="% Please unconfigure l3vni 100\n% Unknown command: no vni 100\n",
        stderr="line 1: Warning[4]: no router bgp 64514 vrf red\nline 4: % Unknown command\n",
        returncode=4,
    )
    runner = ScriptedVtysh(refused)
    vtysh = Vtysh(runner, pathspace="p", retry_delays=(0, 0))
    with pytest.raises(BackendError, match=r"\(and 1 more lines\)"):
        vtysh.apply(diff_frr(WITH_L3VNI, "frr version 8.4.4\n!\nend\n"))
    assert len(runner.calls) == 1
