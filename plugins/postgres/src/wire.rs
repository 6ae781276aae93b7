//! A small Postgres client over any byte stream: the startup handshake
//! (cleartext, md5 and SCRAM-SHA-256 password authentication) and the
//! simple query protocol, with messages encoded and decoded by the
//! `postgres-protocol` crate. Values come back in Postgres' text format.
//!
//! It is generic over the stream so the unit tests can drive it with
//! recorded server bytes; the check uses the `TcpStream` the runner's
//! [`runner_sdk::net::connect`] hands out (its read timeout bounds every
//! wait for the server).

use std::fmt;
use std::io::{self, Read, Write};

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{self, sasl};
use postgres_protocol::message::backend::{self, Message};
use postgres_protocol::message::frontend;

/// The SASL mechanism this client speaks (`-PLUS` needs TLS).
const SCRAM: &str = "SCRAM-SHA-256";

/// What the startup message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup<'a> {
    pub user: &'a str,
    pub database: &'a str,
    pub application_name: &'a str,
    pub password: Option<&'a str>,
}

/// An `ErrorResponse` from the server: its severity, SQLSTATE and message
/// (detail and hint when it sent them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbError {
    /// `ERROR`, `FATAL` or `PANIC` (the non-localised `V` field when the
    /// server sends it, else `S`).
    pub severity: String,
    /// The SQLSTATE, e.g. `28P01` (invalid password), `57014` (canceled).
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl DbError {
    fn parse(fields: backend::ErrorFields<'_>) -> io::Result<DbError> {
        let mut error = DbError::default();
        let mut localized_severity = None;
        let mut fields = fields;
        while let Some(field) = fields.next()? {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'V' => error.severity = value,
                b'S' => localized_severity = Some(value),
                b'C' => error.code = value,
                b'M' => error.message = value,
                b'D' => error.detail = Some(value),
                b'H' => error.hint = Some(value),
                _ => {}
            }
        }
        if error.severity.is_empty() {
            error.severity = localized_severity.unwrap_or_else(|| "ERROR".to_string());
        }
        Ok(error)
    }

    /// FATAL and PANIC end the session: the server closes the connection.
    pub fn ends_session(&self) -> bool {
        matches!(self.severity.as_str(), "FATAL" | "PANIC")
    }

    /// SQLSTATE 57014: the statement was canceled (`statement_timeout`).
    pub fn is_canceled(&self) -> bool {
        self.code == "57014"
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        if !self.code.is_empty() {
            write!(f, " [SQLSTATE {}]", self.code)?;
        }
        Ok(())
    }
}

/// Why talking to the server failed.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing the socket failed; `TimedOut` / `WouldBlock`
    /// mean the server did not answer within the socket's timeout.
    Io(io::Error),
    /// The server closed the connection.
    Closed,
    /// The server answered with an error.
    Server(Box<DbError>),
    /// Authentication cannot proceed on this side: no password configured,
    /// an unsupported method, or a SCRAM exchange that does not verify.
    Auth(String),
    /// The server sent something this client does not expect.
    Protocol(String),
}

impl Error {
    /// Whether the connection is unusable after this error (anything but
    /// an ordinary `ERROR` response to a query).
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Server(e) => e.ends_session(),
            _ => true,
        }
    }

    /// Whether this is a socket timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                write!(f, "the server did not answer in time")
            }
            Error::Io(e) => write!(f, "connection error: {e}"),
            Error::Closed => write!(f, "the server closed the connection"),
            Error::Server(e) => write!(f, "{e}"),
            Error::Auth(message) => write!(f, "{message}"),
            Error::Protocol(message) => write!(f, "protocol error: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::UnexpectedEof => Error::Closed,
            // Malformed messages are reported by the decoder as these.
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                Error::Protocol(error.to_string())
            }
            _ => Error::Io(error),
        }
    }
}

/// One statement's result: column names and rows of text values (`None`
/// for SQL NULL), and the command tag (`SELECT 3`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    pub tag: String,
}

/// A session with a server.
pub struct Client<S: Read + Write> {
    stream: S,
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// `ParameterStatus` values (`server_version`, `server_encoding`, ...).
    parameters: Vec<(String, String)>,
    /// Set when the session cannot be used any more: no Terminate on drop.
    broken: bool,
}

impl<S: Read + Write> Client<S> {
    /// Start a session on `stream`: the startup message, authentication,
    /// and the server's parameters, up to its first ReadyForQuery.
    pub fn connect(stream: S, startup: &Startup<'_>) -> Result<Client<S>, Error> {
        let mut client = Client {
            stream,
            read_buf: BytesMut::with_capacity(8192),
            write_buf: BytesMut::with_capacity(1024),
            parameters: Vec::new(),
            broken: false,
        };
        match client.handshake(startup) {
            Ok(()) => Ok(client),
            Err(error) => {
                client.broken = true;
                Err(error)
            }
        }
    }

