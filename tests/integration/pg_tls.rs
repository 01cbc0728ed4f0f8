//! TLS to PostgreSQL (#13), on a real server with TLS on
//! (`scripts/pg-stack --ssl`): `verify-full` with the CA that signed the
//! server's certificate works, a wrong CA or a host name the certificate
//! does not hold is refused naming what to check, and `require` encrypts
//! without verifying, which `check-config` warns about.

use std::path::Path;
use std::process::Output;

use sqlx::{Connection, PgConnection};
use supplyline::store::{Store, StoreError};

use crate::app::cli;
use crate::common::{fresh_database_on, postgres, postgres_ssl};

/// A database of its own on the TLS server, as `postgres://postgres@HOST:PORT/NAME`.
async fn database(host: &str) -> String {
    let url = fresh_database_on(postgres_ssl(), "tls").await;
    url.replace("@127.0.0.1:", &format!("@{host}:"))
}

/// A config file in `dir` with `[database]` lines `database`.
fn config(dir: &Path, database: &str) -> std::path::PathBuf {
    let path = dir.join("supplyline.toml");
    let text = format!(
        "[donations]\naddress = \"donations@city.example\"\n\n[outbox]\nwrite_to_dir = \"{}\"\n\n[database]\n{database}\n",
        dir.join("outbox").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The error of opening `url`, which must fail on TLS.
async fn tls_error(url: &str) -> String {
    match Store::open(url).await {
        Ok(_) => panic!("{url} must be refused"),
        Err(e @ StoreError::Tls { .. }) => e.to_string(),
        Err(e) => panic!("{url}: expected a TLS error, got {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_servers_ca_opens_the_store_and_serves_commands() {
    let stack = postgres_ssl();
    let ca = stack.ca_file.as_ref().unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let url = database(host).await;
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &format!("url = \"{url}\"\nca_file = \"{}\"", ca.display()),
        );
        let out = cli(&config, &["offers", "list"]);
        assert!(out.status.success(), "{host}: {}", text(&out));
        let out = cli(&config, &["check-config"]);
        assert!(out.status.success(), "{}", text(&out));
        let line = format!(
            "PostgreSQL TLS: verify-full (certificate signed by the system roots and {}",
            ca.display()
        );
        assert!(text(&out).contains(&line), "{}", text(&out));
        assert!(
            !text(&out).contains("warning: PostgreSQL"),
            "{}",
            text(&out)
        );

        // The same as a URL alone, and the session is encrypted.
        let full = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
        let store = Store::open(&full)
            .await
            .expect("verify-full with the right CA");
        store.close().await;
        let mut conn = PgConnection::connect(&full).await.unwrap();
        let ssl: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert!(ssl, "the connection to {host} is TLS");
        conn.close().await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_not_signed_by_the_configured_ca_is_refused_naming_the_ca() {
    let stack = postgres_ssl();
    let wrong = stack.wrong_ca_file.as_ref().unwrap();
    let url = database("localhost").await;
    let err = tls_error(&format!(
        "{url}?sslmode=verify-full&sslrootcert={}",
        wrong.display()
    ))
    .await;
    assert!(
        err.contains("not signed by a CA this client trusts"),
        "{err}"
    );
    assert!(err.contains(&wrong.display().to_string()), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");

    // As libpq does, `require` with a CA file verifies against it.
    let err = tls_error(&format!(
        "{url}?sslmode=require&sslrootcert={}",
        wrong.display()
    ))
    .await;
    assert!(
        err.contains("not signed by a CA this client trusts"),
        "{err}"
    );

    // The command line says it the same way, and fails.
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!("url = \"{url}\"\nca_file = \"{}\"", wrong.display()),
    );
    let out = cli(&config, &["offers", "list"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not signed by a CA this client trusts"),
        "{}",
        text(&out)
    );

    // A CA file that is not there is named before any connection.
    let missing = dir.path().join("missing-ca.pem");
    let err = tls_error(&format!(
        "{url}?sslmode=verify-full&sslrootcert={}",
        missing.display()
    ))
    .await;
    assert!(err.contains("cannot read the PostgreSQL CA file"), "{err}");
    assert!(err.contains("missing-ca.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_host_name_the_certificate_does_not_hold() {
    let stack = postgres_ssl();
    let ca = stack.ca_file.as_ref().unwrap();
    // 127.0.0.2 reaches the server through a forwarder; its certificate
    // names localhost and 127.0.0.1 only.
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = stack.port;
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                    .await
                    .unwrap();
                tokio::io::copy_bidirectional(&mut client, &mut server)
                    .await
                    .ok();
            });
        }
    });
    let url = database("127.0.0.1").await.replace(
        &format!("@127.0.0.1:{upstream}/"),
        &format!("@127.0.0.2:{port}/"),
    );
    let err = tls_error(&format!(
        "{url}?sslmode=verify-full&sslrootcert={}",
        ca.display()
    ))
    .await;
    assert!(err.contains("does not name 127.0.0.2"), "{err}");
    // libpq's verify-ca would accept this; sqlx 0.8.6's does not (rustls
    // 0.23.46 reports the name as NotValidForNameContext, which sqlx does
    // not excuse), so verify-ca is as strict as verify-full here. Stricter
    // than documented upstream, and what README says: should a later sqlx
    // accept it, change README's database section with this assertion.
    let err = tls_error(&format!(
        "{url}?sslmode=verify-ca&sslrootcert={}",
        ca.display()
    ))
    .await;
    assert!(err.contains("does not name 127.0.0.2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_without_a_ca_encrypts_and_check_config_warns_it_is_unverified() {
    let url = database("localhost").await;
    let require = format!("{url}?sslmode=require");
    let store = Store::open(&require).await.expect("require connects");
    store.close().await;
    let mut conn = PgConnection::connect(&require).await.unwrap();
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(ssl, "require encrypts");
    conn.close().await.ok();

    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &format!("url = \"{require}\""));
    let out = cli(&config, &["check-config"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("warning: PostgreSQL TLS: require encrypts but does not check"),
        "{}",
        text(&out)
    );
    // database.ca_file with a mode that would ignore it is a config error.
    let config = self::config(
        dir.path(),
        &format!("url = \"{require}\"\nca_file = \"/nonexistent/ca.pem\""),
    );
    let out = cli(&config, &["check-config"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("sslmode=require"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_against_a_server_without_tls_says_to_turn_it_on() {
    let plain = postgres();
    let ca = postgres_ssl().ca_file.clone().unwrap();
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        plain.database_url,
        ca.display()
    );
    let err = tls_error(&url).await;
    assert!(err.contains("offers no TLS"), "{err}");
    assert!(err.contains("ssl = on"), "{err}");
}
