//! Reading another folder of the configured IMAP account, read-only
//! (EXAMINE, `BODY.PEEK`): nothing in it is flagged or moved. The position
//! is `UIDVALIDITY:UID` of the last message read; a new UIDVALIDITY starts
//! the folder over (the dedup key keeps what is stored from a second row).

use futures::TryStreamExt;

use super::files::{Batch, BATCH_BYTES, BATCH_MESSAGES};
use crate::config::ImapConfig;
use crate::fetch::connect::{connect, tls_config, with_timeout, ImapSession};
use crate::fetch::{uid_set, FetchError};

/// An IMAP folder being imported.
pub struct ImapFolderReader {
    session: ImapSession,
    folder: String,
    uidvalidity: u32,
    /// (UID, size) of the messages not yet read, in UID order.
    pending: std::collections::VecDeque<(u32, u64)>,
    max_message_bytes: u64,
    timeout: std::time::Duration,
}

impl ImapFolderReader {
    /// Connects with the account of `cfg`, examines `folder` and lists the
    /// messages after `position`.
    pub async fn open(cfg: &ImapConfig, folder: &str, position: &str) -> Result<Self, FetchError> {
        let timeout = std::time::Duration::from_secs(cfg.timeout_secs);
        let mut session = connect(cfg, tls_config(cfg)?).await?;
        let selected = with_timeout(timeout, "EXAMINE", session.examine(folder)).await??;
        let uidvalidity = selected.uid_validity.unwrap_or(0);
        let after = match position.split_once(':') {
            Some((v, uid)) if v == uidvalidity.to_string() => uid.parse().unwrap_or(0),
            _ => 0,
        };
        let mut pending = Vec::new();
        if selected.exists > 0 {
            let query = format!("{}:*", after + 1);
            let listed = with_timeout(timeout, "UID FETCH sizes", async {
                let stream = session.uid_fetch(&query, "(UID RFC822.SIZE)").await?;
                stream.try_collect::<Vec<_>>().await
            })
            .await??;
            pending = listed
                .iter()
                .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0) as u64)))
                .filter(|(uid, _)| *uid > after)
                .collect();
            pending.sort_unstable();
        }
        Ok(ImapFolderReader {
            session,
            folder: folder.to_string(),
            uidvalidity,
            pending: pending.into(),
            max_message_bytes: cfg.max_message_bytes,
            timeout,
        })
    }

    /// Messages left to read.
    pub fn remaining(&self) -> u64 {
        self.pending.len() as u64
    }

    /// The next batch, or None when the folder was read through.
    pub async fn next_batch(&mut self) -> Result<Option<Batch>, FetchError> {
        let mut batch = Batch::default();
        let (mut uids, mut bytes) = (Vec::new(), 0);
        while let Some(&(uid, size)) = self.pending.front() {
            if !uids.is_empty()
                && (uids.len() >= BATCH_MESSAGES || bytes + size > BATCH_BYTES as u64)
            {
                break;
            }
            self.pending.pop_front();
            batch.position = format!("{}:{uid}", self.uidvalidity);
            if size > self.max_message_bytes {
                batch.skipped.push(format!(
                    "{} UID {uid}: {size} bytes is over imap.max_message_bytes",
                    self.folder
                ));
                continue;
            }
            bytes += size;
            uids.push(uid);
        }
        if batch.position.is_empty() {
            return Ok(None);
        }
        if !uids.is_empty() {
            let fetched = with_timeout(self.timeout * 4, "UID FETCH bodies", async {
                let stream = self
                    .session
                    .uid_fetch(uid_set(&uids), "(UID BODY.PEEK[])")
                    .await?;
                stream.try_collect::<Vec<_>>().await
            })
            .await??;
            let mut got: Vec<(u32, Vec<u8>)> = fetched
                .iter()
                .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
                .filter(|(uid, _)| uids.contains(uid))
                .collect();
            got.sort_by_key(|(uid, _)| *uid);
            for uid in uids.iter().filter(|u| !got.iter().any(|(g, _)| g == *u)) {
                batch.skipped.push(format!(
                    "{} UID {uid}: the server did not send it",
                    self.folder
                ));
            }
            batch.messages = got.into_iter().map(|(_, raw)| raw).collect();
        }
        while self.session.unsolicited_responses.try_recv().is_ok() {}
        Ok(Some(batch))
    }

    /// Logs out.
    pub async fn close(mut self) {
        let _ = with_timeout(self.timeout, "LOGOUT", self.session.logout()).await;
    }
}
