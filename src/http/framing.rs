//! What a connection's reader sees before actix-http parses it: the requests' framing, followed
//! byte by byte, for two jobs actix-http does not do.
//!
//! * **Read deadlines.** A request's head must arrive within the header timeout of its first
//!   byte, and its body (by `Content-Length` or chunked) within the body timeout of the end of
//!   its head; otherwise the read fails with `TimedOut` and the connection is closed. A client
//!   trickling a byte a second holds one connection for that long, never a worker (actix-http
//!   bounds only the first request's head, and never a body).
//! * **Raw characters in a request target.** Microsoft's SCIM validator has been seen to send
//!   `GET /Users?filter=userName+eq+"x%40example.com"` with the double quotes unencoded. httparse
//!   accepts that request line, but the `http` crate's URI parser refuses `"`, `<`, `>` and
//!   bytes above 0x7F in a query (the WHATWG URL standard's query percent-encode set), and
//!   actix-http then answers a bare 400 with no body. In the request target (only there: never
//!   in a header or a body) the bytes either parser would refuse but that cannot end the target
//!   are percent-encoded here ([`refused_in_target`]), which is what the client should have
//!   sent and decodes back to the same text; a filter holding a control character then gets
//!   the SCIM error it deserves instead of a bare 400.
//!
//! The framing follows RFC 9112 §6 as actix-http reads it: a body is `Content-Length` bytes, or
//! chunks when `Transfer-Encoding` is `chunked`; a request with neither has none, except a
//! WebSocket upgrade or a CONNECT, whose body runs to the end of the connection. Anything this
//! reader does not follow (those, a transfer coding other than chunked, two different lengths)
//! makes the rest of the connection opaque: bytes pass untouched, and the connection must end
//! within the body timeout (actix-http refuses such requests and closes it anyway; a client
//! cannot send `Upgrade: websocket` to escape the deadline).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a client may take to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTimeouts {
    /// From a request's first byte to the end of its head.
    pub header: Duration,
    /// From the end of a request's head to the end of its body.
    pub body: Duration,
}

/// The longest header line read for its value (`Content-Length`, `Transfer-Encoding`); a
/// longer line is neither of those and is only passed on.
const HEADER_LINE_KEPT: usize = 256;

/// Where the reader is in the request it is receiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests (empty lines before a request are skipped, RFC 9112 §2.2).
    Idle,
    Method,
    /// The request target; `query` once past its `?`.
    Target {
        query: bool,
    },
    Version,
    /// A header line (`at_start`: nothing of it read yet).
    Header {
        at_start: bool,
    },
    Body {
        left: u64,
    },
    ChunkSize,
    /// A chunk extension or the rest of the size line.
    ChunkSizeLine,
    ChunkData {
        left: u64,
    },
    /// The CRLF after a chunk's data.
    ChunkDataEnd,
    /// A trailer line after the last chunk (`at_start`: nothing of it read yet).
    Trailer {
        at_start: bool,
    },
    /// Framing this reader does not follow: everything passes untouched, for the rest of the
    /// connection, which must end within the body timeout.
    Opaque,
}

/// The request framing state machine, apart from any I/O (so it is tested on byte strings).
#[derive(Debug)]
struct Framer {
    phase: Phase,
    /// The current header line, up to [`HEADER_LINE_KEPT`] bytes.
    line: Vec<u8>,
    line_overflow: bool,
    content_length: Option<u64>,
    chunked: bool,
    /// A header this reader cannot frame by (another transfer coding, two lengths, a
    /// WebSocket upgrade).
    unframed: bool,
    /// The request's method is CONNECT (without a length, actix-http reads until the end).
    connect: bool,
    chunk_size: u64,
}

/// What becomes of one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Keep,
    /// Percent-encode it (a byte in a query that the URI parser would refuse).
    Encode,
}

/// A change of phase that moves a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    None,
    /// A request's first byte arrived.
    RequestStarted,
    /// Its head ended and a body follows.
    BodyStarted,
    /// It is complete (or the connection went opaque).
    RequestEnded,
}

impl Framer {
    fn new() -> Self {
        Framer {
            phase: Phase::Idle,
            line: Vec::new(),
            line_overflow: false,
            content_length: None,
            chunked: false,
            unframed: false,
            connect: false,
            chunk_size: 0,
        }
    }

