"""The reduced fault-injection run inside `make test` (`make chaos` is the full one):
real Mosquitto, two real worker processes, the real database, firmware terminals selling
through all eleven faults (issue 17's poison burst, refused-then-retried spends and
client-id takeover, issue 15's power cut with the clock reset and reflash mid-life among
them); nothing acknowledged is lost and nothing is charged twice."""

import pytest

from tests.chaos import harness
from tests.conftest import DATABASE_KINDS


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_reduced_chaos_run_loses_nothing_and_doubles_nothing(kind, tmp_path):
    run = harness.ChaosRun(kind, tmp_path, harness.REDUCED)
    verdict = run.run()
    print(verdict.table())
    assert verdict.errors == []
    assert (verdict.total.lost, verdict.total.doubled) == (0, 0)
    # Every fault really happened, and sales went on through each of them.
    assert run.killed_request is not None
    assert run.evidence["UNAVAILABLE"] > 0
    assert run.evidence["STALE"] >= 2
    assert run.evidence["torn"] == 1
    assert run.evidence["poison answered"] >= harness.REDUCED.poison_rounds * 6  # with an id
    assert run.evidence["poison crashes"] == 0
    assert run.evidence["refused then retried"] > 0
    assert run.evidence["clock reset journaled"] >= 3
    assert run.evidence["clock reset confirmed"] == run.evidence["clock reset journaled"]
    assert run.evidence["reflash reissued"] >= 2  # online and from the journal
    assert run.evidence["takeover logins"] == harness.REDUCED.takeover_logins
    assert run.evidence["takeover answered"] == harness.REDUCED.takeover_logins
    assert run.evidence["takeover worker reconnects"] == 0
    assert all(row.attempted > 0 and row.acknowledged > 0 for row in verdict.rows)
    assert len(verdict.rows) == 1 + len(harness.ChaosRun.FAULTS)
