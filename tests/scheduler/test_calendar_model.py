"""The whole-calendar model's naming: what a plan's reasons may quote of other plans."""

from __future__ import annotations

from almanac.scheduler.calendar_model import core_id, title_hider, title_shower


def test_another_plans_title_is_hidden_but_not_one_this_plan_shares():
    """Two clients' plans from one workflow share task titles: the reason of this plan's own
    task quotes its title, not the other plan's key; a title only the other plan has is
    still hidden."""
    titles = {
        core_id(1, "interviews"): "Interview stakeholders",
        core_id(1, "falcon"): "Price the Falcon bid",
        core_id(4, "interviews"): "Interview stakeholders",
        core_id(4, "map"): "Map processes",
    }
    hide = title_hider(titles, 4)
    assert hide("after 'Interview stakeholders'") == "after 'Interview stakeholders'"
    assert hide("moved for 'Price the Falcon bid'") == "moved for '1/falcon'"
    # Plan 1's own run shows its hidden titles again; a shared one was never hidden.
    show = title_shower(titles, 1)
    assert show(hide("'Price the Falcon bid', 'Interview stakeholders'")) == (
        "'Price the Falcon bid', 'Interview stakeholders'"
    )


def test_a_title_two_other_plans_share_names_the_plan_the_reason_is_about():
    """Two other clients' plans from one workflow: plan 6's follow-up was said to wait for
    '2/walkthrough', another client's task, since the first plan's pair won. A task's
    dependencies are its own plan's, so a reason about plan 6 names plan 6's."""
    titles = {
        core_id(1, "intro"): "Introduce the team",
        core_id(2, "walkthrough"): "Walkthrough",
        core_id(2, "follow-up"): "Follow up",
        core_id(6, "walkthrough"): "Walkthrough",
        core_id(6, "follow-up"): "Follow up",
    }
    hide = title_hider(titles, 1)
    assert hide("waits for 'Walkthrough'", 6) == "waits for '6/walkthrough'"
    assert hide("waits for 'Walkthrough'", 2) == "waits for '2/walkthrough'"
    assert (
        hide("after 'Follow up' and 'Walkthrough'", 6) == "after '6/follow-up' and '6/walkthrough'"
    )
    # About this plan's own task (or none), as before: the first plan's key.
    assert hide("waits for 'Walkthrough'") == "waits for '2/walkthrough'"