    /// Bytes that may pass without a look at each: the rest of a body or chunk.
    fn skippable(&self) -> u64 {
        match self.phase {
            Phase::Body { left } | Phase::ChunkData { left } => left,
            Phase::Opaque => u64::MAX,
            _ => 0,
        }
    }

    /// Pass `n` bytes of body or chunk data (at most [`skippable`](Self::skippable)).
    fn skip(&mut self, n: u64) -> Edge {
        match &mut self.phase {
            Phase::Body { left } => {
                *left -= n;
                if *left == 0 {
                    self.phase = Phase::Idle;
                    return Edge::RequestEnded;
                }
            }
            Phase::ChunkData { left } => {
                *left -= n;
                if *left == 0 {
                    self.phase = Phase::ChunkDataEnd;
                }
            }
            _ => {}
        }
        Edge::None
    }

    /// The leading bytes of `bytes` that [`step`](Self::step) would take one by one without an
    /// edge or an encoding, taken at once: the rest of a header line, of the request line's
    /// version. Returns how many (the line's `\n` is left to `step`).
    fn take_line(&mut self, bytes: &[u8]) -> usize {
        let n = match self.phase {
            Phase::Header { .. } | Phase::Version => bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len()),
            _ => return 0,
        };
        if n == 0 {
            return 0;
        }
        if let Phase::Header { at_start } = self.phase {
            if at_start {
                self.line.clear();
                self.line_overflow = false;
            }
            let room = HEADER_LINE_KEPT.saturating_sub(self.line.len());
            self.line.extend_from_slice(&bytes[..n.min(room)]);
            self.line_overflow |= n > room;
            self.phase = Phase::Header { at_start: false };
        }
        n
    }

    fn step(&mut self, b: u8) -> (Out, Edge) {
        let mut edge = Edge::None;
        let mut out = Out::Keep;
        self.phase = match self.phase {
            Phase::Idle if b == b'\r' || b == b'\n' => Phase::Idle,
            Phase::Idle => {
                edge = Edge::RequestStarted;
                self.content_length = None;
                self.chunked = false;
                self.unframed = false;
                self.line.clear();
                self.line.push(b);
                Phase::Method
            }
            Phase::Method if b == b' ' => {
                self.connect = self.line == b"CONNECT";
                Phase::Target { query: false }
            }
            Phase::Method if b == b'\n' => Phase::Header { at_start: true },
            Phase::Method => {
                if self.line.len() < HEADER_LINE_KEPT {
                    self.line.push(b);
                }
                Phase::Method
            }
            Phase::Target { .. } if b == b' ' => Phase::Version,
            Phase::Target { .. } if b == b'\n' => Phase::Header { at_start: true },
            Phase::Target { query } => {
                if refused_in_target(b, query) {
                    out = Out::Encode;
                }
                Phase::Target { query: query || b == b'?' }
            }
            Phase::Version if b == b'\n' => Phase::Header { at_start: true },
            Phase::Version => Phase::Version,
            Phase::Header { at_start } => {
                if at_start {
                    self.line.clear();
                    self.line_overflow = false;
                }
                if b == b'\n' {
                    match self.header_line_ended() {
                        Some(next) => {
                            edge = match next {
                                Phase::Idle => Edge::RequestEnded,
                                _ => Edge::BodyStarted,
                            };
                            next
                        }
                        None => Phase::Header { at_start: true },
                    }
                } else {
                    if self.line.len() < HEADER_LINE_KEPT {
                        self.line.push(b);
                    } else {
                        self.line_overflow = true;
                    }
                    Phase::Header { at_start: false }
                }
            }
            Phase::ChunkSize => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    let digit = u64::from(char::from(b).to_digit(16).unwrap_or(0));
                    match self.chunk_size.checked_mul(16).and_then(|s| s.checked_add(digit)) {
                        Some(size) => {
                            self.chunk_size = size;
                            Phase::ChunkSize
                        }
                        None => {
                            edge = Edge::RequestEnded;
                            Phase::Opaque
                        }
                    }
                }
                b'\n' => self.chunk_size_ended(),
                _ => Phase::ChunkSizeLine,
            },
            Phase::ChunkSizeLine if b == b'\n' => self.chunk_size_ended(),
            Phase::ChunkSizeLine => Phase::ChunkSizeLine,
            // `skip` takes data in bulk; a zero-length remainder does not occur.
            Phase::ChunkData { left } => {
                if left <= 1 {
                    Phase::ChunkDataEnd
                } else {
                    Phase::ChunkData { left: left - 1 }
                }
            }
            Phase::ChunkDataEnd if b == b'\n' => {
                self.chunk_size = 0;
                Phase::ChunkSize
            }
            Phase::ChunkDataEnd => Phase::ChunkDataEnd,
            Phase::Trailer { at_start } if b == b'\n' => {
                if at_start {
                    edge = Edge::RequestEnded;
                    Phase::Idle
                } else {
                    Phase::Trailer { at_start: true }
                }
            }
            Phase::Trailer { .. } if b == b'\r' => self.phase,
            Phase::Trailer { .. } => Phase::Trailer { at_start: false },
            Phase::Body { left } => {
                if left <= 1 {
                    edge = Edge::RequestEnded;
                    Phase::Idle
                } else {
                    Phase::Body { left: left - 1 }
                }
            }
            Phase::Opaque => Phase::Opaque,
        };
        (out, edge)
    }

    fn chunk_size_ended(&mut self) -> Phase {
        if self.chunk_size == 0 {
            Phase::Trailer { at_start: true }
        } else {
            Phase::ChunkData { left: self.chunk_size }
        }
    }

    /// A header line ended (its bytes in `line`); the phase after the head when it was the
    /// empty line that ends it.
    fn header_line_ended(&mut self) -> Option<Phase> {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        if line.is_empty() && !self.line_overflow {
            self.chunk_size = 0;
            let until_eof = self.connect && !self.chunked && self.content_length.is_none();
            return Some(if self.unframed || until_eof {
                Phase::Opaque
            } else if self.chunked {
                Phase::ChunkSize
            } else {
                match self.content_length {
                    Some(n) if n > 0 => Phase::Body { left: n },
                    _ => Phase::Idle,
                }
            });
        }
        if self.line_overflow {
            return None;
        }
        let colon = line.iter().position(|&c| c == b':')?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = std::str::from_utf8(value).ok().and_then(|v| v.parse::<u64>().ok());
            match (parsed, self.content_length) {
                (Some(n), None) => self.content_length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => self.unframed = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if value.eq_ignore_ascii_case(b"chunked") && !self.chunked {
                self.chunked = true;
            } else {
                self.unframed = true;
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") && value.eq_ignore_ascii_case(b"websocket") {
            // actix-http then reads the body until the connection ends.
            self.unframed = true;
        }
        if self.chunked && self.content_length.is_some() {
            // RFC 9112 §6.3: a smuggling attempt, refused by actix-http.
            self.unframed = true;
        }
        None
    }
}

