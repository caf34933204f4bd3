//! `urlopen` over `ureq`, and the request timeout setting.

use crate::error::{Error, Result};
use std::io::{self, Read};
use std::time::Duration;

/// The timeout when `IMAGEIO_REQUEST_TIMEOUT` is not set (imageio's 5 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The network timeout: `IMAGEIO_REQUEST_TIMEOUT` in seconds if it is a
/// positive number, else 5 s. imageio accepts only integers (`"2.5"` is
/// ignored there); fractions are accepted here too.
///
/// ```
/// // Without the variable (or with a value that is not a positive number):
/// # unsafe { std::env::remove_var("IMAGEIO_REQUEST_TIMEOUT") };
/// assert_eq!(imageio::core::request_timeout(), std::time::Duration::from_secs(5));
/// ```
pub fn request_timeout() -> Duration {
    parse_timeout(std::env::var("IMAGEIO_REQUEST_TIMEOUT").ok().as_deref())
}

/// The timeout a value of `IMAGEIO_REQUEST_TIMEOUT` means.
pub(crate) fn parse_timeout(value: Option<&str>) -> Duration {
    value.and_then(parse_seconds).unwrap_or(DEFAULT_TIMEOUT)
}

/// The most an http(s) response may hold when `IMAGEIO_MAX_DOWNLOAD` is not
/// set (1 GiB): an endless or hostile response is an error, not a full disk.
pub const DEFAULT_MAX_DOWNLOAD: u64 = 1 << 30;

/// How long a whole transfer may take when `IMAGEIO_DOWNLOAD_DEADLINE` is
/// not set (5 minutes): a server that trickles one byte at a time cannot
/// hold a read open forever.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// The bounds on one http(s) transfer: the socket timeout (connecting, and
/// each read), an overall deadline, and the most bytes the body may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connecting and each read or write on the socket.
    pub timeout: Duration,
    /// The whole transfer, headers and body.
    pub deadline: Duration,
    /// The body's size.
    pub max_bytes: u64,
}

impl HttpLimits {
    /// The bounds from the environment: `IMAGEIO_REQUEST_TIMEOUT` (seconds,
    /// default 5), `IMAGEIO_DOWNLOAD_DEADLINE` (seconds, default 300) and
    /// `IMAGEIO_MAX_DOWNLOAD` (bytes, with imageio's size syntax: `"512MB"`,
    /// `"2GiB"`; default 1 GiB). An invalid value is logged and the default
    /// used.
    pub fn from_env() -> HttpLimits {
        let deadline = std::env::var("IMAGEIO_DOWNLOAD_DEADLINE").ok();
        let max = std::env::var("IMAGEIO_MAX_DOWNLOAD").ok();
        HttpLimits {
            timeout: request_timeout(),
            deadline: match deadline.as_deref().map(|v| (v, parse_seconds(v))) {
                None => DEFAULT_DEADLINE,
                Some((_, Some(d))) => d,
                Some((v, None)) => {
                    log::warn!("ignoring IMAGEIO_DOWNLOAD_DEADLINE={v:?}: not a positive number of seconds");
                    DEFAULT_DEADLINE
                }
            },
            max_bytes: match max.as_deref().map(|v| (v, crate::base::io::parse_memory_size(v))) {
                None => DEFAULT_MAX_DOWNLOAD,
                Some((_, Ok(b))) => b,
                Some((v, _)) => {
                    log::warn!("ignoring IMAGEIO_MAX_DOWNLOAD={v:?}: not a size such as 512MB or 2GiB");
                    DEFAULT_MAX_DOWNLOAD
                }
            },
        }
    }

    /// These bounds with another socket timeout.
    pub fn with_timeout(self, timeout: Duration) -> HttpLimits {
        HttpLimits { timeout, ..self }
    }
}

/// A positive, finite number of seconds.
fn parse_seconds(v: &str) -> Option<Duration> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
}

/// An open http(s) response: its body as a stream, and its declared length.
pub struct UrlResponse {
    url: String,
    content_length: Option<u64>,
    body: Box<dyn Read + Send>,
    /// Bytes read so far, against `limits.max_bytes`.
    read: u64,
    /// When the transfer must be over.
    deadline: std::time::Instant,
    limits: HttpLimits,
}

impl UrlResponse {
    /// The URL asked for.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `Content-Length` the server declared, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }
}