    /// A parameter the server reported at startup (or later), e.g.
    /// `server_version`.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn handshake(&mut self, startup: &Startup<'_>) -> Result<(), Error> {
        let params = [
            ("user", startup.user),
            ("database", startup.database),
            ("application_name", startup.application_name),
            // Text values come back as UTF-8 whatever the database's encoding.
            ("client_encoding", "UTF8"),
        ];
        frontend::startup_message(params.iter().copied(), &mut self.write_buf)?;
        self.flush()?;
        self.authenticate(startup)?;
        // After AuthenticationOk: parameters and the backend key, then
        // ReadyForQuery (or an error, e.g. too many connections).
        loop {
            match self.read_message()? {
                Message::ReadyForQuery(_) => return Ok(()),
                Message::ParameterStatus(body) => self.set_parameter(&body)?,
                Message::BackendKeyData(_) | Message::NoticeResponse(_) => {}
                Message::ErrorResponse(body) => {
                    return Err(Error::Server(Box::new(DbError::parse(body.fields())?)));
                }
                other => return Err(unexpected("while starting the session", &other)),
            }
        }
    }

    fn authenticate(&mut self, startup: &Startup<'_>) -> Result<(), Error> {
        let password = || {
            startup.password.ok_or_else(|| {
                Error::Auth(format!(
                    "the server asks for a password for user \"{}\" and none is configured \
                     (set `password`)",
                    startup.user
                ))
            })
        };
        loop {
            match self.read_message()? {
                Message::AuthenticationOk => return Ok(()),
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password()?.as_bytes(), &mut self.write_buf)?;
                    self.flush()?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = authentication::md5_hash(
                        startup.user.as_bytes(),
                        password()?.as_bytes(),
                        body.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut self.write_buf)?;
                    self.flush()?;
                }
                Message::AuthenticationSasl(body) => {
                    let mechanisms: Vec<String> =
                        body.mechanisms().map(|m| Ok(m.to_string())).collect()?;
                    if !mechanisms.iter().any(|m| m == SCRAM) {
                        return Err(Error::Auth(format!(
                            "the server offers SASL mechanisms {} and only {SCRAM} is supported",
                            mechanisms.join(", ")
                        )));
                    }
                    self.scram(password()?)?;
                }
                Message::ErrorResponse(body) => {
                    return Err(Error::Server(Box::new(DbError::parse(body.fields())?)));
                }
                Message::NoticeResponse(_) => {}
                Message::AuthenticationKerberosV5 => return Err(unsupported_auth("Kerberos V5")),
                Message::AuthenticationGss | Message::AuthenticationGssContinue(_) => {
                    return Err(unsupported_auth("GSSAPI"));
                }
                Message::AuthenticationSspi => return Err(unsupported_auth("SSPI")),
                Message::AuthenticationScmCredential => {
                    return Err(unsupported_auth("SCM credential"));
                }
                other => return Err(unexpected("during authentication", &other)),
            }
        }
    }

    /// The SCRAM-SHA-256 exchange, without channel binding (no TLS).
    fn scram(&mut self, password: &str) -> Result<(), Error> {
        let mut scram =
            sasl::ScramSha256::new(password.as_bytes(), sasl::ChannelBinding::unsupported());
        frontend::sasl_initial_response(SCRAM, scram.message(), &mut self.write_buf)?;
        self.flush()?;
        let scram_error =
            |e: io::Error| Error::Auth(format!("SCRAM-SHA-256 authentication failed: {e}"));
        match self.read_message()? {
            Message::AuthenticationSaslContinue(body) => {
                scram.update(body.data()).map_err(scram_error)?;
            }
            Message::ErrorResponse(body) => {
                return Err(Error::Server(Box::new(DbError::parse(body.fields())?)));
            }
            other => return Err(unexpected("during SCRAM authentication", &other)),
        }
        frontend::sasl_response(scram.message(), &mut self.write_buf)?;
        self.flush()?;
        match self.read_message()? {
            Message::AuthenticationSaslFinal(body) => {
                // Verifies the server's signature: it knows the password too.
                scram.finish(body.data()).map_err(scram_error)?;
                Ok(())
            }
            Message::ErrorResponse(body) => {
                Err(Error::Server(Box::new(DbError::parse(body.fields())?)))
            }
            other => Err(unexpected("during SCRAM authentication", &other)),
        }
    }

    /// Run `sql` with the simple query protocol (it may hold several
    /// statements). Returns one [`ResultSet`] per statement. An `ERROR`
    /// from the server is returned as [`Error::Server`] once the server is
    /// ready again, so the session stays usable.
    pub fn simple_query(&mut self, sql: &str) -> Result<Vec<ResultSet>, Error> {
        if self.broken {
            return Err(Error::Closed);
        }
        let result = self.query_inner(sql);
        if let Err(error) = &result
            && error.is_fatal()
        {
            self.broken = true;
        }
        result
    }

    fn query_inner(&mut self, sql: &str) -> Result<Vec<ResultSet>, Error> {
        frontend::query(sql, &mut self.write_buf)?;
        self.flush()?;
        let mut sets = Vec::new();
        let mut current: Option<ResultSet> = None;
        let mut error: Option<DbError> = None;
        loop {
            match self.read_message()? {
                Message::RowDescription(body) => {
                    let columns = body.fields().map(|f| Ok(f.name().to_string())).collect()?;
                    current = Some(ResultSet {
                        columns,
                        ..ResultSet::default()
                    });
                }
                Message::DataRow(body) => {
                    let Some(set) = current.as_mut() else {
                        return Err(Error::Protocol(
                            "a data row before its row description".into(),
                        ));
                    };
                    let buffer = body.buffer();
                    let row: Vec<Option<String>> = body
                        .ranges()
                        .map(|range| {
                            Ok(range.map(|r| String::from_utf8_lossy(&buffer[r]).into_owned()))
                        })
                        .collect()?;
                    if row.len() != set.columns.len() {
                        return Err(Error::Protocol(format!(
                            "a data row of {} values for {} columns",
                            row.len(),
                            set.columns.len()
                        )));
                    }
                    set.rows.push(row);
                }
                Message::CommandComplete(body) => {
                    let mut set = current.take().unwrap_or_default();
                    set.tag = body.tag()?.to_string();
                    sets.push(set);
                }
                Message::EmptyQueryResponse => {}
                Message::ErrorResponse(body) => {
                    let db_error = DbError::parse(body.fields())?;
                    if db_error.ends_session() {
                        return Err(Error::Server(Box::new(db_error)));
                    }
                    // The server skips the rest of the string and sends
                    // ReadyForQuery; the first error is the one to report.
                    current = None;
                    error.get_or_insert(db_error);
                }
                Message::ReadyForQuery(_) => {
                    return match error {
                        Some(error) => Err(Error::Server(Box::new(error))),
                        None => Ok(sets),
                    };
                }
                Message::NoticeResponse(_) | Message::NotificationResponse(_) => {}
                Message::ParameterStatus(body) => self.set_parameter(&body)?,
                Message::CopyInResponse(_) => {
                    // A COPY ... FROM STDIN: refuse it, the server then
                    // reports an error and is ready again.
                    frontend::copy_fail(
                        "COPY is not supported by this check",
                        &mut self.write_buf,
                    )?;
                    self.flush()?;
                }
                Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone => {}
                other => return Err(unexpected("in a query response", &other)),
            }
        }
    }

    fn set_parameter(&mut self, body: &backend::ParameterStatusBody) -> Result<(), Error> {
        let name = body.name()?.to_string();
        let value = body.value()?.to_string();
        match self.parameters.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.parameters.push((name, value)),
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        let result = self.stream.write_all(&self.write_buf);
        self.write_buf.clear();
        result.and_then(|()| self.stream.flush()).map_err(Error::Io)
    }

    /// The next complete message, reading from the stream as needed.
    fn read_message(&mut self) -> Result<Message, Error> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(message) = Message::parse(&mut self.read_buf)? {
                return Ok(message);
            }
            let n = match self.stream.read(&mut chunk) {
                Ok(0) => return Err(Error::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io(e)),
            };
            self.read_buf.extend_from_slice(&chunk[..n]);
        }
    }
}

