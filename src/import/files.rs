//! Reading messages from files: an mbox file, a Maildir, a folder of .eml
//! files. Each reader hands out batches with the position after them, so
//! an import resumes there; bad input is named and skipped.
//!
//! mbox is read as RFC 4155 describes it: a message starts at a line
//! beginning `From ` at the start of the file or after an empty line; the
//! empty line before it belongs to neither message; `>From ` lines (mboxrd
//! quoting) lose one `>`. A file that ends inside a message (no final line
//! end) is truncated: that message is skipped. Written here rather than
//! taken from a crate: the mbox crates on crates.io (`mbox-reader` 0.2,
//! 2018, on the unmaintained `memmap`; `mailbox` 0.2) give no byte offsets
//! to resume from and do not unquote mboxrd.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One batch read from a source.
#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<Vec<u8>>,
    /// Bad inputs met in this batch, each named with why.
    pub skipped: Vec<String>,
    /// Where the next batch starts (stored with this one).
    pub position: String,
}

/// Why a source cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {what}")]
    Unreadable {
        path: String,
        what: String,
        #[source]
        source: Option<std::io::Error>,
    },
}

impl SourceError {
    fn io(path: &Path, what: &str, e: std::io::Error) -> SourceError {
        SourceError::Unreadable {
            path: path.display().to_string(),
            what: what.to_string(),
            source: Some(e),
        }
    }

    fn bad(path: &Path, what: impl Into<String>) -> SourceError {
        SourceError::Unreadable {
            path: path.display().to_string(),
            what: what.into(),
            source: None,
        }
    }
}

/// Messages and bytes per batch.
pub const BATCH_MESSAGES: usize = 200;
pub const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// True when `raw` starts like an email: a header line `Name: value`.
pub fn looks_like_message(raw: &[u8]) -> bool {
    let first = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    match first.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => first[..colon].iter().all(|&b| (33..=126).contains(&b)),
        _ => false,
    }
}

/// An mbox file, read from a byte offset.
pub struct MboxReader {
    path: PathBuf,
    file: BufReader<File>,
    /// Offset of the next byte to read.
    offset: u64,
    /// The message being read: its number (1-based), where its `From ` line starts, its bytes.
    current: Option<(u64, u64, Vec<u8>)>,
    /// Messages begun so far (numbers the ones named when skipped).
    count: u64,
    previous_blank: bool,
    at_end: bool,
}

impl MboxReader {
    /// Opens `path` at `offset` (0, or a position an earlier batch gave).
    pub fn open(path: &Path, offset: u64, done_before: u64) -> Result<MboxReader, SourceError> {
        let mut file = File::open(path).map_err(|e| SourceError::io(path, "cannot open", e))?;
        let mut head = [0u8; 5];
        let n = std::io::Read::read(&mut file, &mut head)
            .map_err(|e| SourceError::io(path, "cannot read", e))?;
        if n > 0 && head[..n] != b"From "[..n] {
            return Err(SourceError::bad(
                path,
                "not an mbox file: it does not start with a \"From \" line",
            ));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| SourceError::io(path, "cannot seek", e))?;
        Ok(MboxReader {
            path: path.to_path_buf(),
            file: BufReader::with_capacity(1 << 20, file),
            offset,
            current: None,
            count: done_before,
            previous_blank: true,
            at_end: false,
        })
    }

    /// How many messages the file holds from its start (a quick scan).
    pub fn count_messages(path: &Path) -> Result<u64, SourceError> {
        let file = File::open(path).map_err(|e| SourceError::io(path, "cannot open", e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let (mut count, mut blank, mut line) = (0, true, Vec::new());
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| SourceError::io(path, "cannot read", e))?;
            if n == 0 {
                return Ok(count);
            }
            if blank && line.starts_with(b"From ") {
                count += 1;
            }
            blank = line == b"\n" || line == b"\r\n";
        }
    }

