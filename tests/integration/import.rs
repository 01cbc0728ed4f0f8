//! `supplyline import` (#12): an mbox of 5,000 messages (killed, then
//! interrupted, then resumed), a Maildir, a folder of .eml files with a
//! broken one, and another IMAP folder of the account: every message
//! stored once (also against live intake), processed, never answered; bad
//! input named and skipped.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use futures::TryStreamExt;
use supplyline::state::{MessageState, ReplyState};

use crate::app::{donation, eventually, unique_id, App};
use crate::common::imap::{login, Security};
use crate::common::{append, create_mailbox, stack_shared, unique_address};

/// An App whose claims last 3 s (an import killed while processing leaves
/// its claims that long).
async fn app() -> App {
    let app = App::prepare("").await;
    let text = std::fs::read_to_string(app.config_path()).unwrap();
    let text = text.replacen("[database]\n", "[database]\nlease_secs = 3\n", 1);
    std::fs::write(app.config_path(), text).unwrap();
    app
}

fn import_command(app: &App, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_supplyline"));
    command
        .arg("--config")
        .arg(app.config_path())
        .arg("import")
        .args(args)
        .stdin(Stdio::null());
    command
}

/// Runs `supplyline import ARGS` to its end; stdout and stderr together.
fn import(app: &App, args: &[&str]) -> (Output, String) {
    let out = import_command(app, args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// A donation as an mbox entry (LF line ends), from donor `i`.
fn mbox_entry(i: usize, to: &str) -> String {
    let body = if i == 7 {
        // A body line that mboxrd quotes: it must come back unquoted.
        "We can donate 30 gowns.\n\nFrom the warehouse we can also send gloves.\n".to_string()
    } else {
        format!("We can donate {} N95 masks.\n", 100 + i)
    };
    let quoted = body.replace("\nFrom ", "\n>From ");
    format!(
        "From donor{i}@old.example Mon Mar 23 09:00:00 2020\n{}\n",
        mbox_message(i, to, &quoted)
    )
}

fn mbox_message(i: usize, to: &str, body: &str) -> String {
    format!(
        "From: Donor {i} <donor{i}@old.example>\nTo: {to}\nSubject: Donation offer {i}\n\
         Date: Mon, 23 Mar 2020 09:00:00 -0700\nMessage-ID: <import-{i}@old.example>\n\
         Content-Type: text/plain; charset=utf-8\n\n{body}"
    )
}

/// One number from the database (0 when the table is not there yet).
async fn count(app: &App, sql: &str) -> i64 {
    crate::app::db_number(&app.db_url, sql).await.unwrap_or(0)
}

/// Waits until `check` holds or the child exits; true when it held.
async fn until_or_exit(child: &mut std::process::Child, check: impl AsyncFn() -> bool) -> bool {
    for _ in 0..1200 {
        if check().await {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the import neither progressed nor ended in 30 s");
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every message of the store is processed, there is an offer for each,
/// and no reply at all.
async fn assert_processed_unanswered(app: &App, n: usize) {
    assert_eq!(
        app.store.message_counts().await.unwrap(),
        vec![(MessageState::Processed, n as i64)]
    );
    assert_eq!(app.store.list_offers(None, 10_000).await.unwrap().len(), n);
    assert_eq!(app.store.reply_counts().await.unwrap(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5000_message_mbox_survives_a_kill_and_ctrl_c_and_is_stored_once_unanswered() {
    const MESSAGES: usize = 5000;
    let _up = stack_shared().await;
    let mut app = app().await;
    let mbox = app.path("old.mbox");
    let mut text: String = (1..=MESSAGES)
        .map(|i| mbox_entry(i, &app.donations))
        .collect();
    // The last message is cut off in its body.
    text.push_str("From donor5001@old.example Mon Mar 23 09:00:00 2020\n");
    text.push_str(&mbox_message(5001, &app.donations, "We can donate 4"));
    std::fs::write(&mbox, &text).unwrap();
    let path = mbox.to_str().unwrap();

    // Killed once it has stored something.
    let log = std::fs::File::create(app.path("import-1.log")).unwrap();
    let mut child = import_command(&app, &[path]).stderr(log).spawn().unwrap();
    let progressed = until_or_exit(&mut child, async || {
        count(&app, "SELECT stored FROM imports").await > 0
    })
    .await;
    assert!(
        progressed,
        "the first import stored something before it ended"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let stored = count(&app, "SELECT stored FROM imports").await;
    let processed = count(
        &app,
        "SELECT COUNT(*) FROM messages WHERE state = 'processed'",
    )
    .await;
    println!("killed after {stored} stored, {processed} processed");
    // Its claims run out (lease_secs = 3) before the next run needs them.
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Stopped with Ctrl-C once it has resumed.
    let log = std::fs::File::create(app.path("import-2.log")).unwrap();
    let mut child = import_command(&app, &[path])
        .stderr(log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let log_has = |what: &'static str| {
        let file = app.path("import-2.log");
        async move {
            std::fs::read_to_string(&file)
                .unwrap_or_default()
                .contains(what)
        }
    };
    assert!(until_or_exit(&mut child, || log_has("resuming the import")).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "interrupted is not success: {said}");
    assert!(
        said.contains("interrupted: run the same command again to resume"),
        "{said}"
    );

    // Run to its end.
    let (out, said) = import(&app, &[path]);
    assert!(out.status.success(), "{said}");
    println!("{said}");
    // Not a terminal: plain progress lines (count, rate, ETA), no bar.
    assert!(said.contains("imported 5001 of 5001 messages ("), "{said}");
    assert!(said.contains("processed "), "{said}");
    let skipped = "message 5001 (at byte";
    let logs =
        [1, 2].map(|n| std::fs::read_to_string(app.path(&format!("import-{n}.log"))).unwrap());
    assert!(
        said.contains(skipped) || logs.iter().any(|l| l.contains(skipped)),
        "the truncated message is named: {said}"
    );
    assert!(said.contains("truncated") || logs.iter().any(|l| l.contains("truncated")));
    assert_eq!(
        count(&app, "SELECT stored FROM imports").await,
        MESSAGES as i64
    );
    assert_eq!(count(&app, "SELECT skipped FROM imports").await, 1);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM messages").await,
        MESSAGES as i64
    );
    let unanswerable = "SELECT COUNT(*) FROM messages WHERE no_reply_reason IS NOT NULL";
    assert_eq!(count(&app, unanswerable).await, MESSAGES as i64);
    assert_processed_unanswered(&app, MESSAGES).await;
    let seventh = app.store.list_messages(None, 10_000).await.unwrap();
    let seventh = seventh
        .iter()
        .find(|m| m.subject.as_deref() == Some("Donation offer 7"));
    let raw = app.store.message_raw(seventh.unwrap().id).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        raw.contains("\nFrom the warehouse") && !raw.contains(">From"),
        "{raw}"
    );

    // Again: nothing new. Then live intake meets the same messages.
    let (out, said) = import(&app, &[path]);
    assert!(out.status.success() && said.contains("0 stored"), "{said}");
    for i in [1, 2, 3] {
        let raw = mbox_message(
            i,
            &app.donations,
            &format!("We can donate {} N95 masks.\n", 100 + i),
        );
        append(
            &app.donations,
            "INBOX",
            raw.replace('\n', "\r\n").as_bytes(),
        )
        .await;
    }
    let donor = app.donate("We can donate 12 boxes of gloves.").await;
    app.restart().await;
    app.wait_processed(MESSAGES + 1).await;
    eventually(Duration::from_secs(30), "the new donor's reply", || async {
        app.store.reply_counts().await.unwrap() == vec![(ReplyState::Sent, 1)]
    })
    .await;
    app.stop().await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM messages").await,
        MESSAGES as i64 + 1
    );
    assert_eq!(app.replies_to(&donor).await.len(), 1);
}

fn write_messages(dir: &Path, names: &[String], to: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for name in names {
        let body = format!("We can donate 20 face shields ({name}).\n");
        let raw = mbox_message(0, to, &body).replace("import-0", &unique_id());
        std::fs::write(dir.join(name), raw).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maildir_and_an_eml_folder_are_imported_and_a_broken_file_is_named_and_skipped() {
    let app = app().await;
    let maildir = app.path("Maildir");
    let names = |prefix: &str, n: usize| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}.host:2,S")).collect()
    };
    write_messages(&maildir.join("cur"), &names("17000000", 6), &app.donations);
    write_messages(&maildir.join("new"), &names("17000001", 4), &app.donations);
    write_messages(&maildir.join("tmp"), &names("17000002", 1), &app.donations);
    let (out, said) = import(&app, &[maildir.to_str().unwrap()]);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("10 stored, 0 already stored, 0 skipped, 10 processed"),
        "{said}"
    );
    assert_processed_unanswered(&app, 10).await;
    // In base units, as serve's offers, though no serve ever ran here.
    let offer = app.store.list_offers(None, 1).await.unwrap()[0].id;
    let lines = app.store.items_full(offer).await.unwrap();
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.base_quantity.is_some()),
        "{lines:?}"
    );

    let eml = app.path("eml");
    let names: Vec<String> = (0..10).map(|i| format!("offer-{i:02}.eml")).collect();
    write_messages(&eml, &names, &app.donations);
    std::fs::write(
        eml.join("offer-05b.eml"),
        "\u{0}PK\u{3}\u{4} this is a zip, not an email",
    )
    .unwrap();
    std::fs::write(eml.join("notes.txt"), "not a message, not an .eml").unwrap();
    let (out, said) = import(&app, &[eml.to_str().unwrap()]);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("10 stored, 0 already stored, 1 skipped, 10 processed"),
        "{said}"
    );
    assert!(
        said.contains("offer-05b.eml: not an email"),
        "the broken file is named: {said}"
    );
    assert_processed_unanswered(&app, 20).await;
    let (_, said) = import(&app, &[eml.to_str().unwrap()]);
    assert!(said.contains("0 stored"), "done already: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_imap_folder_is_imported_read_only_and_never_answered() {
    let _up = stack_shared().await;
    let mut app = app().await;
    create_mailbox(&app.donations, "Archive").await;
    let donors: Vec<String> = (0..30).map(|_| unique_address("donor")).collect();
    let raws: Vec<Vec<u8>> = donors
        .iter()
        .map(|d| donation(d, &app.donations, &unique_id(), "We can donate 50 gowns."))
        .collect();
    for raw in &raws {
        append(&app.donations, "Archive", raw).await;
    }
    let (out, said) = import(&app, &["--imap-folder", "INBOX"]);
    assert!(!out.status.success(), "the live mailbox is refused: {said}");
    assert!(
        said.contains("--imap-folder INBOX is imap.mailbox"),
        "{said}"
    );
    let (out, said) = import(&app, &["--imap-folder", "Archive"]);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("30 stored, 0 already stored, 0 skipped, 30 processed"),
        "{said}"
    );
    assert_processed_unanswered(&app, 30).await;
    // Read-only: nothing in the folder was flagged seen.
    let mut session = login(&app.donations, Security::Plain).await;
    session.examine("Archive").await.unwrap();
    let flagged = session
        .uid_fetch("1:*", "(UID FLAGS)")
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .iter()
        .filter(|f| f.flags().any(|flag| flag == async_imap::types::Flag::Seen))
        .count();
    assert_eq!(flagged, 0);
    let _ = session.logout().await;

    // The same message arriving live later is the same row, not answered.
    append(&app.donations, "INBOX", &raws[0]).await;
    app.donate("We can donate 12 boxes of gloves.").await;
    app.restart().await;
    app.wait_processed(31).await;
    eventually(Duration::from_secs(30), "the new donor's reply", || async {
        app.store.reply_counts().await.unwrap() == vec![(ReplyState::Sent, 1)]
    })
    .await;
    app.stop().await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages").await, 31);
    assert!(app.replies_to(&donors[0]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_import_draws_a_progress_bar() {
    let app = app().await;
    let eml = app.path("eml");
    let names: Vec<String> = (0..3).map(|i| format!("{i}.eml")).collect();
    write_messages(&eml, &names, &app.donations);
    // `script` (util-linux) runs the import on a pseudo-terminal.
    let command = format!(
        "{} --config {} import {}",
        env!("CARGO_BIN_EXE_supplyline"),
        app.config_path().display(),
        eml.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("util-linux script");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("imported [") && said.contains("3/3 messages"),
        "a bar: {said}"
    );
    assert!(
        !said.contains("imported 3 of 3 messages"),
        "no plain lines: {said}"
    );
    assert_processed_unanswered(&app, 3).await;
}