/// A connection's byte stream with the request framing followed (see the module docs).
pub struct Framed<T> {
    inner: T,
    framer: Framer,
    timeouts: ReadTimeouts,
    peer: Option<SocketAddr>,
    /// The deadline of the request being received, and a timer that wakes the reader at it.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes already framed and rewritten that did not fit the caller's buffer.
    pending: Vec<u8>,
    pending_from: usize,
}

impl<T> Framed<T> {
    pub fn new(inner: T, timeouts: ReadTimeouts, peer: Option<SocketAddr>) -> Self {
        Framed { inner, framer: Framer::new(), timeouts, peer, deadline: None, pending: Vec::new(), pending_from: 0 }
    }

    fn on_edge(&mut self, edge: Edge) {
        let wait = match edge {
            Edge::None => return,
            Edge::RequestStarted => self.timeouts.header,
            Edge::BodyStarted => self.timeouts.body,
            Edge::RequestEnded => {
                self.deadline = None;
                return;
            }
        };
        let at = Instant::now() + wait;
        match &mut self.deadline {
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.deadline = Some(Box::pin(tokio::time::sleep_until(at))),
        }
    }

    /// Frame the bytes `filled[from..]` just read, rewriting in place: bytes from the first one
    /// that must be encoded onwards move to `pending` (expanded) and `filled` is cut there.
    /// Returns the length `filled` keeps.
    fn frame(&mut self, filled: &mut [u8], from: usize) -> usize {
        let mut i = from;
        while i < filled.len() {
            let skippable = self.framer.skippable();
            if skippable > 0 {
                let n = skippable.min((filled.len() - i) as u64);
                let edge = self.framer.skip(n);
                self.on_edge(edge);
                i += n as usize;
                continue;
            }
            let taken = self.framer.take_line(&filled[i..]);
            if taken > 0 {
                i += taken;
                continue;
            }
            let (out, edge) = self.framer.step(filled[i]);
            self.on_edge(edge);
            if out == Out::Encode {
                // Rare: the rest of this read goes through `pending`.
                let rest = filled[i..].to_vec();
                self.pending.clear();
                self.pending_from = 0;
                encode_into(&mut self.pending, rest[0]);
                for &b in &rest[1..] {
                    if self.framer.skippable() > 0 {
                        let edge = self.framer.skip(1);
                        self.on_edge(edge);
                        self.pending.push(b);
                        continue;
                    }
                    let (out, edge) = self.framer.step(b);
                    self.on_edge(edge);
                    match out {
                        Out::Keep => self.pending.push(b),
                        Out::Encode => encode_into(&mut self.pending, b),
                    }
                }
                return i;
            }
            i += 1;
        }
        filled.len()
    }

