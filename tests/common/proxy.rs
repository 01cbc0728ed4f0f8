//! A TCP proxy on loopback that cuts IMAP connections on purpose.
//!
//! [`CutProxy::start`] listens on `127.0.0.1:0` and forwards every
//! connection, byte for byte, to a port on loopback (Dovecot's plaintext
//! IMAP port). It can cut every live connection at once ([`CutProxy::cut_all`]),
//! or cut the next connections in the middle of a literal
//! ([`CutProxy::cut_next_in_literal`]): it follows the server's output, knows
//! when a `{N}` literal (a message body in a FETCH answer) is being
//! transferred, and closes both sides once a given number of literal bytes
//! have passed, while the literal is still unfinished. Each cut is recorded
//! ([`CutProxy::cuts`]) with where it landed, so a test can show the cut
//! really was inside a literal.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where one cut landed in the server's output to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The connection cut, counted from 1 in the order they were accepted.
    pub connection: usize,
    /// Server→client bytes forwarded on that connection before the cut.
    pub server_bytes: u64,
    /// How long the literal being transferred was, when the cut was inside one.
    pub literal_len: Option<u64>,
    /// How many of its bytes the client had received.
    pub literal_done: u64,
}

impl Cut {
    /// True when the client had part, but not all, of a literal.
    pub fn inside_literal(&self) -> bool {
        self.literal_len
            .is_some_and(|len| self.literal_done > 0 && self.literal_done < len)
    }
}

/// The proxy; stops accepting when dropped (live connections are cut then too).
pub struct CutProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    /// For each next connection: cut it after this many literal bytes (None: never).
    plan: Mutex<VecDeque<Option<u64>>>,
    /// A token per live connection, by number; cancelling it cuts the connection.
    live: Mutex<HashMap<usize, CancellationToken>>,
    accepted: Mutex<usize>,
    cuts: Mutex<Vec<Cut>>,
}

