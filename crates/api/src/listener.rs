//! The server's listener. Hyper refuses some requests before any route runs
//! (a control character in a header, headers too large, a URI too long, a
//! malformed request line) and answers them itself with an empty body; each
//! connection here swaps that answer for the same status with our JSON error
//! body, so every failure a client sees has one format.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::connect_info::Connected;
use axum::http::StatusCode;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

use crate::error::ApiError;

/// Accepts TCP connections whose refusals carry our error body.
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = ErrorBodies<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (ErrorBodies { io, pending: None }, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The peer of a connection, as `ConnectInfo`.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, Listener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// A connection that rewrites hyper's own refusals (see [`with_error_body`])
/// on their way out.
pub struct ErrorBodies<S> {
    io: S,
    /// A rewritten refusal and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S: AsyncWrite + Unpin> ErrorBodies<S> {
    /// Writes what is left of a rewritten refusal.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ErrorBodies<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ErrorBodies<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(rewritten) = with_error_body(buf) {
            self.pending = Some((rewritten, 0));
            // The refusal is taken whole; the rest goes out on flush.
            return match self.poll_pending(cx) {
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // A refusal has no body: it is the one slice of its write.
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            return self.poll_write(cx, only);
        }
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// If `written` is a refusal hyper made itself — a whole 4xx head with an
/// empty body and none of the headers our responses always carry — the same
/// refusal with our JSON error body. Anything else is left alone.
pub fn with_error_body(written: &[u8]) -> Option<Vec<u8>> {
    let head = written.strip_suffix(b"\r\n\r\n")?;
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.strip_prefix("HTTP/1.1 ")?.split(' ').next()?.parse().ok()?;
    let (code, message) = match status {
        400 => (
            "MALFORMED_REQUEST",
            "The request could not be read: its request line or a header is malformed (header values may not hold control characters).",
        ),
        414 => ("URI_TOO_LONG", "The request URI is too long."),
        431 => ("HEADERS_TOO_LARGE", "The request headers are too large."),
        _ => return None,
    };
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => empty = value.trim() == "0",
            "x-request-id" | "content-type" => return None,
            _ => {}
        }
    }
    if !empty {
        return None;
    }
    let status = StatusCode::from_u16(status).ok()?;
    let body = serde_json::to_string(&ApiError::new(status, code, message).body()).ok()?;
    let reason = status.canonical_reason().unwrap_or_default();
    Some(
        format!(
            "HTTP/1.1 {} {reason}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            status.as_u16(),
            body.len()
        )
        .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_400: &[u8] =
        b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 20:55:53 GMT\r\n\r\n";

    fn body_of(response: &[u8]) -> serde_json::Value {
        let text = std::str::from_utf8(response).unwrap();
        serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap()
    }

    #[test]
    fn hypers_own_refusals_get_our_body() {
        let rewritten = with_error_body(HYPER_400).expect("rewritten");
        assert!(rewritten.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        let body = body_of(&rewritten);
        assert_eq!(body["code"], "MALFORMED_REQUEST");
        assert_eq!(body["error"], body["message"]);
        let text = String::from_utf8(rewritten.clone()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let big = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(body_of(&with_error_body(big).unwrap())["code"], "HEADERS_TOO_LARGE");
    }

    #[test]
    fn our_responses_and_partial_writes_pass_untouched() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-request-id: req_1\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(with_error_body(ours), None);
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(with_error_body(with_body), None);
        assert_eq!(with_error_body(&HYPER_400[..20]), None);
        assert_eq!(with_error_body(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
        assert_eq!(with_error_body(b"{\"error\":\"x\"}\r\n\r\n"), None);
    }

    #[tokio::test]
    async fn a_refusal_goes_out_rewritten_whole_even_through_a_narrow_pipe() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (near, mut far) = tokio::io::duplex(16);
        let mut conn = ErrorBodies { io: near, pending: None };
        let writer = tokio::spawn(async move {
            conn.write_all(HYPER_400).await.unwrap();
            conn.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got, with_error_body(HYPER_400).unwrap());
    }
}
