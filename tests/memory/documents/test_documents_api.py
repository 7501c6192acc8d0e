"""/api/v1/memory/documents: add, replace, no-op, recall with citations, forget, bad input."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.state import AppState
from tests.memory.documents.test_extract import make_pdf

D = "/api/v1/memory/documents"
Q = "/api/v1/memory/recall"
R = "/api/v1/memory/remember/batch"

PROPOSAL = """# Proposal for Acme Corp

We propose a twelve week marketing operations engagement.

## Pricing

The fixed fee is 18,500 euros, invoiced in three instalments.

## Timeline

Kick-off on 12 January; the audit is delivered in week four.
"""


async def add(
    client: httpx.AsyncClient, name: str, body: bytes | str, **form: str
) -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    return await client.post(D, files={"file": (name, data)}, data=form)


async def recall(client: httpx.AsyncClient, query: str, **params: object) -> list[dict]:
    r = await client.get(Q, params={"query": query, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


async def test_add_read_list_and_recall_with_citation(client: httpx.AsyncClient):
    r = await add(client, "acme-proposal.md", PROPOSAL, client_id="7", tags="proposal,acme")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["status"] == "created" and doc["title"] == "Proposal for Acme Corp"
    assert doc["chunks"] == 3 and doc["tags"] == ["acme", "proposal"]

    detail = (await client.get(f"{D}/{doc['id']}")).json()
    assert [c["heading"] for c in detail["chunk_list"]] == [
        "Proposal for Acme Corp",
        "Pricing",
        "Timeline",
    ]
    listed = (await client.get(D, params={"client_id": 7, "tag": "proposal"})).json()
    assert [d["id"] for d in listed["items"]] == [doc["id"]]
    assert (await client.get(D, params={"tag": "contract"})).json()["items"] == []
    # A tag matches whatever its case, and one said twice in two cases is one tag.
    found = (await client.get(D, params={"tag": "ACME"})).json()["items"]
    assert [d["id"] for d in found] == [doc["id"]]
    twice = await add(client, "plan.md", b"# Plan\n\nWeek one.", tags="Draft,draft,DRAFT")
    assert twice.json()["tags"] == ["Draft"], twice.text

    hits = await recall(client, "how much is the fixed fee?", kinds="document", k=3)
    assert hits[0]["kind"] == "document"
    assert "18,500 euros" in hits[0]["content"]
    assert hits[0]["metadata"]["document_id"] == doc["id"]
    assert hits[0]["metadata"]["heading"] == "Pricing"
    assert hits[0]["metadata"]["title"] == "Proposal for Acme Corp"
    # Without `kinds`, recall searches documents beside memories.
    assert any(h["kind"] == "document" for h in await recall(client, "fixed fee instalments"))


async def test_unchanged_is_a_no_op_and_changed_replaces(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    first = (await add(client, "notes.md", PROPOSAL)).json()
    again = (await add(client, "notes.md", PROPOSAL)).json()
    assert again["status"] == "unchanged" and again["id"] == first["id"]
    chunk_ids = (await db_session.execute(text("SELECT id FROM doc_chunks ORDER BY id"))).all()
    assert len(chunk_ids) == 3

    changed = (await add(client, "notes.md", PROPOSAL.replace("18,500", "21,000"))).json()
    assert changed["status"] == "replaced" and changed["id"] == first["id"]
    contents = (await db_session.execute(text("SELECT content FROM doc_chunks"))).scalars().all()
    assert any("21,000" in c for c in contents) and not any("18,500" in c for c in contents)
    # One document, its chunks and vectors rebuilt, nothing left over.
    counts = (
        await db_session.execute(
            text(
                "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM doc_chunks), "
                "(SELECT count(*) FROM doc_chunk_embeddings)"
            )
        )
    ).one()
    assert tuple(counts) == (1, 3, 3)
    # The same file name for another client is another document.
    other = (await add(client, "notes.md", PROPOSAL, client_id="8")).json()
    assert other["status"] == "created" and other["id"] != first["id"]


async def test_the_same_file_with_other_tags_or_title_updates_them(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """Re-adding the same bytes was a no-op whatever it said: new tags and a new title
    were dropped while the answer said `unchanged`."""
    first = (await add(client, "notes.md", PROPOSAL, tags="draft")).json()
    chunk_ids = (await db_session.execute(text("SELECT id FROM doc_chunks"))).scalars().all()
    tagged = (await add(client, "notes.md", PROPOSAL, tags="contract,signed")).json()
    assert tagged["status"] == "updated" and tagged["id"] == first["id"]
    assert tagged["tags"] == ["contract", "signed"]
    found = (await client.get(D, params={"tag": "signed"})).json()["items"]
    assert [d["id"] for d in found] == [first["id"]]
    assert (await client.get(D, params={"tag": "draft"})).json()["items"] == []
    # Tags alone leave the chunks as they were.
    same = (await db_session.execute(text("SELECT id FROM doc_chunks"))).scalars().all()
    assert sorted(same) == sorted(chunk_ids)
    # Saying nothing new (no tags, no title) is still a no-op that keeps what was said.
    again = (await add(client, "notes.md", PROPOSAL)).json()
    assert again["status"] == "unchanged" and again["tags"] == ["contract", "signed"]
    # A new title is in every chunk's citation: they carry it now.
    titled = (await add(client, "notes.md", PROPOSAL, title="Acme retainer")).json()
    assert titled["status"] == "updated" and titled["title"] == "Acme retainer"
    assert titled["tags"] == ["contract", "signed"]
    hits = await recall(client, "how much is the fixed fee?", kinds="document", k=3)
    assert hits[0]["metadata"]["title"] == "Acme retainer"
    detail = (await client.get(f"{D}/{first['id']}")).json()
    assert detail["title"] == "Acme retainer" and detail["tags"] == ["contract", "signed"]


async def test_recall_keeps_clients_apart(client: httpx.AsyncClient):
    await add(client, "a.md", "# Secret\n\nThe Zanzibar launch code is purple.", client_id="1")
    await add(client, "b.md", "# Other\n\nBeta notes about gardening.", client_id="2")
    hits_b = await recall(client, "Zanzibar launch code", kinds="document", client_id=2)
    assert all("Zanzibar" not in h["content"] for h in hits_b)
    hits_a = await recall(client, "Zanzibar launch code", kinds="document", client_id=1)
    assert "Zanzibar" in hits_a[0]["content"]
    # A plan's recall for client 2 (its memories and the user's own) as well, every kind.
    await add(client, "mine.md", "# Mine\n\nMy own Zanzibar notes, no client's.")
    for kinds in ("document", None):
        scoped = {"kinds": kinds} if kinds else {}
        hits = await recall(client, "Zanzibar launch code", for_client=2, **scoped)
        assert all("purple" not in h["content"] for h in hits)
        assert any("My own Zanzibar" in h["content"] for h in hits)


async def test_forgetting_a_client_removes_its_documents(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    await add(client, "a.md", "# Contract\n\nMarker quokka-42 appears here.", client_id="31")
    kept = (await add(client, "b.md", "# Mine\n\nMy own quokka notes.")).json()
    r = await client.delete("/api/v1/memory/subjects/client/31")
    assert r.status_code == 200, r.text
    assert r.json()["documents_deleted"] == 1
    left = (
        await db_session.execute(
            text("SELECT count(*) FROM doc_chunks WHERE content LIKE '%quokka-42%'")
        )
    ).scalar_one()
    assert left == 0
    assert all("quokka-42" not in h["content"] for h in await recall(client, "quokka-42"))
    assert (await client.get(f"{D}/{kept['id']}")).status_code == 200


async def test_pdf_pages_are_cited(client: httpx.AsyncClient):
    pdf = make_pdf(["Onboarding checklist for new clients.", "Invoices are due within 30 days."])
    doc = (await add(client, "handbook.pdf", pdf)).json()
    assert doc["media_type"] == "application/pdf" and doc["pages"] == 2
    hits = await recall(client, "when are invoices due", kinds="document", k=1)
    assert hits[0]["metadata"]["page"] == 2


async def test_bad_input_is_4xx_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, state: AppState
):
    r = await add(client, "contract.docx", b"PK\x03\x04 binary")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = await add(client, "notes.md", "# T\n\ntext", tags="bad tag!")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tags"
    # A tag of letters only but too long was told it held other characters (a fuzzer).
    r = await add(client, "notes.md", "# T\n\ntext", tags="t" * 60)
    assert r.status_code == 422 and "at most 50 characters" in r.json()["detail"], r.text
    r = await add(client, "notes.md", "# T\n\ntext", metadata="[1, 2]")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "metadata"
    r = await add(client, "empty.md", b"")
    assert r.status_code == 422
    r = await add(client, "blank.md", "\n\n   \n")
    assert r.status_code == 422
    state.settings.memory.document_max_bytes = 2048
    r = await add(client, "big.txt", "x" * 5000)
    assert r.status_code == 413
    assert r.json()["errors"] == [
        {"field": "file", "message": "the file is larger than 2048 bytes"}
    ]
    assert (await client.get(f"{D}/999999")).status_code == 404
    assert (await client.delete(f"{D}/999999")).status_code == 404
    assert (await client.get(D, params={"limit": 10_000})).status_code == 422
    n = (await db_session.execute(text("SELECT count(*) FROM documents"))).scalar_one()
    assert n == 0


@pytest.mark.parametrize(
    "metadata",
    [
        '{"note": "a\\u0000b"}',  # jsonb has no NUL
        '{"note": "\\ud800"}',  # nor lone surrogates
        '{"score": NaN}',  # nor NaN (json.loads accepts all three)
        "[" * 8000 + "]" * 8000,  # under 16 KiB, past json.loads' recursion limit
        '{"k": ' * 10 + "1" + "}" * 10,  # deeper than any other metadata may be
    ],
)
async def test_metadata_jsonb_cannot_store_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, metadata: str
):
    # Each was a 500 from the driver (or the parser) after the document row was written.
    r = await add(client, "notes.md", "# T\n\ntext", metadata=metadata)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "metadata"
    n = (await db_session.execute(text("SELECT count(*) FROM documents"))).scalar_one()
    assert n == 0


async def test_delete_removes_document_chunks_and_vectors(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    doc = (await add(client, "notes.md", PROPOSAL)).json()
    assert (await client.delete(f"{D}/{doc['id']}")).status_code == 204
    assert (await client.get(f"{D}/{doc['id']}")).status_code == 404
    n = (await db_session.execute(text("SELECT count(*) FROM doc_chunk_embeddings"))).scalar_one()
    assert n == 0
    assert await recall(client, "fixed fee", kinds="document") == []


async def test_the_same_upload_sent_concurrently_is_stored_once(
    committed_client: httpx.AsyncClient,
):
    data = b"# Boiler\n\nService it in March, before the heating season ends.\n"
    answers = await asyncio.gather(*(add(committed_client, "boiler.md", data) for _ in range(8)))
    assert all(r.status_code == 201 for r in answers), [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert sorted(r.json()["status"] for r in answers) == ["created"] + ["unchanged"] * 7
    assert len((await committed_client.get(D)).json()["items"]) == 1


async def test_changed_bytes_keep_what_is_not_given_and_replace_what_is(
    client: httpx.AsyncClient,
):
    """Re-adding a changed file without tags cleared its tags (and metadata, and a given
    title), while the same bytes kept them: what the caller leaves out now stays either way."""
    meta = '{"matter": "A-17"}'
    first = (
        await add(client, "notes.md", PROPOSAL, tags="acme,draft", title="Acme", metadata=meta)
    ).json()
    v2 = PROPOSAL.replace("18,500", "21,000")
    changed = (await add(client, "notes.md", v2)).json()
    assert changed["status"] == "replaced" and changed["id"] == first["id"]
    assert changed["tags"] == ["acme", "draft"]
    assert changed["title"] == "Acme" and changed["metadata"] == {"matter": "A-17"}
    found = (await client.get(D, params={"tag": "draft"})).json()["items"]
    assert [d["id"] for d in found] == [first["id"]]
    hits = await recall(client, "how much is the fixed fee?", kinds="document", k=3)
    assert hits[0]["metadata"]["title"] == "Acme"  # the chunks rebuilt cite it too
    # Given, they replace what was said (as for the same bytes).
    v3 = PROPOSAL.replace("18,500", "24,000")
    tagged = (await add(client, "notes.md", v3, tags="signed", title="Acme retainer")).json()
    assert tagged["status"] == "replaced"
    assert tagged["tags"] == ["signed"] and tagged["title"] == "Acme retainer"
    assert tagged["metadata"] == {"matter": "A-17"}
    assert (await client.get(D, params={"tag": "draft"})).json()["items"] == []


async def test_changed_bytes_take_their_own_heading_unless_a_title_was_given(
    client: httpx.AsyncClient,
):
    """A title taken from the file followed the file's heading until fix14 kept every title
    over changed bytes: "Proposal for Acme Corp" stayed on a file now headed for Globex."""
    first = (await add(client, "acme.md", "# Proposal for Acme Corp\n\nFee 18,500.\n")).json()
    assert first["title"] == "Proposal for Acme Corp"
    v2 = (await add(client, "acme.md", "# Proposal for Globex\n\nFee 21,000.\n")).json()
    assert v2["status"] == "replaced" and v2["title"] == "Proposal for Globex"
    hits = await recall(client, "what is the fee for Globex?", kinds="document", k=3)
    assert hits[0]["metadata"]["title"] == "Proposal for Globex"  # the chunks cite it too
    # A title given once stays over the next changed files.
    given = await add(client, "acme.md", "# Draft\n\nFee 22,000.\n", title="Globex deal")
    assert given.json()["title"] == "Globex deal"
    for n, fee in enumerate(("23,000", "24,000")):
        again = (await add(client, "acme.md", f"# Draft {n}\n\nFee {fee}.\n")).json()
        assert again["status"] == "replaced" and again["title"] == "Globex deal"


async def test_a_file_name_the_table_cannot_hold_is_a_422_naming_file(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # The name is the document's `source` (500 characters): a longer one was a 500 from
    # the insert, after the file had been parsed and embedded.
    r = await add(client, "a" * 600 + ".md", "# Notes\n\nThe boiler is serviced in March.")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "file"
    # A NUL in the multipart header's name (sent raw: httpx would escape it).
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a\x00b.md"\r\n'
        f"Content-Type: text/markdown\r\n\r\n# Notes\n\nThe boiler.\r\n--{boundary}--\r\n"
    ).encode()
    r = await client.post(
        D, content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "file"
    n = (await db_session.execute(text("SELECT count(*) FROM documents"))).scalar_one()
    assert n == 0
    # A long name with a short `source` is the caller's way round it.
    r = await add(client, "a" * 600 + ".md", "# Notes\n\nThe boiler.", source="notes.md")
    assert r.status_code == 201, r.text


async def test_a_chunk_that_answers_comes_before_memories_that_do_not(client: httpx.AsyncClient):
    """Kinds were merged by their fused scores, which do not compare (events gather more
    fused lists): with a few unrelated memories stored, "How much is the fixed fee?" at
    k=1 or 2 answered no_match, and at k=3 put the answer behind two of them."""
    items = [
        {"content": "I prefer deep work before noon"},
        {"content": "Acme wants a weekly status report every Friday"},
        {"content": "The boiler needs servicing in March"},
        {"content": "Dana from Globex approves invoices above 5k"},
        {"content": "Lunch with Marco at the Italian place on Tuesday"},
    ]
    assert (await client.post(R, json={"items": items})).status_code == 201
    assert (await add(client, "acme-proposal.md", PROPOSAL)).status_code == 201
    for k in (1, 3):
        r = await client.get(Q, params={"query": "How much is the fixed fee?", "k": k})
        out = r.json()
        assert out["no_match"] is False, out
        first = out["results"][0]
        assert first["kind"] == "document" and first["metadata"]["heading"] == "Pricing"
        assert first["relevance"] >= 0.5
        below = [h["relevance"] for h in out["results"][1:]]
        assert all(r < 0.5 for r in below) or below == []


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"client": "7"}, "client"),  # stored as the user's own, recalled for every client
        ({"tag": "acme"}, "tag"),  # the listing's filter name: stored untagged
        ({"client_id": ["7", "8"]}, "client_id"),  # stored as client 8's
    ],
)
async def test_a_form_field_the_upload_does_not_take_or_given_twice_is_a_422(
    client: httpx.AsyncClient, db_session: AsyncSession, form: dict[str, object], field: str
):
    # Each was a 201 that stored the document as if the field had not been sent (or with
    # its last value), as JSON bodies and query parameters no longer do.
    r = await client.post(D, files={"file": ("notes.md", b"# Notes\n\nFee 18,500.")}, data=form)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    n = (await db_session.execute(text("SELECT count(*) FROM documents"))).scalar_one()
    assert n == 0


async def test_two_files_in_one_upload_are_a_422_naming_file(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # The last was stored and the first dropped, answered 201 as if the upload was whole.
    files = [("file", ("a.md", b"# A\n\nFirst.")), ("file", ("b.md", b"# B\n\nSecond."))]
    r = await client.post(D, files=files)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "file"
    n = (await db_session.execute(text("SELECT count(*) FROM documents"))).scalar_one()
    assert n == 0
    # The same value twice says one thing, as in a query.
    r = await client.post(
        D, files={"file": ("a.md", b"# A\n\nFirst.")}, data={"client_id": ["7", "7"]}
    )
    assert r.status_code == 201, r.text


async def test_a_file_name_too_long_to_parse_is_a_422_naming_file_and_the_bound(
    client: httpx.AsyncClient,
):
    """A 5,000-character name overflows the multipart parser's header line: that was a 400
    "Invalid multipart data." naming neither `file` nor the bound."""
    r = await add(client, "a" * 5000 + ".md", "# Notes\n\nThe boiler is serviced in March.")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    [error] = r.json()["errors"]
    assert error["field"] == "file" and "4224 bytes" in error["message"], error
    # A body the parser cannot read at all still says why, naming the body.
    r = await client.post(
        D, content=b"--b\r\nno headers", headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body", r.text


async def test_a_note_that_is_only_a_heading_is_stored_and_found(client: httpx.AsyncClient):
    """Markdown or HTML of headings alone was a 422 "no text could be extracted"."""
    r = await add(client, "acme.md", "# Kickoff call with Zanzibar Logistics")
    assert r.status_code == 201, r.text
    assert r.json()["chunks"] == 1
    r = await add(client, "agenda.html", "<h1>Quarterly agenda</h1><h2>Zanzibar budget</h2>")
    assert r.status_code == 201, r.text
    assert r.json()["chunks"] == 2
    found = await recall(client, "Zanzibar Logistics kickoff", kinds="document")
    assert any("Kickoff call" in hit["content"] for hit in found), found


async def test_a_deleted_or_replaced_document_leaves_no_words_in_the_statistics(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # Deleting a memory drops its words from the search statistics: a document's words
    # stayed (at df 0), and still named what was deleted.
    async def kept(word: str) -> bool:
        found = await db_session.execute(
            text("SELECT 1 FROM search_terms WHERE kind = 'document' AND lexeme = :w"),
            {"w": word},
        )
        return found.first() is not None

    doc = (await add(client, "dugong.txt", "The dugong survey is in March.")).json()
    assert await kept("dugong")
    assert (await client.delete(f"{D}/{doc['id']}")).status_code == 204
    assert not await kept("dugong")
    other = await add(client, "other.txt", "A capybara is shared; the walrus is not.")
    assert (await add(client, "rep.txt", "The capybara secret; the narwhal too.")).is_success
    replaced = await add(client, "rep.txt", "Nothing of the kind, only otters.")
    assert replaced.json()["status"] == "replaced"
    assert not await kept("narwhal")
    assert await kept("capybara")  # still in other.txt
    assert (await client.delete(f"{D}/{other.json()['id']}")).status_code == 204
    assert not await kept("capybara") and not await kept("walrus") and await kept("otter")
