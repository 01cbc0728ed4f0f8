#!/usr/bin/env python3
"""The peers of the surge benchmark (benches/surge.rs), standard library only.

  surge_script.py script IMAP_PORT SMTP_PORT USER PASSWORD DB
      The afternoon script of issue #17: read the mailbox one message at a
      time (imaplib), pick items out with re, record the offer in SQLite and
      commit, answer with smtplib, commit again, flag the message \\Seen.

  surge_script.py bare SMTP_PORT FROM COUNT PREFIX DOMAIN
      The ceiling: COUNT small messages to PREFIX-0@DOMAIN ... sent one after
      another on one SMTP connection (a new one when the server ends the
      session), nothing else.

Both speak plain SMTP and IMAP on 127.0.0.1, as the test stack does.
"""

import email
import email.message
import email.policy
import email.utils
import imaplib
import re
import smtplib
import sqlite3
import sys

HOST = "127.0.0.1"
ITEM = re.compile(r"(\d[\d,]*)\s+(n95 masks?|isolation gowns?|gloves|face shields?)", re.I)


class Sender:
    """One SMTP session, reopened when the server says it has had enough."""

    def __init__(self, port):
        self.port = port
        self.smtp = None

    def send(self, msg):
        for _ in range(3):
            if self.smtp is None:
                self.smtp = smtplib.SMTP(HOST, self.port)
            try:
                self.smtp.send_message(msg)
                return
            except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused, smtplib.SMTPServerDisconnected):
                # 452 "too many messages" and friends: a new session.
                try:
                    self.smtp.quit()
                except Exception:
                    pass
                self.smtp = None
        raise RuntimeError("could not send")

    def close(self):
        if self.smtp is not None:
            self.smtp.quit()


def script(imap_port, smtp_port, user, password, db_path):
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE IF NOT EXISTS offers (uid INTEGER PRIMARY KEY, donor TEXT, items TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS replies (uid INTEGER PRIMARY KEY, sent INTEGER)")
    db.commit()
    imap = imaplib.IMAP4(HOST, int(imap_port))
    imap.login(user, password)
    imap.select("INBOX")
    sender = Sender(int(smtp_port))
    _, data = imap.uid("SEARCH", None, "UNSEEN")
    for uid in data[0].split():
        _, parts = imap.uid("FETCH", uid, "(RFC822)")
        msg = email.message_from_bytes(parts[0][1], policy=email.policy.default)
        donor = email.utils.parseaddr(msg["From"])[1]
        body = msg.get_body(preferencelist=("plain",)).get_content()
        items = "; ".join(f"{n} {what}" for n, what in ITEM.findall(body))
        db.execute("INSERT OR REPLACE INTO offers VALUES (?, ?, ?)", (int(uid), donor, items))
        db.commit()
        reply = email.message.EmailMessage()
        reply["From"] = user
        reply["To"] = donor
        reply["Subject"] = "Re: " + (msg["Subject"] or "your offer")
        reply["Message-ID"] = email.utils.make_msgid()
        reply["In-Reply-To"] = msg["Message-ID"] or ""
        reply.set_content(f"Thank you. We understood: {items or 'no items'}.\n")
        sender.send(reply)
        db.execute("INSERT OR REPLACE INTO replies VALUES (?, 1)", (int(uid),))
        db.commit()
        imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    sender.close()
    imap.logout()


def bare(smtp_port, sender_address, count, prefix, domain):
    sender = Sender(int(smtp_port))
    for i in range(int(count)):
        msg = email.message.EmailMessage()
        msg["From"] = sender_address
        msg["To"] = f"{prefix}-{i}@{domain}"
        msg["Subject"] = "Re: Donation"
        msg["Message-ID"] = email.utils.make_msgid()
        msg.set_content("Thank you. We understood: 2,000 N95 masks; 40 isolation gowns.\n")
        sender.send(msg)
    sender.close()


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"script": script, "bare": bare}[mode](*args)
