//! Data files only their owner can read: the database (with its `-wal` and
//! `-shm`) and the outbox folder hold donors' mail, password hashes and
//! session tokens, so they are created 0600 (files) and 0700 (folders)
//! whatever the umask, and `serve` warns at start about any that another
//! local user can read ([`warn_about_open_modes`]).
//!
//! Owns: creating those paths and checking their modes. Does not own what
//! goes into them (`store`, `outbox`).

use std::io;
use std::path::{Path, PathBuf};

use crate::config::Config;

/// Mode bits that let someone other than the owner in.
const OTHERS: u32 = 0o077;

/// Creates `path` empty with mode 0600 unless it exists. SQLite gives the
/// `-wal` and `-shm` files it makes later the mode of the database file.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates the folder `path` (and missing parents) with mode 0700; an
/// existing folder keeps its mode.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// The database file a `sqlite://` URL names; `None` for in-memory
/// databases and other URLs.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    use std::str::FromStr;
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    Some(options.get_filename().to_path_buf())
}

/// The data files of `config`: the database, its `-wal` and `-shm`, the
/// outbox folder and the OAuth2 refresh token.
pub fn data_paths(config: &Config) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(db) = sqlite_file(&config.database.url) {
        for suffix in ["-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            paths.push(PathBuf::from(name));
        }
        paths.insert(0, db);
    }
    paths.extend(config.outbox.write_to_dir.clone());
    paths.extend(
        config
            .oauth2
            .as_ref()
            .and_then(|o| o.refresh_token_file.clone()),
    );
    paths
}

/// Each of `paths` that exists and that others than its owner may open,
/// with its mode.
pub fn open_to_others(paths: &[PathBuf]) -> Vec<(PathBuf, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        paths
            .iter()
            .filter_map(|p| {
                let mode = std::fs::metadata(p).ok()?.permissions().mode() & 0o777;
                (mode & OTHERS != 0).then(|| (p.clone(), mode))
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = (paths, OTHERS);
        Vec::new()
    }
}

/// Logs a warning naming every data file of `config` that others than its
/// owner may open (made before supplyline created them private, or changed
/// since).
pub fn warn_about_open_modes(config: &Config) {
    for (path, mode) in open_to_others(&data_paths(config)) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:04o}"),
            "a data file is readable by other local users; `chmod go-rwx` it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn the_database_and_its_wal_and_shm_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("supplyline.db");
        let url = format!("sqlite://{}", db.display());
        let store = crate::store::Store::open(&url).await.unwrap();
        store
            .store_local("INBOX", b"Message-ID: <m@x>\r\n\r\nbody\r\n")
            .await
            .unwrap();
        let mut config = Config::default();
        config.database.url = url;
        let paths = data_paths(&config);
        assert_eq!(paths.len(), 3);
        for path in &paths {
            assert_eq!(mode(path), 0o600, "{}", path.display());
        }
        assert!(open_to_others(&paths).is_empty());
        store.close().await;
    }

    #[tokio::test]
    async fn the_demo_keeps_its_database_and_replies_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let demo = dir.path().join("demo");
        crate::demo::run(&demo).await.unwrap();
        assert_eq!(mode(&demo), 0o700);
        let outbox = demo.join("outbox");
        assert!(
            std::fs::read_dir(&outbox).unwrap().count() > 0,
            "replies written"
        );
        assert_eq!(mode(&outbox), 0o700);
        assert_eq!(mode(&demo.join("supplyline.db")), 0o600);
    }

    #[test]
    fn private_dirs_are_owner_only_and_open_modes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("a/outbox");
        create_private_dir(&outbox).unwrap();
        assert_eq!(mode(&outbox), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let open = dir.path().join("open.db");
        std::fs::write(&open, "x").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let found = open_to_others(&[outbox, open.clone(), dir.path().join("missing")]);
        assert_eq!(found, vec![(open, 0o644)]);
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/s.db"),
            Some(PathBuf::from("/var/lib/s.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x/y"), None);
    }
}
