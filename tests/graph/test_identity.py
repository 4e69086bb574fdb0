"""Identity resolution on a real graph: CRM mapping, exact phone/e-mail matches, merge, split, evidence."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agora.records import AccountRef, Interaction, Kind
from graph.identity import IdentityError, apply_claims, import_crm, links, merge, split
from listening.connectors.base import IdentityClaim

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
ANNA_TW = AccountRef("twitter", "2244994945", "anna_beans")
ANNA_IG = AccountRef("instagram", "17841401234567890", "anna.beans")
ANNA_FB = AccountRef("facebook", "6123456789012345", "Anna Bianchi")
OTHER_FB = AccountRef("facebook", "7234567890123456", "Anna Bianchi")  # same display name, someone else
PIETRO_TW = AccountRef("twitter", "783214", "pietrob")
BRAND_TW = AccountRef("twitter", "1456789012345678901", "CaffeAurora")


def said(n: int, actor: AccountRef, target: AccountRef) -> Interaction:
    return Interaction(id=f"{actor.platform}:m{n}", platform=actor.platform, kind=Kind.MENTION, actor=actor,
                       timestamp=T0 + timedelta(minutes=n), text=f"message {n}", targets=(target,))


@pytest.fixture
def graph(store):
    store.upsert_interactions([said(1, ANNA_TW, BRAND_TW), said(2, PIETRO_TW, ANNA_TW), said(3, ANNA_IG, BRAND_TW),
                               said(4, ANNA_FB, OTHER_FB)])
    return store


def write_crm(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crm.csv"
    path.write_text(text, encoding="utf-8")
    return path


def person_of(store, key: str) -> str:
    [row] = store.fetch("MATCH (:Account {key: $k})-[:OF]->(p:Person) RETURN p.id AS id", k=key)
    return row["id"]


def test_crm_links_exact_handles_and_phones_with_evidence_and_is_idempotent(graph, tmp_path):
    crm = write_crm(tmp_path, "customer_id,platform,handle,phone,e-mail\n"
                              "C-001,twitter,@Anna_Beans,,anna@example.com\n"
                              "C-001,instagram,anna.beans,,\n"
                              "C-001,whatsapp,,+39 333 123 4567,\n")
    report = import_crm(graph, crm)
    assert report.rows == 3 and report.linked == 3 and not report.conflicts and not report.issues
    for key in (ANNA_TW.key, ANNA_IG.key, "whatsapp:+393331234567"):
        assert person_of(graph, key) == "crm:C-001"
    evidence = {r["account"]: r for r in links(graph, "crm:C-001")}
    assert evidence[ANNA_TW.key]["evidence"] == ["crm handle twitter:@Anna_Beans"]
    assert evidence["whatsapp:+393331234567"]["evidence"] == ["crm phone +393331234567"]
    assert evidence[ANNA_IG.key]["source"] == f"{crm}:3" and evidence[ANNA_IG.key]["at"]
    # the people the accounts had before are gone, nobody else moved
    assert graph.fetch("MATCH (p:Person {id: $k}) RETURN p", k=ANNA_TW.key) == []
    assert person_of(graph, PIETRO_TW.key) == PIETRO_TW.key
    counts = graph.counts()
    again = import_crm(graph, crm)
    assert again.linked == 0 and again.unchanged == 3 and graph.counts() == counts


def test_a_phone_that_has_not_written_yet_receives_its_first_message_on_the_crm_person(graph, tmp_path):
    import_crm(graph, write_crm(tmp_path, "customer_id,platform,phone\nC-002,whatsapp,0039 340 987 6543\n"))
    wa = AccountRef("whatsapp", "+393409876543", "Marco")
    graph.upsert_interactions([said(5, wa, AccountRef("whatsapp", "+15550783881"))])
    assert person_of(graph, wa.key) == "crm:C-002"
    assert graph.count("Account") == 8  # 6 before, the CRM number, the business number: no duplicate


def test_names_alone_never_link_anyone(graph, tmp_path):
    report = import_crm(graph, write_crm(tmp_path, "customer_id,platform,handle\n"
                                                   "C-003,facebook,Anna Bianchi\n"  # a display name, twice in the graph
                                                   "C-003,telegram,anna_beans\n"))  # a Twitter name, not Telegram
    assert report.linked == 0 and len(report.unmatched) == 2
    assert person_of(graph, ANNA_FB.key) == ANNA_FB.key and person_of(graph, OTHER_FB.key) == OTHER_FB.key
    # an exact native id does link, on a platform with display names too
    report = import_crm(graph, write_crm(tmp_path, "customer_id,platform,handle\nC-003,facebook,6123456789012345\n"))
    assert report.linked == 1 and person_of(graph, ANNA_FB.key) == "crm:C-003"
    assert person_of(graph, OTHER_FB.key) == OTHER_FB.key


def test_conflicts_and_bad_rows_are_reported_not_guessed(graph, tmp_path):
    crm = write_crm(tmp_path, "customer_id,platform,handle,phone,email\n"
                              "C-004,twitter,pietrob,,\n"
                              "C-005,twitter,pietrob,,\n"
                              "C-006,whatsapp,,+393331112222,\n"
                              "C-007,whatsapp,,+393331112222,\n"
                              ",twitter,x,,\n"
                              "C-008,whatsapp,,333 1112222,\n"
                              "C-009,twitter,,,not-an-address\n"
                              "C-010,twitter,,,\n")
    report = import_crm(graph, crm)
    assert person_of(graph, PIETRO_TW.key) == PIETRO_TW.key
    assert any("twitter:783214 is claimed by customers C-004, C-005" in c for c in report.conflicts)
    assert any("phone +393331112222 is claimed by customers C-006, C-007" in c for c in report.conflicts)
    assert [str(i) for i in report.issues] == [
        f"{crm}:6: empty customer_id",
        f"{crm}:7: phone '333 1112222': give it with the country code (+39 ...)",
        f"{crm}:8: e-mail 'not-an-address': not an address",
        f"{crm}:9: no handle, phone or email"]
    bad = write_crm(tmp_path, "id,handle\n1,x\n")
    assert [str(i) for i in import_crm(graph, bad).issues] == [
        f"{bad}:1: missing column(s) customer_id, platform (need customer_id, platform and handle, phone or email)"]


def test_merge_moves_accounts_keeps_evidence_and_is_idempotent(graph):
    result = merge(graph, ANNA_TW.key, ANNA_IG.key, reason="same person, confirmed by DM")
    assert result.person == ANNA_TW.key and result.moved == (ANNA_IG.key,) and result.removed == ANNA_IG.key
    assert person_of(graph, ANNA_IG.key) == ANNA_TW.key
    assert graph.fetch("MATCH (p:Person {id: $k}) RETURN p", k=ANNA_IG.key) == []
    [link] = [r for r in links(graph, ANNA_TW.key) if r["account"] == ANNA_IG.key]
    assert link["evidence"] == [f"manual merge of {ANNA_IG.key} into {ANNA_TW.key}: same person, confirmed by DM"]
    assert link["pinned"] is True
    counts = graph.counts()
    assert merge(graph, ANNA_TW.key, ANNA_IG.key).moved == () and graph.counts() == counts
    # scoring sees one person: both accounts' mentions of the brand come from it
    sources = {r.source for r in graph.edge_rows() if r.target == BRAND_TW.key}
    assert sources == {ANNA_TW.key}
    with pytest.raises(IdentityError, match="no account or person 'twitter:nobody'"):
        merge(graph, ANNA_TW.key, "twitter:nobody")


def test_split_undoes_a_merge_and_a_crm_import_does_not_redo_it(graph, tmp_path):
    crm = write_crm(tmp_path, "customer_id,platform,handle\nC-001,twitter,anna_beans\nC-001,instagram,anna.beans\n")
    import_crm(graph, crm)
    result = split(graph, ANNA_IG.key, reason="a shop assistant's account")
    assert result.person == ANNA_IG.key and person_of(graph, ANNA_IG.key) == ANNA_IG.key
    assert person_of(graph, ANNA_TW.key) == "crm:C-001"
    [link] = links(graph, ANNA_IG.key)
    assert link["evidence"] == [f"manual split of {ANNA_IG.key}: a shop assistant's account"] and link["pinned"]
    assert split(graph, ANNA_IG.key).moved == ()  # idempotent
    report = import_crm(graph, crm)
    assert report.linked == 0 and report.pinned == [f"{ANNA_IG.key}: kept on {ANNA_IG.key} (a manual merge or split)"]
    assert person_of(graph, ANNA_IG.key) == ANNA_IG.key


def test_split_of_the_account_whose_key_names_a_merged_person(graph):
    merge(graph, ANNA_TW.key, ANNA_IG.key)
    result = split(graph, ANNA_TW.key)
    assert result.person == f"{ANNA_TW.key}#split"
    assert person_of(graph, ANNA_IG.key) == ANNA_TW.key and person_of(graph, ANNA_TW.key) == f"{ANNA_TW.key}#split"
    with pytest.raises(IdentityError, match="no account 'twitter:nobody'"):
        split(graph, "twitter:nobody")


GIULIA_TG = AccountRef("telegram", "user482731945", "giuliarossi")
GIULIA_WA = AccountRef("whatsapp", "+393331234567", "Giulia")


def test_a_phone_the_platform_states_joins_the_whatsapp_account_of_that_number(graph, tmp_path):
    graph.upsert_interactions([said(10, GIULIA_WA, BRAND_TW), said(11, GIULIA_TG, PIETRO_TW)])
    claim = IdentityClaim(GIULIA_TG, "phone", "393331234567", "shared their own contact card in telegram:1:77")
    report = apply_claims(graph, [claim])
    assert report.linked == 1 and person_of(graph, GIULIA_TG.key) == GIULIA_WA.key
    [link] = [r for r in links(graph, GIULIA_WA.key) if r["account"] == GIULIA_TG.key]
    assert link["evidence"] == [f"same phone +393331234567: {GIULIA_TG.key} shared their own contact card in telegram:1:77"]
    counts = graph.counts()
    assert apply_claims(graph, [claim]).linked == 0 and graph.counts() == counts
    # a CRM customer with that number takes both accounts: the Telegram one now carries the phone
    assert import_crm(graph, write_crm(tmp_path, "customer_id,platform,phone\nC-7,whatsapp,+393331234567\n")).linked == 2
    assert person_of(graph, GIULIA_TG.key) == person_of(graph, GIULIA_WA.key) == "crm:C-7"
    assert apply_claims(graph, [claim]).linked == 0


def test_a_claim_joins_the_crm_customer_who_has_that_number(graph, tmp_path):
    graph.upsert_interactions([said(11, GIULIA_TG, PIETRO_TW)])
    import_crm(graph, write_crm(tmp_path, "customer_id,platform,phone\nC-7,whatsapp,+393331234567\n"))
    assert person_of(graph, GIULIA_TG.key) == GIULIA_TG.key  # nothing tied it to the number yet
    report = apply_claims(graph, [IdentityClaim(GIULIA_TG, "phone", "+39 333 1234567", "contact card")])
    assert report.linked == 1 and person_of(graph, GIULIA_TG.key) == "crm:C-7"


def test_claims_respect_manual_splits_and_report_bad_numbers(graph):
    graph.upsert_interactions([said(10, GIULIA_WA, BRAND_TW), said(11, GIULIA_TG, PIETRO_TW)])
    split(graph, GIULIA_TG.key)
    report = apply_claims(graph, [IdentityClaim(GIULIA_TG, "phone", "+39 333 123 4567", "contact card"),
                                  IdentityClaim(PIETRO_TW, "phone", "12", "contact card")])
    assert report.linked == 0 and report.pinned == [f"{GIULIA_TG.key}: kept on {GIULIA_TG.key} (a manual merge or split)"]
    assert [str(i) for i in report.issues] == ["contact card: phone '12': give it with the country code (+39 ...)"]
