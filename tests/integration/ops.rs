//! Running it like a service (#12): `/healthz`, `/readyz` and `/metrics`
//! on the real stack, read over HTTP as a process manager and Prometheus
//! would, without a session.

use std::time::Duration;

use supplyline::state::ReplyState;

use crate::app::{donation, unique_id, App};
use crate::common::{append, mail_stack, stack_shared, unique_address, CutProxy};

/// A loopback port nothing listens on at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on `127.0.0.1:port`: the status code and the body (empty
/// status 0 when nothing answers).
pub async fn get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 30 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// The value of the sample `name` (with its labels, as written) in a
/// scrape; 0 when absent.
pub fn sample(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
            rest.split(' ').next()?.parse().ok()
        })
        .unwrap_or(0.0)
}

/// Polls `GET path` until `done(status, body)` or 30 s pass.
async fn poll(port: u16, path: &str, done: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(port, path).await;
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never as expected; last answer {status}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const COUNTERS: &[&str] = &[
    "supplyline_messages_stored_total",
    "supplyline_messages_processed_total",
    "supplyline_replies_total{outcome=\"sent\"}",
    "supplyline_send_duration_seconds_count",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_through_a_backlog_and_readyz_fails_when_imap_is_down() {
    let _up = stack_shared().await;
    let proxy = CutProxy::start(mail_stack().imap_port).await;
    let (metrics, web) = (free_port(), free_port());
    let extra = format!(
        "[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n[web]\nlisten = \"127.0.0.1:{web}\"\n"
    );
    let mut app = App::prepare_via(proxy.port(), &extra).await;
    app.restart().await;

    // Before any work: the process answers, the counters are at zero.
    let (status, body) = poll(metrics, "/healthz", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (_, first) = poll(metrics, "/metrics", |s, _| s == 200).await;
    for name in COUNTERS {
        assert_eq!(sample(&first, name), 0.0, "{name} at start:\n{first}");
    }

    // A backlog of 30 offers, scraped while it drains.
    const N: usize = 30;
    for _ in 0..N {
        let donor = unique_address("metrics-donor");
        let raw = donation(
            &donor,
            &app.donations,
            &unique_id(),
            "We have 500 N95 masks.",
        );
        append(&app.donations, "INBOX", &raw).await;
    }
    let (_, last) = poll(metrics, "/metrics", |status, scrape| {
        assert_eq!(status, 200);
        for name in COUNTERS {
            assert!(
                sample(scrape, name) >= sample(&first, name),
                "{name} went below its start"
            );
        }
        // The sender counts a reply when the server takes it and records
        // it with the next one (or at the end of its session): wait for both.
        sample(scrape, "supplyline_replies_total{outcome=\"sent\"}") >= N as f64
            && sample(scrape, "supplyline_replies_by_state{state=\"sent\"}") >= N as f64
    })
    .await;
    for name in COUNTERS {
        assert_eq!(sample(&last, name), N as f64, "{name}:\n{last}");
    }
    assert_eq!(
        sample(&last, "supplyline_messages_by_state{state=\"processed\"}"),
        N as f64
    );
    assert_eq!(
        sample(&last, "supplyline_replies_by_state{state=\"sent\"}"),
        N as f64
    );
    assert_eq!(
        sample(&last, "supplyline_oldest_waiting_reply_age_seconds"),
        0.0
    );
    assert!(sample(&last, "supplyline_imap_last_pass_timestamp_seconds") > 1.0e9);
    assert!(
        last.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );

    // Ready: the database takes a write, IMAP passes, SMTP answered.
    let (status, body) = get(metrics, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    // The site's listener answers the same routes without a session, and
    // its pages are timed by route.
    assert_eq!(get(web, "/healthz").await.0, 200);
    assert_eq!(get(web, "/readyz").await.0, 200);
    let (status, _) = get(web, "/login").await;
    assert_eq!(status, 200);
    let (_, scrape) = get(web, "/metrics").await;
    let login = "supplyline_web_request_duration_seconds_count{method=\"GET\",route=\"/login\"}";
    assert!(sample(&scrape, login) >= 1.0, "{scrape}");

    // IMAP goes away (the proxy in front of Dovecot closes): not ready,
    // with the reason, while the process still answers.
    drop(proxy);
    let (status, body) = poll(metrics, "/readyz", |s, _| s == 503).await;
    assert_eq!(status, 503);
    assert!(body.contains("IMAP connection failed"), "{body}");
    assert_eq!(get(metrics, "/healthz").await.0, 200);
    let (_, scrape) = get(metrics, "/metrics").await;
    assert!(sample(&scrape, "supplyline_imap_reconnects_total") >= 1.0);
    app.stop().await;
}

/// A donation of about `size` bytes: a short offer and filler text.
fn big_donation(from: &str, to: &str, size: usize) -> Vec<u8> {
    let filler = "We are a small workshop and can bring it ourselves. ".repeat(size / 52);
    let body = format!("We can donate 25 boxes of gloves.\n\n{filler}\n");
    donation(from, to, &unique_id(), &body)
}

/// Bytes of the database's files now (the database, its -wal and -shm).
fn database_bytes(app: &App) -> u64 {
    ["supplyline.db", "supplyline.db-wal", "supplyline.db-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(app.path(f)).ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

/// `serve` as a child process that may write no file past `limit` bytes
/// (RLIMIT_FSIZE, with SIGXFSZ ignored, so a write past it fails with
/// EFBIG as on a full disk: SQLite reports SQLITE_FULL or an I/O error).
/// Its log goes through a pipe (a log file would meet the limit too) to
/// `serve.log`.
fn spawn_with_file_limit(app: &App, limit: u64) -> std::process::Child {
    let script = format!(
        "trap '' XFSZ; exec prlimit --fsize={limit}:unlimited -- \"$0\" --config \"$1\" serve"
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_supplyline")])
        .arg(app.config_path())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sh, prlimit (util-linux) and supplyline");
    let mut pipe = child.stderr.take().unwrap();
    let mut log = std::fs::File::create(app.path("serve.log")).unwrap();
    std::thread::spawn(move || std::io::copy(&mut pipe, &mut log));
    child
}

/// Gives the process `pid` room again: no file size limit.
fn lift_file_limit(pid: u32) {
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--fsize=unlimited:unlimited"])
        .status()
        .unwrap();
    assert!(status.success(), "prlimit --pid {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_makes_serve_wait_not_ready_and_lose_nothing() {
    let _up = stack_shared().await;
    let metrics = free_port();
    let app = App::prepare(&format!("[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n")).await;
    let log = || std::fs::read_to_string(app.path("serve.log")).unwrap_or_default();
    // Room for the first offers, not for the backlog of 40 offers of 40 KB.
    let limit = database_bytes(&app) + 1024 * 1024;
    let mut child = spawn_with_file_limit(&app, limit);
    let (status, _) = poll(metrics, "/readyz", |s, _| s == 200).await;
    assert_eq!(status, 200, "ready before the disk fills");

    let donors: Vec<String> = (0..40).map(|_| unique_address("full-donor")).collect();
    for donor in &donors {
        append(
            &app.donations,
            "INBOX",
            &big_donation(donor, &app.donations, 40_000),
        )
        .await;
    }
    let (_, body) = poll(metrics, "/readyz", |s, b| {
        s == 503 && b.contains("database")
    })
    .await;
    println!("while full: {body}");
    let errors = || {
        log()
            .lines()
            .filter(|l| l.contains("database error;"))
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while errors() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no database error logged:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored_while_full = app.store.list_messages(None, 10_000).await.unwrap().len();
    assert!(stored_while_full < donors.len(), "the limit was met");
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve keeps running:\n{}",
        log()
    );

    // Space returns: the backlog finishes, nothing lost, nobody answered twice.
    lift_file_limit(child.id());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let counts = app.store.reply_counts().await.unwrap();
        let sent = counts
            .iter()
            .find(|(s, _)| *s == ReplyState::Sent)
            .map_or(0, |c| c.1);
        if sent as usize == donors.len() {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "serve exited:\n{}",
            log()
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "replies after 120 s: {counts:?}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.wait_processed(donors.len()).await;
    let (status, body) = poll(metrics, "/readyz", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    assert_eq!(
        app.store.list_messages(None, 10_000).await.unwrap().len(),
        donors.len()
    );
    for donor in &donors {
        let acks = crate::common::fetch_all(donor, "INBOX").await;
        assert_eq!(acks.len(), 1, "{donor}'s acknowledgements");
    }
    let by_stage: Vec<String> = ["supplyline::fetch", "stage=\"process\"", "stage=\"send\""]
        .iter()
        .map(|stage| {
            let n = log()
                .lines()
                .filter(|l| l.contains("database error;") && l.contains(stage))
                .count();
            format!("{stage} {n}")
        })
        .collect();
    println!(
        "stored {stored_while_full} of {} before the limit; database errors logged: {}",
        donors.len(),
        by_stage.join(", ")
    );
    assert!(
        crate::app::terminate(&mut child).success(),
        "serve exits cleanly"
    );
    assert!(!log().contains("a stage stopped"), "{}", log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line_and_name_each_message() {
    let _up = stack_shared().await;
    let app = App::prepare("[log]\nformat = \"json\"\n").await;
    let donors: Vec<String> = (0..3).map(|_| unique_address("json-donor")).collect();
    let mut child = app.spawn_process(&app.path("serve.log"));
    for donor in &donors {
        let raw = donation(
            donor,
            &app.donations,
            &unique_id(),
            "We have 40 isolation gowns.",
        );
        append(&app.donations, "INBOX", &raw).await;
    }
    let out_of_office = format!(
        "From: <{}>\r\nTo: {}\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\
         Message-ID: <{}@away.example>\r\n\r\nI am away until Monday.\r\n",
        unique_address("away"),
        app.donations,
        unique_id()
    );
    append(&app.donations, "INBOX", out_of_office.as_bytes()).await;
    let log = || std::fs::read_to_string(app.path("serve.log")).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while log().matches("reply sent").count() < donors.len() {
        assert!(tokio::time::Instant::now() < deadline, "{}", log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_processed(donors.len() + 1).await;
    assert!(crate::app::terminate(&mut child).success());

    let lines: Vec<serde_json::Value> = log()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let text = |v: &serde_json::Value| v["message"].as_str().unwrap_or("").to_string();
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let about = |what: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| text(l) == what).collect()
    };
    let offers = about("new offer");
    assert_eq!(offers.len(), donors.len(), "{lines:#?}");
    for line in offers {
        assert!(
            line["message_id"].is_u64() && line["offer"].is_u64(),
            "{line}"
        );
    }
    let none = about("no offer");
    assert_eq!(none.len(), 1, "the out-of-office: {lines:#?}");
    assert!(none[0]["message_id"].is_u64(), "{}", none[0]);
    let sent = about("reply sent");
    assert_eq!(sent.len(), donors.len());
    for line in sent {
        assert!(line["reply"].is_u64(), "{line}");
    }
    println!("{} JSON lines", lines.len());
}

/// Whether a tool the test needs must be there: under `scripts/test` (which
/// installs it) and on CI a missing tool fails the test instead of skipping it.
fn tool_required() -> bool {
    std::env::var_os("REQUIRE_TEST_TOOLS").is_some() || std::env::var_os("CI").is_some()
}

#[test]
fn the_systemd_unit_verifies_clean() {
    let tool = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output();
    if tool.is_err() {
        assert!(
            !tool_required(),
            "systemd-analyze is missing: install the Debian package `systemd` (scripts/test does)"
        );
        eprintln!("SKIPPED the_systemd_unit_verifies_clean: systemd-analyze is not installed");
        return;
    }
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/supplyline.service"
    ))
    .unwrap();
    for hardening in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=supplyline",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(hardening), "the unit sets {hardening:?}");
    }
    // verify checks that ExecStart's program exists: point it at this build.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supplyline.service");
    let unit = unit.replace(
        "/usr/local/bin/supplyline",
        env!("CARGO_BIN_EXE_supplyline"),
    );
    std::fs::write(&path, unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{said}"
    );
    // Unknown keys and bad values are warnings with exit status 0.
    assert_eq!(said.trim(), "", "systemd-analyze verify warned");
}

/// `supplyline doctor` on `config`: exit success and what it printed.
fn doctor(app: &App, config: &str) -> (bool, String) {
    let path = app.path("doctor.toml");
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .arg("--config")
        .arg(&path)
        .arg("doctor")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_on_the_stack_and_names_each_broken_part_with_its_fix() {
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let stack = mail_stack();
    let good = std::fs::read_to_string(app.config_path()).unwrap();
    let (ok, said) = doctor(&app, &good);
    println!("{said}");
    assert!(ok, "all pass on the stack:\n{said}");
    for line in [
        "ok    database takes a write",
        "ok    IMAP connects to 127.0.0.1 and logs in as",
        "ok    IMAP mailbox \"INBOX\" opens",
        "ok    IMAP server offers IDLE",
        "ok    SMTP connects to 127.0.0.1:",
    ] {
        assert!(said.contains(line), "{line}:\n{said}");
    }

    let imap_port = format!("port = {}\n", stack.imap_port);
    let smtp_port = format!("port = {}\n", stack.smtp_port);
    let closed = format!("port = {}\n", free_port());
    let smtp_section = "security = \"none\"\nallow_insecure = true\ntimeout_secs = 10\n";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "wrong IMAP password",
            good.replace(
                &format!("password = \"{}\"", stack.password),
                "password = \"wrong\"",
            ),
            "FAIL  IMAP connects",
            "check imap.password",
        ),
        (
            "wrong IMAP port",
            good.replacen(&imap_port, &closed, 1),
            "FAIL  IMAP connects",
            "check imap.host and imap.port",
        ),
        (
            "IMAP TLS with an untrusted certificate",
            good.replacen(
                &format!("{imap_port}security = \"none\"\nallow_insecure = true\n"),
                &format!(
                    "port = {}\nsecurity = \"tls\"\nca_file = \"{}\"\n",
                    stack.imaps_port,
                    stack.wrong_ca_file.display()
                ),
                1,
            ),
            "FAIL  IMAP connects",
            "set imap.ca_file",
        ),
        (
            "a mailbox that does not exist",
            good.replace("mailbox = \"INBOX\"", "mailbox = \"Donations/Nope\""),
            "FAIL  IMAP mailbox \"Donations/Nope\" opens",
            "check imap.mailbox",
        ),
        (
            "wrong SMTP port",
            good.replacen(&smtp_port, &closed, 1),
            "FAIL  SMTP connects",
            "check smtp.host and smtp.port",
        ),
        (
            "STARTTLS asked of a port that does not offer it",
            good.replacen(
                smtp_section,
                &format!(
                    "security = \"starttls\"\nca_file = \"{}\"\ntimeout_secs = 10\n",
                    stack.ca_file.display()
                ),
                1,
            ),
            "FAIL  SMTP server offers STARTTLS",
            "use the submission port 587",
        ),
        (
            "AUTH asked of a server that offers none",
            good.replacen(
                smtp_section,
                &format!("{smtp_section}username = \"desk\"\npassword = \"secret\"\n"),
                1,
            ),
            "FAIL  SMTP AUTH with smtp.username",
            "check smtp.username and smtp.password",
        ),
    ];
    for (what, config, failed, fix) in cases {
        assert_ne!(config, good, "{what}: the config was changed");
        let (ok, said) = doctor(&app, &config);
        println!("--- {what}\n{said}");
        assert!(!ok, "{what}: doctor exits non-zero:\n{said}");
        let line = said
            .lines()
            .find(|l| l.starts_with(failed))
            .unwrap_or_else(|| panic!("{what}: no {failed:?} line:\n{said}"));
        assert!(line.contains(fix), "{what}: the fix {fix:?}:\n{line}");
        let fails = said.lines().filter(|l| l.starts_with("FAIL")).count();
        assert_eq!(fails, 1, "{what}: only the broken part fails:\n{said}");
        assert!(said.contains("1 check(s) failed"), "{said}");
    }
}