    /// The next batch, or None at the end of the file.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, SourceError> {
        if self.at_end {
            return Ok(None);
        }
        let mut batch = Batch::default();
        let mut bytes = 0;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = self
                .file
                .read_until(b'\n', &mut line)
                .map_err(|e| SourceError::io(&self.path, "cannot read", e))?;
            let start = self.offset;
            self.offset += n as u64;
            if n == 0 {
                self.at_end = true;
                if let Some((number, at, raw)) = self.current.take() {
                    self.finish(number, at, raw, true, &mut batch);
                }
                batch.position = self.offset.to_string();
                return Ok(Some(batch));
            }
            let starts_message = self.previous_blank && line.starts_with(b"From ");
            self.previous_blank = line == b"\n" || line == b"\r\n";
            if !starts_message {
                if let Some((_, _, raw)) = &mut self.current {
                    raw.extend_from_slice(unquote(&line));
                }
                continue;
            }
            if let Some((number, at, raw)) = self.current.take() {
                bytes += raw.len();
                self.finish(number, at, raw, false, &mut batch);
            }
            self.count += 1;
            self.current = Some((self.count, start, Vec::new()));
            if batch.messages.len() + batch.skipped.len() >= BATCH_MESSAGES || bytes >= BATCH_BYTES
            {
                // This message starts the next batch.
                batch.position = start.to_string();
                return Ok(Some(batch));
            }
        }
    }

    /// Ends one message: into the batch, or skipped and named.
    fn finish(&self, number: u64, at: u64, mut raw: Vec<u8>, last: bool, batch: &mut Batch) {
        let name = format!("{}: message {number} (at byte {at})", self.path.display());
        if last && !raw.ends_with(b"\n") {
            batch
                .skipped
                .push(format!("{name}: the file ends inside it (truncated)"));
            return;
        }
        // The empty line before the next `From ` belongs to neither message.
        if raw.ends_with(b"\n\n") {
            raw.pop();
        } else if raw.ends_with(b"\r\n\r\n") {
            raw.truncate(raw.len() - 2);
        }
        if !looks_like_message(&raw) {
            batch
                .skipped
                .push(format!("{name}: not an email (no header line)"));
            return;
        }
        batch.messages.push(raw);
    }
}

/// mboxrd: a body line `>From `, `>>From `… loses one `>`.
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

/// A folder of message files (a Maildir's `cur` and `new`, or `.eml`
/// files), read in name order from after the last name done.
pub struct FolderReader {
    root: PathBuf,
    /// Paths relative to `root`, sorted, not yet read.
    files: std::vec::IntoIter<String>,
}

impl FolderReader {
    /// Every message file of a Maildir (`cur/`, `new/`; `tmp/` holds
    /// deliveries in progress) after `after`.
    pub fn maildir(root: &Path, after: &str) -> Result<FolderReader, SourceError> {
        let mut files = Vec::new();
        for sub in ["cur", "new"] {
            for name in list(&root.join(sub))? {
                files.push(format!("{sub}/{name}"));
            }
        }
        Ok(Self::from_files(root, files, after))
    }

    /// Every `.eml` file of `root` after `after`.
    pub fn eml(root: &Path, after: &str) -> Result<FolderReader, SourceError> {
        let files: Vec<String> = list(root)?
            .into_iter()
            .filter(|n| n.to_ascii_lowercase().ends_with(".eml"))
            .collect();
        if files.is_empty() && after.is_empty() {
            return Err(SourceError::bad(
                root,
                "no .eml files in this folder, and it is not a Maildir (no cur/ and new/)",
            ));
        }
        Ok(Self::from_files(root, files, after))
    }

    fn from_files(root: &Path, mut files: Vec<String>, after: &str) -> FolderReader {
        files.sort();
        files.retain(|f| f.as_str() > after);
        FolderReader {
            root: root.to_path_buf(),
            files: files.into_iter(),
        }
    }

    /// Files left to read.
    pub fn remaining(&self) -> u64 {
        self.files.len() as u64
    }