impl Read for UrlResponse {
    /// Reads the body; past the deadline or the size limit the read fails
    /// with an error that says which bound was met.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if std::time::Instant::now() > self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the transfer took longer than its deadline of {} s (IMAGEIO_DOWNLOAD_DEADLINE)",
                    self.limits.deadline.as_secs_f64()
                ),
            ));
        }
        // Ask for one byte more than allowed, to see the limit passed.
        let room = self.limits.max_bytes.saturating_sub(self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.body.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.limits.max_bytes {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!(
                    "the response is larger than the limit of {} bytes (IMAGEIO_MAX_DOWNLOAD)",
                    self.limits.max_bytes
                ),
            ));
        }
        Ok(n)
    }
}

impl std::fmt::Debug for UrlResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlResponse")
            .field("url", &self.url)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

/// Opens an http(s) URL for reading (imageio's `urlopen`). `timeout` bounds
/// connecting and each read or write on the socket (like Python's socket
/// timeout), not the whole transfer. A status other than 2xx is an error
/// naming it; redirects are followed. `ftp://` and other schemes are refused
/// with an error that says so (imageio's ftp branch silently yields no
/// file). A body shorter than its `Content-Length` fails when read.
///
/// ```no_run
/// use std::io::Read;
/// let mut r = imageio::urlopen("https://example.com/x.png", std::time::Duration::from_secs(5))?;
/// let mut bytes = Vec::new();
/// r.read_to_end(&mut bytes).map_err(|e| imageio::Error::Io { uri: r.url().into(), source: e })?;
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn urlopen(url: &str, timeout: Duration) -> Result<UrlResponse> {
    urlopen_bounded(url, HttpLimits::from_env().with_timeout(timeout))
}

/// [`urlopen`] with explicit bounds: besides the socket timeout, the whole
/// transfer must end within `limits.deadline`, and the body may hold at
/// most `limits.max_bytes` (a larger `Content-Length` is refused before
/// anything is read).
pub fn urlopen_bounded(url: &str, limits: HttpLimits) -> Result<UrlResponse> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or(url);
        return Err(Error::Unsupported(format!(
            "{}: the {scheme} scheme is not supported; only http:// and https:// can be opened",
            Error::short_uri(url)
        )));
    }
    let started = std::time::Instant::now();
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(limits.timeout))
        .timeout_per_read(Some(limits.timeout))
        .timeout_per_write(Some(limits.timeout))
        // A backstop: the body's own check below names the deadline first.
        .timeout_global(Some(limits.deadline.saturating_add(limits.timeout)))
        .http_status_as_error(false)
        .user_agent(concat!("imageio-rs/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let network = |message: String| Error::Network {
        uri: url.to_owned(),
        message,
    };
    let response = agent.get(url).call().map_err(|e| network(describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(network(format!(
            "HTTP status {}{}",
            status.as_u16(),
            status.canonical_reason().map(|r| format!(" {r}")).unwrap_or_default()
        )));
    }
    let content_length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = content_length.filter(|&n| n > limits.max_bytes) {
        return Err(network(format!(
            "the response declares {n} bytes, over the limit of {} bytes (IMAGEIO_MAX_DOWNLOAD)",
            limits.max_bytes
        )));
    }
    let body = response.into_body().into_with_config().limit(u64::MAX).reader();
    Ok(UrlResponse {
        url: url.to_owned(),
        content_length,
        body: Box::new(body),
        read: 0,
        deadline: started + limits.deadline,
        limits,
    })
}

/// A short description of a `ureq` error.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_values() {
        assert_eq!(parse_timeout(None), DEFAULT_TIMEOUT);
        assert_eq!(parse_timeout(Some("2")), Duration::from_secs(2));
        assert_eq!(parse_timeout(Some("2.5")), Duration::from_millis(2500));
        assert_eq!(parse_timeout(Some("0")), DEFAULT_TIMEOUT);
        assert_eq!(parse_timeout(Some("-1")), DEFAULT_TIMEOUT);
        assert_eq!(parse_timeout(Some("soon")), DEFAULT_TIMEOUT);
    }

    #[test]
    fn other_schemes_are_refused() {
        let e = urlopen("ftp://example.com/x.png", DEFAULT_TIMEOUT).unwrap_err();
        assert!(e.to_string().contains("the ftp scheme is not supported"), "{e}");
    }
}
