//! IMAP over TLS: the test CA is trusted when configured, anything else refused.

use std::sync::Arc;

use supplyline::config::Config;
use supplyline::fetch::Fetcher;
use supplyline::store::Store;
use tokio::sync::Notify;

use crate::common::{mail_stack, stack_shared, unique_address};

async fn fetcher(ca_file: &std::path::Path) -> Fetcher {
    fetcher_with(ca_file, "tls", mail_stack().imaps_port).await
}

async fn fetcher_with(ca_file: &std::path::Path, security: &str, port: u16) -> Fetcher {
    let stack = mail_stack();
    let user = unique_address("tls");
    let text = format!(
        "[imap]\nhost = \"localhost\"\nport = {port}\nsecurity = \"{security}\"\nca_file = \"{}\"\nusername = \"{user}\"\npassword = \"{}\"\ntimeout_secs = 10\n",
        ca_file.display(),
        stack.password
    );
    let config =
        Config::from_str_with_env(&text, std::path::Path::new("tls.toml"), std::iter::empty())
            .unwrap();
    let store = Store::open("sqlite::memory:").await.unwrap();
    Fetcher::new(store, config.imap.unwrap(), Arc::new(Notify::new())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaps_with_the_test_ca_logs_in() {
    let _up = stack_shared().await;
    let f = fetcher(&mail_stack().ca_file).await;
    let mut session = f.connect().await.expect("TLS login with the right CA");
    session.logout().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaps_with_a_wrong_ca_is_refused_clearly() {
    let _up = stack_shared().await;
    let f = fetcher(&mail_stack().wrong_ca_file).await;
    let err = match f.connect().await {
        Ok(_) => panic!("a wrong CA must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("TLS handshake with localhost failed"), "{err}");
    assert!(
        err.contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_the_test_ca_logs_in_and_a_wrong_ca_is_refused() {
    let _up = stack_shared().await;
    let stack = mail_stack();
    let good = fetcher_with(&stack.ca_file, "starttls", stack.imap_port).await;
    let mut session = good
        .connect()
        .await
        .expect("STARTTLS login with the right CA");
    session.logout().await.unwrap();
    let bad = fetcher_with(&stack.wrong_ca_file, "starttls", stack.imap_port).await;
    match bad.connect().await {
        Ok(_) => panic!("a wrong CA must be refused after STARTTLS"),
        Err(e) => assert!(
            e.to_string()
                .contains("TLS handshake with localhost failed"),
            "{e}"
        ),
    }
}