impl CutProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream_port`.
    pub async fn start(upstream_port: u16) -> CutProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("proxy: bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let acceptor = tokio::spawn(accept_loop(listener, upstream_port, shared.clone()));
        CutProxy {
            port,
            shared,
            acceptor,
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cut the next `offsets.len()` connections, the i-th once `offsets[i]`
    /// literal bytes have reached its client, at a point inside a literal.
    /// Connections after those are left alone.
    pub fn cut_next_in_literal(&self, offsets: &[u64]) {
        let mut plan = self.shared.plan.lock().unwrap();
        plan.extend(offsets.iter().map(|&n| Some(n)));
    }

    /// Cuts every live connection now; returns how many there were.
    pub fn cut_all(&self) -> usize {
        let live = std::mem::take(&mut *self.shared.live.lock().unwrap());
        live.values().for_each(CancellationToken::cancel);
        live.len()
    }

    /// Every cut made so far (planned ones; [`cut_all`](Self::cut_all) only
    /// returns its count).
    pub fn cuts(&self) -> Vec<Cut> {
        self.shared.cuts.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        *self.shared.accepted.lock().unwrap()
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut_all();
    }
}

async fn accept_loop(listener: TcpListener, upstream_port: u16, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let connection = {
            let mut accepted = shared.accepted.lock().unwrap();
            *accepted += 1;
            *accepted
        };
        let cut_after = shared.plan.lock().unwrap().pop_front().flatten();
        let token = CancellationToken::new();
        shared
            .live
            .lock()
            .unwrap()
            .insert(connection, token.clone());
        let shared = shared.clone();
        tokio::spawn(async move {
            // Failing to reach the server, the client sees its connection
            // closed, as with a dead server.
            if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await {
                let forwarding = Forwarding {
                    connection,
                    cut_after,
                    shared: shared.clone(),
                };
                forwarding.run(client, server, token).await;
            }
            shared.live.lock().unwrap().remove(&connection);
        });
    }
}

/// One proxied connection.
struct Forwarding {
    connection: usize,
    cut_after: Option<u64>,
    shared: Arc<Shared>,
}

impl Forwarding {
    /// Forwards both ways until either side closes, the token is cancelled,
    /// or the planned cut; then closes both sockets.
    async fn run(self, client: TcpStream, server: TcpStream, token: CancellationToken) {
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::select! {
            _ = copy(client_read, server_write) => {}
            cut = self.server_to_client(server_read, client_write) => {
                if let Some(cut) = cut {
                    self.shared.cuts.lock().unwrap().push(cut);
                }
            }
            _ = token.cancelled() => {}
        }
        // Dropping the halves here closes both connections.
    }

    /// Forwards the server's output, following its literals; returns the
    /// cut when the plan made one, None when a side closed first.
    async fn server_to_client(
        &self,
        mut from: OwnedReadHalf,
        mut to: OwnedWriteHalf,
    ) -> Option<Cut> {
        let mut literals = LiteralTracker::default();
        let mut sent = 0u64;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = from.read(&mut buf).await.ok().filter(|&n| n > 0)?;
            let mut chunk = &buf[..n];
            if let Some(limit) = self.cut_after {
                if let Some(keep) = literals.bytes_until_cut(chunk, limit) {
                    chunk = &chunk[..keep];
                    to.write_all(chunk).await.ok()?;
                    literals.feed(chunk);
                    to.flush().await.ok()?;
                    return Some(Cut {
                        connection: self.connection,
                        server_bytes: sent + keep as u64,
                        literal_len: literals.current_len(),
                        literal_done: literals.current_done(),
                    });
                }
            }
            to.write_all(chunk).await.ok()?;
            literals.feed(chunk);
            sent += chunk.len() as u64;
        }
    }
}

async fn copy(mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
    let _ = tokio::io::copy(&mut from, &mut to).await;
}

/// Follows an IMAP server's output: lines, and `{N}\r\n` literals inside them.
#[derive(Default)]
struct LiteralTracker {
    /// The end of the current line (enough to see a `{N}` before CRLF).
    line_tail: Vec<u8>,
    /// The literal being transferred: (length, bytes received so far).
    literal: Option<(u64, u64)>,
    /// Literal bytes received on this connection, all literals together.
    literal_total: u64,
}

impl LiteralTracker {
    /// Consumes `bytes` of server output.
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.feed_byte(b);
        }
    }

    fn feed_byte(&mut self, b: u8) {
        if let Some((len, done)) = &mut self.literal {
            *done += 1;
            self.literal_total += 1;
            if *done == *len {
                self.literal = None;
            }
            return;
        }
        self.line_tail.push(b);
        if self.line_tail.len() > 32 {
            self.line_tail.remove(0);
        }
        if b == b'\n' {
            self.literal = literal_announced(&self.line_tail)
                .filter(|&len| len > 0)
                .map(|len| (len, 0));
            self.line_tail.clear();
        }
    }

    /// If forwarding `chunk` would bring the literal bytes to `limit` or
    /// beyond, how many of its bytes to forward so the cut lands inside a
    /// literal with at least `limit` literal bytes passed; None otherwise.
    fn bytes_until_cut(&self, chunk: &[u8], limit: u64) -> Option<usize> {
        let mut probe = LiteralTracker {
            line_tail: self.line_tail.clone(),
            literal: self.literal,
            literal_total: self.literal_total,
        };
        for (i, &b) in chunk.iter().enumerate() {
            let inside = probe.literal.is_some_and(|(_, done)| done > 0);
            if inside && probe.literal_total >= limit {
                return Some(i);
            }
            probe.feed_byte(b);
        }
        None
    }

    fn current_len(&self) -> Option<u64> {
        self.literal.map(|(len, _)| len)
    }

    fn current_done(&self) -> u64 {
        self.literal.map_or(0, |(_, done)| done)
    }
}

/// N when a server line ends with `{N}\r\n`.
fn literal_announced(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}