    /// Hand over what fits of `pending`.
    fn drain_pending(&mut self, buf: &mut ReadBuf<'_>) {
        let n = buf.remaining().min(self.pending.len() - self.pending_from);
        buf.put_slice(&self.pending[self.pending_from..self.pending_from + n]);
        self.pending_from += n;
        if self.pending_from == self.pending.len() {
            self.pending.clear();
            self.pending_from = 0;
        }
    }

    /// Whether the request being received has run out of time.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.deadline {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
        }
    }

    fn timed_out(&mut self) -> io::Error {
        let phase = match self.framer.phase {
            Phase::Body { .. }
            | Phase::ChunkSize
            | Phase::ChunkSizeLine
            | Phase::ChunkData { .. }
            | Phase::ChunkDataEnd
            | Phase::Trailer { .. } => ("body", self.timeouts.body),
            _ => ("head", self.timeouts.header),
        };
        tracing::info!(
            client.address = ?self.peer,
            "connection closed: a request's {} did not arrive within {} s",
            phase.0,
            phase.1.as_secs()
        );
        self.deadline = None;
        self.framer.phase = Phase::Opaque;
        io::Error::new(io::ErrorKind::TimedOut, format!("request {} not received in time", phase.0))
    }
}

/// A byte of a request target that httparse or the `http` crate's URI parser refuses, but
/// that stands for itself there (it cannot end the target or the line): control characters
/// other than CR and LF, DEL and bytes above 0x7F anywhere; `<`, `>`, `\\`, `^` and `` ` ``
/// in the path; `"`, `<` and `>` in the query. (`"`, `{` and `}` are let through in a path by
/// the `http` crate; `\\`, `^`, `` ` ``, `{`, `|` and `}` in a query.)
fn refused_in_target(b: u8, query: bool) -> bool {
    match b {
        b'\r' | b'\n' | b' ' => false,
        0..=0x1F | 0x7F..=0xFF => true,
        b'<' | b'>' => true,
        b'"' => query,
        b'\\' | b'^' | b'`' => !query,
        _ => false,
    }
}

fn encode_into(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}

impl<T: AsyncRead + Unpin> AsyncRead for Framed<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pending_from < this.pending.len() {
            this.drain_pending(buf);
            return Poll::Ready(Ok(()));
        }
        let deadline_passed = this.deadline.as_ref().is_some_and(|d| d.deadline() <= Instant::now());
        if deadline_passed {
            return Poll::Ready(Err(this.timed_out()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let kept = this.frame(buf.filled_mut(), before);
                buf.set_filled(kept);
                this.drain_pending(buf);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if this.expired(cx) {
                    Poll::Ready(Err(this.timed_out()))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Framed<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
