"""Pure mapping of recorded webhook payloads (WhatsApp Cloud API, Meta, Telegram Bot API) into interactions."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agora.records import AccountRef, Kind
from listening.connectors import meta, telegram, whatsapp
from listening.connectors.base import MappingError

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


# -- WhatsApp ---------------------------------------------------------------------------------------

BIZ = AccountRef("whatsapp", "+15550783881")
GIULIA_WA = AccountRef("whatsapp", "+393331234567", "Giulia Rossi")
MARCO_WA = AccountRef("whatsapp", "+393409876543", "Marco")


def test_whatsapp_messages_replies_reactions_and_captions():
    got = whatsapp.map_payload(load("whatsapp_messages.json"))
    assert [(i.kind, i.actor, i.targets, i.text) for i in got] == [
        (Kind.MESSAGE, GIULIA_WA, (BIZ,), "Ciao! La mia macchinetta perde acqua 😕"),
        (Kind.REPLY, MARCO_WA, (BIZ,), "Grazie, ricevuto il rimborso"),
        (Kind.REACTION, MARCO_WA, (BIZ,), "👍"),
        (Kind.MESSAGE, GIULIA_WA, (BIZ,), "Ecco la foto"),
    ]  # the "unsupported" message is left out
    first, reply, reaction = got[0], got[1], got[2]
    assert first.id == "whatsapp:wamid.HBgMMzkzMzMxMjM0NTY3FQIAEhggQjVGMUY3OEE5QzBCRkJDMEFBNTQ2RTNCNkRCNDRGAA=="
    assert first.timestamp == utc(1732550400)
    assert first.conversation_id == "whatsapp:+15550783881:+393331234567"
    assert reply.parent_id == reaction.parent_id == "whatsapp:wamid.HBgMMzkzNDA5ODc2NTQzFQIAERgSQkFDRjQ2QTc1RUI1RjE2MzUyAA=="


def test_whatsapp_statuses_are_receipts_not_interactions():
    payload = load("whatsapp_statuses.json")
    assert whatsapp.map_payload(payload) == []
    [receipt] = whatsapp.map_statuses(payload)
    assert receipt.status == "read" and receipt.recipient == AccountRef("whatsapp", "+393409876543")
    assert receipt.message_id.startswith("whatsapp:wamid.") and receipt.timestamp == utc(1732550455)


@pytest.mark.parametrize("payload, reason", [
    ([], "expected a JSON object"),
    ({"object": "page", "entry": []}, "'object' is 'page'"),
    ({"object": "whatsapp_business_account", "entry": {}}, "'entry' must be a list"),
    ({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"display_phone_number": "1555"}, "messages": [{"id": "wamid.x", "timestamp": "1"}]}}]}]},
     "messages[0]: missing or bad field 'from'"),
])
def test_whatsapp_malformed_payloads_name_the_problem(payload, reason):
    with pytest.raises(MappingError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        whatsapp.map_payload(payload)


# -- Meta -------------------------------------------------------------------------------------------

PAGE = AccountRef("facebook", "108123456789012")


def test_page_feed_comments_and_reactions():
    got = meta.map_payload(load("meta_page_feed.json"))
    luca = AccountRef("facebook", "6123456789012345", "Luca Bianchi")
    sara = AccountRef("facebook", "7234567890123456", "Sara Verdi")
    assert [(i.id, i.kind, i.actor, i.targets, i.parent_id) for i in got] == [
        ("facebook:987654321098765_1122334455667788", Kind.REPLY, luca, (PAGE,), "facebook:108123456789012_987654321098765"),
        # a reply to a comment: its author is not in the payload, so no target is guessed
        ("facebook:987654321098765_2233445566778899", Kind.REPLY, sara, (), "facebook:987654321098765_1122334455667788"),
        ("facebook:reaction:108123456789012_987654321098765:7234567890123456", Kind.REACTION, sara, (PAGE,),
         "facebook:108123456789012_987654321098765"),
    ]  # verb "remove" is ignored
    assert got[0].text == "Il nuovo blend è fantastico!" and got[0].timestamp == utc(1732550990)
    assert got[2].text == "love"


def test_messenger_messages_and_page_echoes():
    got = meta.map_payload(load("meta_messenger.json"))
    customer = AccountRef("messenger", "5512345678901234")
    page = AccountRef("messenger", "108123456789012")
    assert [(i.kind, i.actor, i.targets) for i in got] == [(Kind.MESSAGE, customer, (page,)),
                                                           (Kind.REPLY, page, (customer,))]
    assert got[0].timestamp == utc(1732551199) and got[1].parent_id == got[0].id
    assert got[0].conversation_id == got[1].conversation_id == "messenger:108123456789012:5512345678901234"


def test_instagram_comments_and_authorless_mentions():
    payload = load("instagram_comments.json")
    got = meta.map_payload(payload)
    business = AccountRef("instagram", "17841405822304914")
    giulia = AccountRef("instagram", "17841401234567890", "giulia.rossi")
    assert [(i.id, i.actor, i.targets, i.parent_id) for i in got] == [
        ("instagram:17865799348089039", giulia, (business,), "instagram:18012345678901234"),
        ("instagram:17865799348089040", AccountRef("instagram", "17841409876543210", "marco_caffe"), (),
         "instagram:17865799348089039"),
    ]
    assert got[0].timestamp == utc(1732551300)
    [why] = meta.skipped(payload)
    assert "mention" in why and "17987654321098765" in why and "no author" in why


def test_instagram_direct_messages():
    [dm] = meta.map_payload(load("instagram_messaging.json"))
    assert dm.platform == "instagram" and dm.kind is Kind.MESSAGE
    assert dm.targets == (AccountRef("instagram", "17841405822304914"),)


@pytest.mark.parametrize("payload, reason", [
    ("x", "expected a JSON object"),
    ({"object": "user", "entry": []}, "'object' is 'user'"),
    ({"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed", "value": {
        "item": "comment", "verb": "add", "from": {"id": "2"}, "created_time": 1}}]}]}, "missing 'post_id'"),
    ({"object": "page", "entry": [{"id": "1", "messaging": [{"sender": {"id": "2"}, "recipient": {"id": "1"},
                                                              "timestamp": 1, "message": {"text": "hi"}}]}]},
     "missing 'mid'"),
])
def test_meta_malformed_payloads_name_the_problem(payload, reason):
    with pytest.raises(MappingError, match=reason):
        meta.map_payload(payload)


# -- Telegram ---------------------------------------------------------------------------------------

GIULIA_TG = AccountRef("telegram", "user482731945", "giuliarossi")
MARCO_TG = AccountRef("telegram", "user591827364", "Marco")


def test_telegram_updates_group_messages_replies_and_edits():
    got = telegram.map_updates(load("telegram_getupdates.json")["result"])
    assert [(i.id, i.kind, i.actor, i.targets) for i in got] == [
        ("telegram:1789012345:1201", Kind.MESSAGE, GIULIA_TG, ()),
        ("telegram:1789012345:1202", Kind.REPLY, MARCO_TG, (GIULIA_TG,)),
        ("telegram:1789012345:1201", Kind.MESSAGE, GIULIA_TG, ()),  # the edit: same id, new text
    ]  # my_chat_member is not a message
    reply = got[1]
    assert reply.parent_id == "telegram:1789012345:1201" and reply.conversation_id == "telegram:1789012345"
    assert reply.mentions == (AccountRef("telegram", "@giuliarossi", "giuliarossi"),)
    assert got[2].text == "Qualcuno ha già provato il nuovo macinino?"
    assert got[0].timestamp == utc(1732551500)


def test_telegram_text_mention_targets_the_user():
    [it] = telegram.map_updates(load("telegram_update.json"))
    assert it.kind is Kind.MESSAGE and it.targets == (MARCO_TG,) and it.text == "Grazie 🙏 Marco"


@pytest.mark.parametrize("update, reason", [
    ({"message": {}}, "'update_id' must be an integer"),
    ({"update_id": 1, "message": {"message_id": 5, "chat": {"id": 1}, "from": {"id": 2}}}, "bad 'date'"),
    ({"update_id": 1, "message": {"message_id": 5, "date": 1, "from": {"id": 2}}}, "missing 'chat.id'"),
])
def test_telegram_malformed_updates_name_the_problem(update, reason):
    with pytest.raises(MappingError, match=reason):
        telegram.map_update(update)


def test_telegram_own_contact_card_is_a_phone_claim_and_someone_elses_is_not():
    raw = load("telegram_contacts.json")
    [claim] = telegram.map_claims(raw)
    assert claim.account == AccountRef("telegram", "user482731945", "giuliarossi")
    assert (claim.kind, claim.value) == ("phone", "393331234567")
    assert claim.evidence == "shared their own contact card in telegram:482731945:77"
    assert [i.kind for i in telegram.map_updates(raw)] == [Kind.MESSAGE, Kind.MESSAGE]  # still messages
