//! Passwords never reach logs or error output.

use std::time::Duration;

use crate::common::{mail_stack, stack_shared, unique_address};

const IMAP_SECRET: &str = "imap-Secret-7f3e9a-password";
const SMTP_SECRET: &str = "smtp-Secret-b41c2d-password";

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
            "[database]\nurl = \"sqlite://{db}\"\n\n[imap]\nhost = \"127.0.0.1\"\nport = {imap}\nsecurity = \"none\"\n\
             allow_insecure = true\nusername = \"{user}\"\ntimeout_secs = 5\n\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\nallow_insecure = true\n\
             username = \"desk\"\npassword_file = \"{secret}\"\n",
            db = dir.path().join("db.sqlite").display(),
            imap = stack.imap_port,
            smtp = stack.smtp_port,
            user = unique_address("donations"),
            secret = secret_file.display(),
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_supplyline");
    // The wrong IMAP password comes from the environment, as operators set it.
    let mut child = std::process::Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("SUPPLYLINE_IMAP_PASSWORD", IMAP_SECRET)
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let output = child.wait_with_output().unwrap();
    let mut log = String::from_utf8_lossy(&output.stdout).to_string();
    log.push_str(&String::from_utf8_lossy(&output.stderr));
    assert!(
        log.contains("IMAP login failed"),
        "the failure is logged:\n{log}"
    );
    for secret in [IMAP_SECRET, SMTP_SECRET] {
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
