//! Passwords and session tokens never reach logs, error output or pages.

use std::time::Duration;

use crate::app::{eventually, terminate};
use crate::common::{mail_stack, stack_shared, unique_address};

const IMAP_SECRET: &str = "imap-Secret-7f3e9a-password";
const SMTP_SECRET: &str = "smtp-Secret-b41c2d-password";
/// On PostgreSQL, the database URL carries this password (the test server
/// trusts local connections, so it is never checked, but it must not leak).
const DB_SECRET: &str = "db-Secret-e2a7c5-password";

/// A fresh database's URL (SQLite, or PostgreSQL with
/// `TEST_DATABASE=postgres`), with [`DB_SECRET`] as its password on PostgreSQL.
async fn database_url(dir: &std::path::Path) -> String {
    let url = crate::app::test_database_url(dir).await;
    match url.strip_prefix("postgres://postgres@") {
        Some(rest) => format!("postgres://postgres:{DB_SECRET}@{rest}"),
        None => url,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_login_logs_the_failure_but_never_the_password() {
    let _up = stack_shared().await;
    let stack = mail_stack();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("smtp.password");
    std::fs::write(&secret_file, format!("{SMTP_SECRET}\n")).unwrap();
    let config = dir.path().join("supplyline.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{db}\"\n\n[imap]\nhost = \"127.0.0.1\"\nport = {imap}\nsecurity = \"none\"\n\
             allow_insecure = true\nusername = \"{user}\"\ntimeout_secs = 5\n\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\nallow_insecure = true\n\
             username = \"desk\"\npassword_file = \"{secret}\"\n",
            db = database_url(dir.path()).await,
            imap = stack.imap_port,
            smtp = stack.smtp_port,
            user = unique_address("donations"),
            secret = secret_file.display(),
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_supplyline");
    // The wrong IMAP password comes from the environment, as operators set it.
    let log_path = dir.path().join("serve.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("SUPPLYLINE_IMAP_PASSWORD", IMAP_SECRET)
        .env("RUST_LOG", "trace")
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    eventually(
        Duration::from_secs(30),
        "the failed login in the log",
        || async { read_log().contains("IMAP login failed") },
    )
    .await;
    assert!(terminate(&mut child).success(), "serve stops on SIGTERM");
    let log = read_log();
    assert!(
        log.contains("IMAP login failed"),
        "the failure is logged:\n{log}"
    );
    for secret in [IMAP_SECRET, SMTP_SECRET, DB_SECRET] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }

    // check-config on a broken file names the problem, not the secret.
    std::fs::write(
        &config,
        format!("[imap]\nhost = \"x\"\nusername = \"u\"\npassword = \"{IMAP_SECRET}\"\nhots = 1\n"),
    )
    .unwrap();
    let out = std::process::Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("hots"), "{text}");
    assert!(!text.contains(IMAP_SECRET), "{text}");
}

const STAFF_PASSWORD: &str = "staff-Secret-5c1d88-passphrase";
const WRONG_PASSWORD: &str = "wrong-Secret-90ab4e-passphrase";

/// One HTTP/1.1 request to the triage site; returns the status line, the
/// `name=value` of every cookie set, and the body.
async fn http(port: u16, request: String) -> (String, Vec<String>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.lines().next().unwrap_or_default().to_string();
    let cookies = text
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, cookies, body)
}

fn get(port: u16, path: &str, cookie: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n")
}

fn post(port: u16, path: &str, cookie: &str, form: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{form}",
        form.len()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_passwords_and_session_tokens_stay_out_of_logs_and_pages() {
    let _up = stack_shared().await;
    let stack = mail_stack();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("supplyline.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{db}\"\n\n[imap]\nhost = \"127.0.0.1\"\nport = {imap}\n\
             security = \"none\"\nallow_insecure = true\nusername = \"{user}\"\npassword = \"{password}\"\n\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\nallow_insecure = true\n\n\
             [web]\nlisten = \"127.0.0.1:{port}\"\n",
            db = database_url(dir.path()).await,
            imap = stack.imap_port,
            smtp = stack.smtp_port,
            user = unique_address("donations"),
            password = stack.password,
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_supplyline");
    let mut add = std::process::Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "users", "add"])
        .args(["staff@city.example", "--role", "admin"])
        .env("RUST_LOG", "trace")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().unwrap();
        writeln!(stdin, "{STAFF_PASSWORD}").unwrap();
    }
    let added = add.wait_with_output().unwrap();
    assert!(added.status.success(), "{added:?}");
    let mut output = String::from_utf8_lossy(&added.stdout).to_string();
    output.push_str(&String::from_utf8_lossy(&added.stderr));

    let mut serve = std::process::Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(20), "the site to come up", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;

    let (_, cookies, page) = http(port, get(port, "/login", "")).await;
    let login_cookie = cookies[0].clone();
    let csrf = login_cookie.split_once('=').unwrap().1.to_string();
    let mut pages = vec![page];
    let form =
        |password: &str| format!("email=staff%40city.example&password={password}&csrf={csrf}");
    let (status, _, page) = http(
        port,
        post(port, "/login", &login_cookie, &form(WRONG_PASSWORD)),
    )
    .await;
    assert!(page.contains("Wrong email or password"), "{status}");
    pages.push(page);
    let (status, cookies, page) = http(
        port,
        post(port, "/login", &login_cookie, &form(STAFF_PASSWORD)),
    )
    .await;
    assert!(status.contains("303"), "logged in: {status}");
    let session = cookies
        .iter()
        .find(|c| c.starts_with("sl_session="))
        .expect("a session cookie")
        .clone();
    let session_token = session.split_once('=').unwrap().1.to_string();
    pages.push(page);
    for path in [
        "/",
        "/offers/999999",
        "/messages/not-a-number",
        "/no-such-page",
    ] {
        let (status, _, page) = http(port, get(port, path, &session)).await;
        assert!(!status.is_empty(), "{path} answered");
        pages.push(page);
    }

    std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    let _ = serve.wait();
    let served = serve.wait_with_output().unwrap();
    output.push_str(&String::from_utf8_lossy(&served.stdout));
    output.push_str(&String::from_utf8_lossy(&served.stderr));
    assert!(
        output.contains("staff@city.example"),
        "the log names who logged in:\n{output}"
    );
    for secret in [
        STAFF_PASSWORD,
        WRONG_PASSWORD,
        &session_token,
        &csrf,
        &stack.password,
        DB_SECRET,
    ] {
        assert!(!output.contains(secret), "{secret} leaked into the log");
    }
    for page in &pages {
        for secret in [STAFF_PASSWORD, WRONG_PASSWORD, &session_token] {
            assert!(!page.contains(secret), "{secret} in a page:\n{page}");
        }
    }
}
