//! One PostgreSQL server per test process, for the store's PostgreSQL tests.
//!
//! The first call to [`postgres()`] runs `scripts/pg-stack start DIR --watch
//! <this pid>` (about 2 s); the server stops and DIR goes once this process
//! exits. Give each test its own database with [`fresh_database`].
//!
//! [`postgres_ssl()`] is a second server, started the same way with `--ssl`:
//! TLS on, its certificate (localhost, 127.0.0.1) signed by a throw-away CA.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use sqlx::{Connection, Executor, PgConnection};

use super::scripts::{start_stack, start_stack_with};

/// The running server. Authentication is `trust`, user `postgres`.
#[derive(Debug, Clone)]
pub struct PgStack {
    pub dir: PathBuf,
    pub port: u16,
    /// URL of the database `supplyline`, e.g. `postgres://postgres@127.0.0.1:PORT/supplyline`.
    pub database_url: String,
    /// `--ssl` only: the CA that signed the server's certificate, and one
    /// that did not.
    pub ca_file: Option<PathBuf>,
    pub wrong_ca_file: Option<PathBuf>,
}

static STACK: OnceLock<PgStack> = OnceLock::new();
static SSL_STACK: OnceLock<PgStack> = OnceLock::new();

/// The PostgreSQL server of this test process, started on first use.
pub fn postgres() -> &'static PgStack {
    STACK.get_or_init(|| {
        let env = start_stack("pg-stack", "supplyline-pg");
        PgStack {
            dir: PathBuf::from(env.get("PG_STACK_DIR")),
            port: env.port("PG_PORT"),
            database_url: env.get("DATABASE_URL"),
            ca_file: None,
            wrong_ca_file: None,
        }
    })
}

/// The PostgreSQL server with TLS of this test process, started on first use.
pub fn postgres_ssl() -> &'static PgStack {
    SSL_STACK.get_or_init(|| {
        let env = start_stack_with("pg-stack", "supplyline-pgssl", &["--ssl"]);
        PgStack {
            dir: PathBuf::from(env.get("PG_STACK_DIR")),
            port: env.port("PG_PORT"),
            database_url: env.get("DATABASE_URL"),
            ca_file: Some(PathBuf::from(env.get("PG_CA_FILE"))),
            wrong_ca_file: Some(PathBuf::from(env.get("PG_WRONG_CA_FILE"))),
        }
    })
}

impl PgStack {
    /// The URL of database `name` on this server.
    pub fn url_for(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

/// Create an empty database named `PREFIX_<random>` and return its URL.
pub async fn fresh_database(prefix: &str) -> String {
    fresh_database_on(postgres(), prefix).await
}

/// [`fresh_database`] on `stack`.
pub async fn fresh_database_on(stack: &PgStack, prefix: &str) -> String {
    let random: u64 = rand::random();
    let name = format!(
        "{}_{random:016x}",
        prefix.to_ascii_lowercase().replace('-', "_")
    );
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name {name:?}: use letters, digits, - and _"
    );
    let mut conn = PgConnection::connect(&stack.database_url)
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", stack.database_url));
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    conn.close().await.ok();
    stack.url_for(&name)
}