impl<S: Read + Write> Drop for Client<S> {
    /// Say goodbye (a Terminate message) unless the session is broken.
    fn drop(&mut self) {
        if !self.broken {
            let mut buf = BytesMut::new();
            frontend::terminate(&mut buf);
            let _ = self.stream.write_all(&buf);
            let _ = self.stream.flush();
        }
    }
}

fn unsupported_auth(method: &str) -> Error {
    Error::Auth(format!(
        "the server asks for {method} authentication, which is not supported \
         (supported: password, md5, SCRAM-SHA-256)"
    ))
}

fn unexpected(when: &str, message: &Message) -> Error {
    Error::Protocol(format!(
        "unexpected message `{}` {when}",
        message_name(message)
    ))
}

fn message_name(message: &Message) -> &'static str {
    match message {
        Message::AuthenticationOk => "AuthenticationOk",
        Message::AuthenticationSaslContinue(_) => "AuthenticationSASLContinue",
        Message::AuthenticationSaslFinal(_) => "AuthenticationSASLFinal",
        Message::BindComplete => "BindComplete",
        Message::CloseComplete => "CloseComplete",
        Message::CommandComplete(_) => "CommandComplete",
        Message::DataRow(_) => "DataRow",
        Message::NoData => "NoData",
        Message::ParameterDescription(_) => "ParameterDescription",
        Message::ParseComplete => "ParseComplete",
        Message::PortalSuspended => "PortalSuspended",
        Message::ReadyForQuery(_) => "ReadyForQuery",
        Message::RowDescription(_) => "RowDescription",
        _ => "other",
    }
}
