//! [`CliError`]: every way a command can fail, each printed as one line on stderr
//! (`error: …`) with exit status 2 for a mistake in the command line or its inputs and 1 for a
//! failure met while running. Secrets never appear in these lines.

use std::fmt;
use std::io;
use std::path::PathBuf;

use responses_ws_core::ws::HttpResponse;
use responses_ws_tokio::ConnectError;

use crate::agent::AgentError;

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum CliError {
    /// `--live` (or a command needing a key) without one.
    NoApiKey,
    /// A URL the client cannot use.
    BadUrl {
        /// As given.
        url: String,
        /// What is wrong with it.
        error: String,
    },
    /// A bad option value that clap cannot check.
    Usage(String),
    /// An input file or directory that cannot be used.
    BadInput {
        /// Which.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The server answered the upgrade with something other than `101`.
    Refused {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// The API error's message (or the body's start).
        message: Option<String>,
        /// `Retry-After`, when given.
        retry_after: Option<String>,
        /// Attempts made before giving up.
        attempts: u32,
    },
    /// Connecting failed for another reason (unreachable, TLS, timeout …).
    Connect(ConnectError),
    /// The agent loop ended without a final answer.
    Agent(AgentError),
    /// Serving or talking failed at the OS level.
    Io {
        /// What was being done.
        doing: String,
        /// What the OS said.
        source: io::Error,
    },
    /// A benchmark run failed.
    Bench(String),
    /// A conversation of the pool (`run --agents`) failed.
    Pool(responses_ws_tokio::pool::Error),
}

impl CliError {
    /// The process exit status.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::NoApiKey
            | CliError::Usage(_)
            | CliError::BadUrl { .. }
            | CliError::BadInput { .. } => 2,
            _ => 1,
        }
    }

    /// The error of `Connection::connect` to `url`.
    pub(crate) fn connect(url: &str, error: ConnectError) -> CliError {
        if let ConnectError::Url(url_error) = &error {
            return CliError::BadUrl {
                url: url.into(),
                error: url_error.to_string(),
            };
        }
        match error.response() {
            Some(response) => refused(response, error.attempts()),
            None => CliError::Connect(error),
        }
    }

    /// An OS error while `doing` something.
    pub(crate) fn io(doing: impl Into<String>, source: io::Error) -> CliError {
        CliError::Io {
            doing: doing.into(),
            source,
        }
    }
}

fn refused(response: &HttpResponse, attempts: u32) -> CliError {
    let body = String::from_utf8_lossy(&response.body);
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|json| {
            let error = json.get("error").unwrap_or(&json);
            error.get("message")?.as_str().map(str::to_owned)
        })
        .or_else(|| {
            let text = body.trim();
            (!text.is_empty()).then(|| text.chars().take(200).collect())
        });
    CliError::Refused {
        status: response.status,
        reason: response.reason.clone(),
        message,
        retry_after: response.header("retry-after").map(str::to_owned),
        attempts,
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::NoApiKey => f.write_str(
                "--live needs an API key: set OPENAI_API_KEY (the mock demo needs none)",
            ),
            CliError::Usage(message) => f.write_str(message),
            CliError::BadUrl { url, error } => write!(f, "bad URL {url:?}: {error}"),
            CliError::BadInput { path, why } => write!(f, "{}: {why}", path.display()),
            CliError::Refused {
                status,
                reason,
                message,
                retry_after,
                attempts,
            } => {
                write!(f, "the server refused the upgrade: {status} {reason}")?;
                if let Some(message) = message {
                    write!(f, ": {message}")?;
                }
                if let Some(after) = retry_after {
                    write!(f, " (retry after {after} s)")?;
                }
                if *status == 426 {
                    f.write_str(
                        " (the server wants plain HTTP: WebSocket mode is not available there)",
                    )?;
                }
                if *attempts > 1 {
                    write!(f, " (gave up after {attempts} attempts)")?;
                }
                Ok(())
            }
            CliError::Connect(error) => write!(f, "{error}"),
            CliError::Agent(error) => write!(f, "{error}"),
            CliError::Io { doing, source } => write!(f, "{doing}: {source}"),
            CliError::Bench(message) => write!(f, "benchmark failed: {message}"),
            CliError::Pool(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<AgentError> for CliError {
    fn from(error: AgentError) -> Self {
        CliError::Agent(error)
    }
}
