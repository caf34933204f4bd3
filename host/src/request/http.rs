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
    value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// An open http(s) response: its body as a stream, and its declared length.
pub struct UrlResponse {
    url: String,
    content_length: Option<u64>,
    body: Box<dyn Read + Send>,
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
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
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
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or(url);
        return Err(Error::Unsupported(format!(
            "{}: the {scheme} scheme is not supported; only http:// and https:// can be opened",
            Error::short_uri(url)
        )));
    }
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(timeout))
        .timeout_per_read(Some(timeout))
        .timeout_per_write(Some(timeout))
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
    let body = response.into_body().into_with_config().limit(u64::MAX).reader();
    Ok(UrlResponse {
        url: url.to_owned(),
        content_length,
        body: Box::new(body),
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
