"""The relevance floor over document chunks: asked of the candidates, not of the k shown."""

from __future__ import annotations

import httpx

from tests.memory.documents.test_documents_api import Q, add

FILLER = (
    "We work in short cycles and review progress with your team every week. "
    "Each deliverable is discussed before it is final, and changes are agreed in writing."
)
CLIENTS = [
    ("Initech", 12_300, "Salesforce", "Priya", "Marco"),
    ("Globex", 24_800, "HubSpot", "Aiko", "Lena"),
    ("Hooli", 9_900, "Airtable", "Grace", "Noor"),
    ("Pied Piper", 31_000, "Notion", "Felix", "Ines"),
]


def proposal(name: str, fee: int, tool: str, lead: str, sponsor: str) -> str:
    return f"""# Proposal for {name}

{FILLER}

## Scope

The engagement audits the marketing funnel and rebuilds reporting in {tool}.
{FILLER}

## Pricing

The fixed fee is {fee:,} euros for 12 weeks, invoiced monthly in arrears.

## Timeline

Work starts on 3 March. The audit report is delivered in week two.
{FILLER}

## Team

{lead} leads the work; {sponsor} is the sponsor on the client side.
"""


async def test_an_answerable_question_is_not_floored_when_reordering_hides_the_best_evidence(
    client: httpx.AsyncClient,
) -> None:
    # Late interaction reorders the first pass's candidates: the chunks whose evidence
    # reaches the floor fell below k while the pricing chunk that answers was among the k.
    # Asked of the k shown, the floor answered "no match" and hid it.
    for i, c in enumerate(CLIENTS, start=1):
        assert (await add(client, f"proposal-{i}.md", proposal(*c), client_id=str(i))).is_success
    for name, fee, *_ in (CLIENTS[0], CLIENTS[3]):
        query = f"How much will {name} pay us for the project?"
        r = await client.get(Q, params={"query": query, "k": 3, "kinds": "document"})
        out = r.json()
        assert out["no_match"] is False, (query, out)
        assert any(f"{fee:,} euros" in h["content"] for h in out["results"]), (query, out)
    # Something never written about still gets no match.
    for query in (
        "Which Kubernetes cluster runs the billing microservice?",
        "What is the torque setting for the car's wheel lug nuts?",
    ):
        r = await client.get(Q, params={"query": query, "k": 3, "kinds": "document"})
        assert r.json()["no_match"] is True and r.json()["results"] == [], (query, r.json())
