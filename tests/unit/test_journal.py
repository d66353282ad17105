"""The journal survives a crash at any byte and blocks every command until recovered."""

from __future__ import annotations

from pathlib import Path

import pytest

from pe_plan.errors import StateError
from pe_plan.journal import Journal, journal_path, read_journal, refuse_if_pending
from pe_plan.model import Address
from pe_plan.operations import DeleteAddress, DeleteLink, SetSysctl


def begin(path: Path, command: str) -> Journal:
    return Journal.begin(path, command, "node0", router_namespace="perouter", state_serial=None)


def test_entries_are_read_back_in_order(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "pe-plan.state.json")
    journal = begin(path, "apply")
    journal.record("link.router.vni110", DeleteLink(namespace="router", name="vni110"))
    undo = DeleteAddress(address=Address(namespace="router", link="lound", cidr="1.2.3.4/32"))
    journal.record("address.router.lound.1.2.3.4/32", undo)
    journal.close()
    pending = read_journal(path)
    assert pending.header.command == "apply"
    assert [e.seq for e in pending.entries] == [1, 2]
    assert pending.entries[1].undo == undo
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = begin(path, "apply")
    journal.record("sysctl.router.x", SetSysctl(namespace="router", key="x", value="0"))
    journal.close()
    with path.open("ab") as stream:
        stream.write(b'{"type":"undo","seq":2,"act')
    assert len(read_journal(path).entries) == 1


def test_a_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "j"
    begin(path, "apply").close()
    with path.open("ab") as stream:
        stream.write(b"garbage\n")
        stream.write(
            b'{"type":"undo","seq":2,"action":"a",'
            b'"undo":{"type":"stop_frr","pathspace":"p","daemons":["zebra"]}}\n'
        )
    with pytest.raises(StateError, match="journal is corrupt"):
        read_journal(path)


def test_a_pending_journal_stops_commands(tmp_path: Path) -> None:
    path = tmp_path / "j"
    begin(path, "apply").close()
    with pytest.raises(StateError, match="interrupted `pe-plan apply`") as info:
        refuse_if_pending(path, None)
    assert info.value.hint is not None
    assert "pe-plan recover" in info.value.hint
    with pytest.raises(StateError):
        begin(path, "apply")


def test_finish_removes_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = begin(path, "destroy")
    journal.finish()
    assert not path.exists()
    assert refuse_if_pending(path, None) is None


def test_steps_marked_undone_are_not_pending(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = begin(path, "apply")
    first = journal.record("sysctl.router.x", SetSysctl(namespace="router", key="x", value="0"))
    journal.record("link.router.vni110", DeleteLink(namespace="router", name="vni110"))
    journal.close()
    with path.open("ab") as stream:
        stream.write(b'{"type":"undo","seq":3,"act')  # torn by a crash
    resumed, pending = Journal.resume(path)
    assert [e.seq for e in pending.entries] == [1, 2]
    resumed.undone(pending.entries[1])
    resumed.close()
    # Had the torn line not been cut, the mark would have run into it: a corrupt line.
    assert read_journal(path).entries == (first,)


def test_the_journal_of_a_command_that_recorded_its_state_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "j"
    Journal.begin(path, "apply", "node0", router_namespace="perouter", state_serial=3).close()
    (tmp_path / "j.frr").write_text("snapshot")
    with pytest.raises(StateError, match="interrupted `pe-plan apply`"):
        refuse_if_pending(path, 3)  # the state is still the one the apply started from
    note = refuse_if_pending(path, 4)
    assert note is not None
    assert "had completed and recorded the state" in note
    assert not path.exists()
    assert not (tmp_path / "j.frr").exists()


def test_a_deeply_nested_line_is_corruption_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "j"
    begin(path, "apply").close()
    with path.open("ab") as stream:
        stream.write(b"[" * 100_000 + b"\n")
        stream.write(b"{}\n")
    with pytest.raises(StateError, match="journal is corrupt"):
        read_journal(path)