    /// The next batch, or None when every file was read.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, SourceError> {
        let mut batch = Batch::default();
        let mut bytes = 0;
        for name in self.files.by_ref() {
            let path = self.root.join(&name);
            match std::fs::read(&path) {
                Ok(raw) if looks_like_message(&raw) => {
                    bytes += raw.len();
                    batch.messages.push(raw);
                }
                Ok(_) => batch
                    .skipped
                    .push(format!("{}: not an email (no header line)", path.display())),
                Err(e) => batch
                    .skipped
                    .push(format!("{}: cannot read: {e}", path.display())),
            }
            batch.position = name;
            if batch.messages.len() + batch.skipped.len() >= BATCH_MESSAGES || bytes >= BATCH_BYTES
            {
                break;
            }
        }
        Ok((!batch.position.is_empty()).then_some(batch))
    }
}

/// The names of the plain files in `dir`.
fn list(dir: &Path) -> Result<Vec<String>, SourceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SourceError::io(dir, "cannot list", e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| SourceError::io(dir, "cannot list", e))?;
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mbox(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("m.mbox");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn read_all(reader: &mut MboxReader) -> (Vec<String>, Vec<String>, String) {
        let (mut messages, mut skipped, mut position) = (Vec::new(), Vec::new(), String::new());
        while let Some(b) = reader.next_batch().unwrap() {
            messages.extend(
                b.messages
                    .into_iter()
                    .map(|m| String::from_utf8(m).unwrap()),
            );
            skipped.extend(b.skipped);
            position = b.position;
        }
        (messages, skipped, position)
    }

    #[test]
    fn mbox_messages_are_split_unquoted_and_a_truncated_last_one_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let text = "From a@x Mon Mar 23 09:00:00 2020\nSubject: one\n\n>From the start\nFrom here, not a new one\n\n\
                    From b@x Mon Mar 23 09:00:00 2020\nSubject: two\n\nbody\n\n\
                    From c@x Mon Mar 23 09:00:00 2020\nSubject: three\n\ncut off in the mid";
        let path = mbox(dir.path(), text);
        assert_eq!(MboxReader::count_messages(&path).unwrap(), 3);
        let (messages, skipped, position) = read_all(&mut MboxReader::open(&path, 0, 0).unwrap());
        assert_eq!(
            messages,
            vec![
                "Subject: one\n\nFrom the start\nFrom here, not a new one\n",
                "Subject: two\n\nbody\n"
            ]
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("message 3 (at byte"), "{skipped:?}");
        assert!(skipped[0].contains("truncated"), "{skipped:?}");
        assert_eq!(position, text.len().to_string());
    }

    #[test]
    fn an_mbox_resumes_at_the_position_of_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for i in 0..450 {
            text.push_str(&format!(
                "From x Mon Mar 23 09:00:00 2020\nMessage-ID: <{i}@x>\n\nbody {i}\n\n"
            ));
        }
        let path = mbox(dir.path(), &text);
        let mut reader = MboxReader::open(&path, 0, 0).unwrap();
        let first = reader.next_batch().unwrap().unwrap();
        assert_eq!(first.messages.len(), BATCH_MESSAGES);
        let at: u64 = first.position.parse().unwrap();
        let (rest, _, _) = read_all(&mut MboxReader::open(&path, at, 200).unwrap());
        assert_eq!(rest.len(), 250);
        assert!(rest[0].starts_with("Message-ID: <200@x>"), "{}", rest[0]);
    }

    #[test]
    fn a_file_that_is_not_an_mbox_is_refused_and_a_broken_eml_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = mbox(dir.path(), "Subject: x\n\nbody\n");
        assert!(MboxReader::open(&path, 0, 0).is_err());
        std::fs::write(dir.path().join("a.eml"), "Subject: a\n\nbody\n").unwrap();
        std::fs::write(dir.path().join("b.eml"), "\u{0}\u{1} garbage").unwrap();
        let mut reader = FolderReader::eml(dir.path(), "").unwrap();
        let batch = reader.next_batch().unwrap().unwrap();
        assert_eq!(batch.messages.len(), 1);
        assert!(
            batch.skipped[0].contains("b.eml: not an email"),
            "{:?}",
            batch.skipped
        );
        assert_eq!(batch.position, "b.eml");
        assert!(FolderReader::eml(dir.path(), "b.eml")
            .unwrap()
            .next_batch()
            .unwrap()
            .is_none());
    }
}
