//! A receiving SMTP server for tests.
//!
//! [`SmtpServer`] listens on `127.0.0.1:0` and speaks enough RFC 5321 to take
//! mail from a real client: the greeting, `EHLO`/`HELO`, `MAIL FROM`, `RCPT TO`,
//! `DATA` (with dot-unstuffing), `RSET`, `NOOP` and `QUIT`. No TLS and no
//! authentication: point the client at it with security off. Every message it
//! accepts is kept, with its envelope, for the test to read back.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The `MAIL FROM` address, without angle brackets.
    pub mail_from: String,
    /// The `RCPT TO` addresses, without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message (headers and body) after dot-unstuffing, CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    /// A header's value (folded lines joined), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }

    /// The body: everything after the blank line that ends the headers.
    pub fn body(&self) -> &str {
        self.data.split_once("\r\n\r\n").map_or("", |(_, body)| body)
    }
}

#[derive(Debug, Default)]
struct Shared {
    mail: Mutex<Vec<ReceivedMail>>,
    arrived: Notify,
}

impl Shared {
    fn mail(&self) -> MutexGuard<'_, Vec<ReceivedMail>> {
        self.mail.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running SMTP server; stops when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl SmtpServer {
    /// Starts the server. Panics if no local port can be bound.
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(server) => server,
            Err(error) => panic!("SMTP test server could not bind 127.0.0.1:0: {error}"),
        }
    }

    pub async fn try_start() -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (stop, mut stopped) = watch::channel(false);
        let accepting = Arc::clone(&shared);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.wait_for(|s| *s) => return,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let shared = Arc::clone(&accepting);
                        tokio::spawn(async move {
                            let _closed = Session::new(stream, shared).run().await;
                        });
                    }
                }
            }
        });
        Ok(Self { address, shared, stop })
    }

    pub fn host(&self) -> String {
        self.address.ip().to_string()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Every message accepted so far, in order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.mail().clone()
    }

    /// Waits until at least `count` messages arrived or `limit` passed; returns them all.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let arrived = self.shared.arrived.notified();
            let mail = self.received();
            if mail.len() >= count || tokio::time::Instant::now() >= deadline {
                return mail;
            }
            let _timed_out = tokio::time::timeout_at(deadline, arrived).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// One client connection: a line reader and the envelope being built.
struct Session {
    stream: TcpStream,
    shared: Arc<Shared>,
    buffer: Vec<u8>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

/// `<address>` (with optional parameters after it) → `address`.
fn path_of(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

/// The argument after a verb like `MAIL FROM:`, matched case-insensitively.
fn argument_after<'a>(line: &'a str, verb: &str) -> Option<&'a str> {
    let head = line.get(..verb.len())?;
    head.eq_ignore_ascii_case(verb).then(|| &line[verb.len()..])
}

impl Session {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Self {
        Self { stream, shared, buffer: Vec::new(), mail_from: None, rcpt_to: Vec::new() }
    }

    async fn run(mut self) -> io::Result<()> {
        self.reply("220 testkit ESMTP ready").await?;
        while let Some(line) = self.read_line().await? {
            let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" => self.reply("250-testkit greets you\r\n250-8BITMIME\r\n250 SMTPUTF8").await?,
                "HELO" => self.reply("250 testkit").await?,
                "MAIL" => match argument_after(&line, "MAIL FROM:") {
                    Some(arg) => {
                        self.mail_from = Some(path_of(arg));
                        self.rcpt_to.clear();
                        self.reply("250 OK").await?;
                    }
                    None => self.reply("501 Syntax: MAIL FROM:<address>").await?,
                },
                "RCPT" => match (argument_after(&line, "RCPT TO:"), &self.mail_from) {
                    (Some(arg), Some(_)) => {
                        self.rcpt_to.push(path_of(arg));
                        self.reply("250 OK").await?;
                    }
                    (None, _) => self.reply("501 Syntax: RCPT TO:<address>").await?,
                    (Some(_), None) => self.reply("503 MAIL first").await?,
                },
                "DATA" => {
                    if self.mail_from.is_none() || self.rcpt_to.is_empty() {
                        self.reply("503 RCPT first").await?;
                        continue;
                    }
                    self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                    let Some(data) = self.read_data().await? else { return Ok(()) };
                    let mail = ReceivedMail {
                        mail_from: self.mail_from.take().unwrap_or_default(),
                        rcpt_to: std::mem::take(&mut self.rcpt_to),
                        data,
                    };
                    self.shared.mail().push(mail);
                    self.shared.arrived.notify_waiters();
                    self.reply("250 OK: queued").await?;
                }
                "RSET" => {
                    self.mail_from = None;
                    self.rcpt_to.clear();
                    self.reply("250 OK").await?;
                }
                "NOOP" => self.reply("250 OK").await?,
                "QUIT" => {
                    self.reply("221 Bye").await?;
                    return Ok(());
                }
                _ => self.reply("502 Command not implemented").await?,
            }
        }
        Ok(())
    }

    /// The message lines up to the lone `.`, dot-unstuffed; `None` if the client left.
    async fn read_data(&mut self) -> io::Result<Option<String>> {
        let mut data = String::new();
        loop {
            let Some(line) = self.read_line().await? else { return Ok(None) };
            if line == "." {
                return Ok(Some(data));
            }
            let line = line.strip_prefix('.').unwrap_or(&line);
            data.push_str(line);
            data.push_str("\r\n");
        }
    }

    /// The next line without its CRLF; `None` at the end of the stream.
    async fn read_line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buffer.drain(..end + 2).take(end).collect();
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            self.stream.readable().await?;
            let mut chunk = [0u8; 4096];
            match self.stream.try_read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        let bytes = format!("{text}\r\n").into_bytes();
        let mut sent = 0;
        while sent < bytes.len() {
            self.stream.writable().await?;
            match self.stream.try_write(&bytes[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_unfold_and_bodies_split() {
        let mail = ReceivedMail {
            mail_from: "a@x.test".into(),
            rcpt_to: vec!["b@y.test".into()],
            data: "From: a@x.test\r\nSubject: Hello\r\n there\r\nTo: b@y.test\r\n\r\nLine one\r\n.Line two\r\n".into(),
        };
        assert_eq!(mail.header("subject").as_deref(), Some("Hello there"));
        assert_eq!(mail.header("TO").as_deref(), Some("b@y.test"));
        assert_eq!(mail.header("cc"), None);
        assert_eq!(mail.body(), "Line one\r\n.Line two\r\n");
        assert_eq!(path_of(" <a@x.test> BODY=8BITMIME"), "a@x.test");
        assert_eq!(argument_after("mail from:<a@x.test>", "MAIL FROM:"), Some("<a@x.test>"));
    }
}
