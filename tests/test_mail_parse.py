"""One message's bytes as a Mail: Marathi and English, HTML, hostile names and sizes,
replies and forwarded threads. No server needed: parse_message takes the bytes."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from sheets_sync.mail.files import MAX_NAME_BYTES, safe_name
from sheets_sync.mail.htmltext import html_to_text
from sheets_sync.mail.parse import parse_message
from sheets_sync.mail.settings import ImapSettings
from sheets_sync.timeutil import IST

RECEIVED = datetime(2026, 11, 20, 4, 45, tzinfo=UTC)  # 10:15 IST


def settings(tmp_path: Path, **more) -> ImapSettings:
    values = dict(host="127.0.0.1", port=993, security="tls", user="cell", password="pw",
                  authserv="mail.mahapalika.example", attachments_dir=tmp_path / "attachments")
    values.update(more)
    return ImapSettings(**values)


def message(subject="Material for publication", text="Please publish.", sender=None, **headers):
    m = EmailMessage()
    m["From"] = sender or "आरोग्य विभाग <Health@Mahapalika.Example>"
    m["To"] = "Social Media Cell <Cell@Mahapalika.example>, other@mahapalika.example"
    m["Subject"] = subject
    m["Message-ID"] = make_msgid(domain="mahapalika.example")
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    if text is not None:
        m.set_content(text)
    return m


def parse(m, tmp_path, uid=7, **more):
    raw = m if isinstance(m, bytes) else m.as_bytes()
    return parse_message(raw, settings(tmp_path, **more), uidvalidity=1700, uid=uid, received=RECEIVED)


def test_a_marathi_request_read_as_plain_facts(tmp_path):
    m = message("लसीकरण मोहीम: प्रसिद्धीसाठी माहिती 🙏", "नमस्कार,\nदि. ५ डिसेंबर २०२६ रोजी प्रसिद्ध करावे.\n",
                Cc="Head <HOD.Health@mahapalika.example>")
    mail = parse(m, tmp_path)
    assert mail.sender == "health@mahapalika.example"
    assert mail.sender_name == "आरोग्य विभाग"
    assert mail.to == ("cell@mahapalika.example", "other@mahapalika.example")
    assert mail.cc == ("hod.health@mahapalika.example",)
    # RFC 2047 on the wire, exact text in the Mail.
    assert b"=?utf-8?" in m.as_bytes()
    assert mail.subject == "लसीकरण मोहीम: प्रसिद्धीसाठी माहिती 🙏"
    assert mail.text == "नमस्कार,\nदि. ५ डिसेंबर २०२६ रोजी प्रसिद्ध करावे.\n"
    assert mail.message_id == m["Message-ID"]
    assert mail.received == RECEIVED and mail.received.tzinfo == IST
    assert mail.planned_date == date(2026, 12, 5)
    assert (mail.folder, mail.uidvalidity, mail.uid, mail.key) == ("INBOX", 1700, 7, "INBOX/1700/7")
    assert mail.attachments == () and mail.notes == ()


def test_attachments_are_saved_under_their_place_in_the_mailbox_and_never_opened(tmp_path):
    m = message()
    pdf = b"%PDF-1.4\n" + os.urandom(2000)
    jpg = b"\xff\xd8\xff\xe0" + os.urandom(3000)
    m.add_attachment(pdf, maintype="application", subtype="pdf", filename="योजना माहिती.pdf")
    m.add_attachment(jpg, maintype="image", subtype="jpeg", filename="photo.jpg")
    m.add_attachment(b"root:x:0:0", maintype="text", subtype="plain", filename="../../etc/passwd")
    m.add_attachment(b"PK\x03\x04", maintype="application", subtype="vnd.ms-excel",
                     filename="=cmd|' /C calc'!A0.xlsx")
    m.add_attachment(b"#!/bin/sh\nrm -rf /\n", maintype="application", subtype="x-sh",
                     filename="\u202egpj.sh")  # right-to-left override: shows as "hs.jpg"
    mail = parse(m, tmp_path)
    names = [a.name for a in mail.attachments]
    assert names == ["योजना माहिती.pdf", "photo.jpg", "passwd", "C calc'!A0.xlsx", "gpj.sh"]
    folder = tmp_path / "attachments"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"1700-7-{n}-{name}" for n, name in enumerate(names, 1))
    assert (folder / "1700-7-1-योजना माहिती.pdf").read_bytes() == pdf
    assert (folder / "1700-7-2-photo.jpg").read_bytes() == jpg
    assert [a.size for a in mail.attachments] == [len(pdf), len(jpg), 10, 4, 19]
    assert mail.attachments[0].content_type == "application/pdf"
    assert all(a.saved_to == f"1700-7-{n}-{a.name}" for n, a in enumerate(mail.attachments, 1))
    # Nothing escaped the folder, nothing is executable.
    assert not (tmp_path / "etc").exists()
    for path in folder.iterdir():
        assert os.stat(path).st_mode & 0o111 == 0
    # A text file attached is an attachment, not the body.
    assert mail.text == "Please publish.\n"


def test_reading_the_same_message_again_overwrites_the_same_files(tmp_path):
    m = message()
    m.add_attachment(b"first", maintype="application", subtype="pdf", filename="note.pdf")
    first = parse(m, tmp_path)
    again = parse(m, tmp_path)
    assert first == again
    assert [p.name for p in (tmp_path / "attachments").iterdir()] == ["1700-7-1-note.pdf"]


def test_an_attachment_over_the_cap_is_listed_not_saved(tmp_path):
    m = message()
    m.add_attachment(b"x" * 3_000_000, maintype="video", subtype="mp4", filename="ride.mp4")
    m.add_attachment(b"small", maintype="application", subtype="pdf", filename="note.pdf")
    mail = parse(m, tmp_path, max_attachment_bytes=2 * 1024 * 1024)
    big, small = mail.attachments
    assert (big.name, big.size, big.saved_to) == ("ride.mp4", 3_000_000, "")
    assert big.skipped == "larger than 2 MB (2.9 MB): not saved; ask the sender for a link"
    assert small.saved_to == "1700-7-2-note.pdf" and not small.skipped
    assert [p.name for p in (tmp_path / "attachments").iterdir()] == ["1700-7-2-note.pdf"]


def test_html_only_mail_becomes_text_without_its_scripts_or_hidden_words(tmp_path):
    m = message(text=None)
    m.set_content(
        "<html><head><title>t</title><style>p{color:red}</style>"
        "<script>alert('x')</script></head><body>"
        "<p>नमस्कार,</p><p>Please publish the <b>water</b> notice on 5 Dec 2026.</p>"
        "<div style='display:none'>APPROVE CR-9999</div><span hidden>secret</span>"
        "<p>&amp;lt;script&amp;gt; stays text, &lt;b&gt; too</p>"
        "<ul><li>one</li><li>two</li></ul>"
        "<a href='https://drive.example/draft'>draft</a>"
        "<img src='https://tracker.example/pixel.gif'>"
        "<p onclick=\"evil()\">=HYPERLINK(\"http://x\")</p>"
        "</body></html>", subtype="html")
    mail = parse(m, tmp_path)
    assert mail.text == (
        "नमस्कार,\n\nPlease publish the water notice on 5 Dec 2026.\n\n"
        "&lt;script&gt; stays text, <b> too\n\n• one\n• two\n\n"
        "draft (https://drive.example/draft)\n\n=HYPERLINK(\"http://x\")")
    assert "alert" not in mail.text and "CR-9999" not in mail.text and "secret" not in mail.text
    assert mail.codes == ()
    assert mail.planned_date == date(2026, 12, 5)


def test_plain_text_is_preferred_and_inline_images_count_as_attachments(tmp_path):
    m = message(text="The plain words.")
    m.add_alternative("<p>The <i>HTML</i> words.<img src='cid:logo'></p>", subtype="html")
    html = m.get_payload()[1]
    html.add_related(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", cid="<logo>")
    mail = parse(m, tmp_path)
    assert mail.text == "The plain words.\n"
    [image] = mail.attachments
    assert image.content_type == "image/png" and image.name == "attachment-1.png"
    assert image.saved_to == "1700-7-1-attachment-1.png"


def test_an_empty_plain_twin_gives_way_to_the_html(tmp_path):
    m = message(text="\n")
    m.add_alternative("<p>The real words, publish on 5 Dec 2026.</p>", subtype="html")
    mail = parse(m, tmp_path)
    assert mail.text == "The real words, publish on 5 Dec 2026." and mail.attachments == ()


def test_a_reply_keeps_the_quote_but_only_the_senders_words_count(tmp_path):
    text = ("मंजूर.\n\n"
            "On Mon, 30 Nov 2026 at 10:00, Social Media Cell <cell@mahapalika.example> wrote:\n"
            "> Please approve CR-0042, to be published on 28/11/2026.\n")
    m = message("Re: Approval needed: CR-0042", text, In_Reply_To="<req-42@mahapalika.example>",
                References="<a@x> <req-42@mahapalika.example>")
    mail = parse(m, tmp_path)
    assert mail.text == text
    assert mail.own_text == "मंजूर."
    assert mail.codes == ("CR-0042",)
    assert mail.planned_date is None  # the date is in the quote
    assert mail.in_reply_to == "<req-42@mahapalika.example>"
    assert mail.references == ("<a@x>", "<req-42@mahapalika.example>")


def test_a_forwarded_message_is_kept_as_text_with_its_attachments(tmp_path):
    inner = message("Press note: new ward office", "Opening on 10 January 2027.\n",
                    sender="PRO <pro@mahapalika.example>")
    inner.add_attachment(b"%PDF inner", maintype="application", subtype="pdf", filename="press.pdf")
    outer = message("Fwd: Press note", "Please publish on 8 Jan 2027.\n")
    outer.add_attachment(inner)  # message/rfc822
    mail = parse(outer, tmp_path)
    assert "Please publish on 8 Jan 2027." in mail.text
    assert "---------- Forwarded message ---------\nFrom: PRO <pro@mahapalika.example>" in mail.text
    assert "Subject: Press note: new ward office" in mail.text
    assert "Opening on 10 January 2027." in mail.text
    assert mail.own_text == "Please publish on 8 Jan 2027."
    assert mail.planned_date == date(2027, 1, 8)
    assert [a.name for a in mail.attachments] == ["press.pdf"]


def test_a_message_without_message_id_gets_a_stable_one(tmp_path):
    m = message()
    del m["Message-ID"]
    first, again = parse(m, tmp_path, uid=1), parse(m, tmp_path, uid=99)
    assert first.message_id == again.message_id
    assert first.message_id.startswith("<") and first.message_id.endswith("@sheets-sync.invalid>")
    other = message("Another subject")
    del other["Message-ID"]
    assert parse(other, tmp_path).message_id != first.message_id


def test_broken_mail_is_read_as_far_as_it_goes(tmp_path):
    raw = (b"From: =?x-unknown?B?AAAA?= <a@b.example>\r\n"
           b"Subject: =?utf-8?B?4KSo4KSu4KS44KWN4KSV4KS+4KSw?=\r\n"
           b"Content-Type: text/plain; charset=x-klingon\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n"
           b"bm90IHJlYWxseSBrbGluZ29u\r\n")
    mail = parse(raw, tmp_path)
    assert mail.subject == "नमस्कार"
    assert mail.sender == "a@b.example"
    assert mail.text == "not really klingon"


def test_nesting_bombs_stop_at_a_depth(tmp_path):
    raw = b"From: a@b.example\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, 30):
        raw += f"--b{i-1}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n".encode()
    raw += b"--b29\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n"
    mail = parse(raw, tmp_path)
    assert mail.sender == "a@b.example"
    assert any("nested deeper" in n for n in mail.notes)


def test_a_message_too_big_to_download_says_so(tmp_path):
    m = message(text="Big video attached.")
    m.add_attachment(b"v" * 1000, maintype="video", subtype="mp4", filename="big.mp4")
    raw = m.as_bytes()[:-200]  # only the beginning was fetched
    mail = parse_message(raw, settings(tmp_path), uidvalidity=1, uid=2, received=RECEIVED,
                         complete=False, size=300 * 1024 * 1024)
    assert mail.text.startswith("Big video attached.")
    [video] = mail.attachments
    assert video.saved_to == "" and "not downloaded: the message is 300 MB" in video.skipped
    assert "only its beginning was read" in mail.notes[0]
    assert not (tmp_path / "attachments").exists()


def test_two_senders_in_from_are_never_authenticated(tmp_path):
    m = message(sender="head@mahapalika.example, attacker@evil.example",
                Authentication_Results="mail.mahapalika.example; dkim=pass header.d=mahapalika.example")
    mail = parse(m, tmp_path)
    assert not mail.authenticated and "more than one sender" in mail.auth_reason


def test_authenticated_by_our_server(tmp_path):
    m = message(Authentication_Results="mail.mahapalika.example; dkim=pass header.d=mahapalika.example")
    assert parse(m, tmp_path).authenticated


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
    (".bashrc", "bashrc"),
    ("...", "attachment-3.pdf"),
    ("", "attachment-3.pdf"),
    ("a\x00b\x1fc\x7f.pdf", "abc.pdf"),
    ("report<1>:2?.pdf", "report_1__2_.pdf"),
    ("  spaced   name .pdf  ", "spaced name .pdf"),
    ("-rf.pdf", "rf.pdf"),
    ("र्‍या योजना.pdf", "र्‍या योजना.pdf"),  # the zero-width joiner shapes the letters: kept
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
])
def test_safe_names(name, expected):
    assert safe_name(name, "application/pdf", 3) == expected


def test_long_names_are_cut_on_a_letter_keeping_the_extension():
    name = safe_name("पाणीपुरवठा" * 40 + ".pdf", "application/pdf", 1)
    assert name.endswith(".pdf") and len(name.encode()) <= MAX_NAME_BYTES
    assert name.startswith("पाणीपुरवठा")
    name.encode("utf-8").decode("utf-8")  # whole letters


def test_html_entities_are_decoded_once():
    assert html_to_text("&amp;amp; &#60;i&#62; &lt;script&gt;alert(1)&lt;/script&gt;") == \
        "&amp; <i> <script>alert(1)</script>"
    assert html_to_text("<scr<script>ipt>x</script>") == "ipt>x"


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                max_size=80)


@given(_TEXT, _TEXT)
@settings_hypothesis(max_examples=60, deadline=None)
def test_any_subject_and_text_come_back_exactly(subject, text):
    import tempfile

    subject = " ".join(subject.split())  # a subject is one line, as people read it
    body = text.replace("\r", "") + "\n"
    m = message(subject or "x", body)
    with tempfile.TemporaryDirectory() as folder:
        mail = parse(m, Path(folder))
    assert mail.subject == (subject or "x")
    assert mail.text == (body if body.strip() else "")  # a blank body is no text


@given(st.text(max_size=300), st.sampled_from(["application/pdf", "image/jpeg", ""]))
def test_any_name_becomes_a_safe_one(name, kind):
    safe = safe_name(name, kind, 1)
    assert safe and len(safe.encode("utf-8")) <= MAX_NAME_BYTES
    assert "/" not in safe and "\\" not in safe and not safe.startswith((".", "-", " "))
    assert all(ord(ch) >= 32 and ch != "\x7f" for ch in safe)
    assert not any(ch in safe for ch in "\u202e\u202d\u2066\u2067\ufeff")
    assert safe_name(safe, kind, 1) == safe  # cleaning twice changes nothing


@given(st.text(max_size=200), st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=40))
def test_no_html_shows_what_a_script_holds(before, secret):
    secret = "SECRET" + secret
    text = html_to_text(f"{before}<script>{secret}</script><style>{secret}</style>")
    # Whatever came before (even broken markup), the script's and the style's words never show,
    # unless the text before already held them or left a tag open that swallowed the script tag.
    assert secret not in text or secret in html_to_text(before) or "<" in before
