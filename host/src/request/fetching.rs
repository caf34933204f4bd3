//! `get_remote_file`: resources from imageio's binary
//! repository (or a mirror), cached in the user's appdata folder.

use crate::base::progress::{Progress, ProgressIndicator, StdoutProgressIndicator};
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// imageio's binary repository, the default base URL.
pub const DEFAULT_REMOTE_URL: &str = "https://github.com/imageio/imageio-binaries/raw/master/";

/// How many times a download is tried before giving up (imageio's 4).
pub const DOWNLOAD_TRIES: u32 = 4;

/// When to download a file that is already cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForceDownload {
    /// Never: a cached copy is used (imageio's `False`).
    No,
    /// Always (imageio's `True`).
    Yes,
    /// When the cached copy is older than this `YYYY-MM-DD` date (its
    /// status-change time, in UTC, is before the date's midnight UTC).
    OlderThan(String),
}

impl From<bool> for ForceDownload {
    fn from(b: bool) -> ForceDownload {
        if b { ForceDownload::Yes } else { ForceDownload::No }
    }
}

impl From<&str> for ForceDownload {
    fn from(date: &str) -> ForceDownload {
        ForceDownload::OlderThan(date.to_owned())
    }
}

/// The values of `IMAGEIO_NO_INTERNET` that forbid downloads: imageio's
/// `1`, `true`, `yes`, plus `on` and `y` (any case, surrounding blanks
/// ignored). Anything else (including empty) allows them.
pub const NO_INTERNET_VALUES: [&str; 5] = ["1", "true", "yes", "on", "y"];

/// Whether a value of `IMAGEIO_NO_INTERNET` forbids downloads.
///
/// ```
/// use imageio::core::no_internet_value;
/// assert!(no_internet_value("TRUE") && no_internet_value(" on ") && no_internet_value("1"));
/// assert!(!no_internet_value("0") && !no_internet_value("") && !no_internet_value("off"));
/// ```
pub fn no_internet_value(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    NO_INTERNET_VALUES.contains(&v.as_str())
}

/// Where and how [`Fetcher::fetch`] looks and downloads. Built from the
/// environment by [`Fetcher::from_env`]; every field can be set by a
/// program (tests, mirrors, offline installs) without touching the
/// environment.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// The URL that remote names are appended to (ends with `/`).
    pub base_url: String,
    /// The cache: where downloads go when no directory is given.
    pub cache_dir: PathBuf,
    /// Where cached copies are looked for after the directory given (or the
    /// cache): imageio's `resource_dirs()`.
    pub search_dirs: Vec<PathBuf>,
    /// The network timeout (connect, and each read).
    pub timeout: Duration,
    /// How long one download may take in all (default 5 minutes,
    /// `IMAGEIO_DOWNLOAD_DEADLINE`).
    pub deadline: Duration,
    /// The largest file downloaded (default 1 GiB, `IMAGEIO_MAX_DOWNLOAD`).
    pub max_bytes: u64,
    /// Downloads are forbidden.
    pub no_internet: bool,
    /// Attempts per download.
    pub tries: u32,
    /// Print imageio's messages on stdout ("Imageio: 'x' was not found on
    /// your computer; downloading it now.", ...); otherwise they go to the
    /// log at info level.
    pub print: bool,
}

impl Fetcher {
    /// The settings from the environment: `IMAGEIO_REMOTE_URL` (default
    /// [`DEFAULT_REMOTE_URL`]), the cache `appdata_dir("imageio")` (which
    /// honours `IMAGEIO_USERDIR`), `resource_dirs()`,
    /// `IMAGEIO_REQUEST_TIMEOUT` (default 5 s) and `IMAGEIO_NO_INTERNET`
    /// (see [`NO_INTERNET_VALUES`]); messages printed, as imageio does.
    pub fn from_env() -> Result<Fetcher> {
        Fetcher::from_env_for(None)
    }

    /// Like [`from_env`](Self::from_env), for a fetch into `directory`: when
    /// a directory is given, an unusable user folder is no error (the cache
    /// is then `directory` itself), since nothing needs to go there.
    pub fn from_env_for(directory: Option<&Path>) -> Result<Fetcher> {
        let base_url = std::env::var("IMAGEIO_REMOTE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_REMOTE_URL.to_owned());
        let cache_dir = match (crate::base::dirs::appdata_dir(Some("imageio"), false), directory) {
            (Ok(dir), _) => dir,
            (Err(_), Some(given)) => given.to_owned(),
            (Err(e), None) => {
                return Err(Error::Io {
                    uri: "appdata_dir(\"imageio\")".into(),
                    source: e,
                });
            }
        };
        let limits = crate::request::http::HttpLimits::from_env();
        Ok(Fetcher {
            base_url,
            cache_dir,
            search_dirs: crate::base::dirs::resource_dirs(),
            timeout: limits.timeout,
            deadline: limits.deadline,
            max_bytes: limits.max_bytes,
            no_internet: std::env::var("IMAGEIO_NO_INTERNET").is_ok_and(|v| no_internet_value(&v)),
            tries: DOWNLOAD_TRIES,
            print: true,
        })
    }

    /// A fetcher that downloads from `base_url` into `cache_dir` and looks
    /// nowhere else; timeout 5 s, downloads allowed, messages to the log.
    pub fn new(base_url: &str, cache_dir: impl Into<PathBuf>) -> Fetcher {
        Fetcher {
            base_url: base_url.to_owned(),
            cache_dir: cache_dir.into(),
            search_dirs: Vec::new(),
            timeout: crate::request::http::DEFAULT_TIMEOUT,
            deadline: crate::request::http::DEFAULT_DEADLINE,
            max_bytes: crate::request::http::DEFAULT_MAX_DOWNLOAD,
            no_internet: false,
            tries: DOWNLOAD_TRIES,
            print: false,
        }
    }

    fn say(&self, message: &str) {
        if self.print {
            println!("{message}");
        } else {
            log::info!(target: "imageio", "{message}");
        }
    }

    /// The local path of the remote file `fname` (a relative path such as
    /// `images/chelsea.png`), downloading it if needed:
    ///
    /// 1. `directory` (or the cache), then each search dir, is checked for
    ///    `fname`. A copy found is used unless `force` says otherwise; when a
    ///    `directory` was given and the copy is elsewhere, it is copied into
    ///    `directory` first.
    /// 2. Otherwise, if downloads are forbidden: [`Error::InternetNotAllowed`]
    ///    (checked before `auto`); if `auto` is false: [`Error::NeedDownload`].
    /// 3. The file is downloaded into `directory` (or the cache) through a
    ///    temporary file beside it, renamed into place only when complete
    ///    and of the declared length, so a failed download never leaves a
    ///    partial file. Up to `tries` attempts; then
    ///    [`Error::DownloadFailed`].
    ///
    /// `fname` must stay inside the directory: absolute paths and `..` are
    /// refused. A malformed `force` date is an error before anything else.
    pub fn fetch(
        &self,
        fname: &str,
        directory: Option<&Path>,
        force: &ForceDownload,
        auto: bool,
        progress: &mut dyn ProgressIndicator,
    ) -> Result<PathBuf> {
        let rel = checked_relative(fname)?;
        let not_before = match force {
            ForceDownload::OlderThan(date) => Some(parse_date(date)?),
            _ => None,
        };
        let target_dir = directory
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.cache_dir.clone());
        let mut dirs = vec![target_dir.clone()];
        dirs.extend(self.search_dirs.iter().cloned());
        for dir in &dirs {
            let found = dir.join(&rel);
            if !found.is_file() {
                continue;
            }
            let use_it = match (force, not_before) {
                (ForceDownload::No, _) => true,
                (ForceDownload::OlderThan(date), Some(limit)) => {
                    if changed_time(&found).is_some_and(|t| t >= limit) {
                        true
                    } else {
                        self.say(&format!("File older than {date}, updating..."));
                        break;
                    }
                }
                _ => false,
            };
            if use_it {
                return match directory {
                    Some(given) if given != dir.as_path() => {
                        let copy = given.join(&rel);
                        copy_atomically(&found, &copy)?;
                        Ok(copy)
                    }
                    _ => Ok(found),
                };
            }
        }
        if self.no_internet {
            return Err(Error::InternetNotAllowed);
        }
        if !auto {
            return Err(Error::NeedDownload { name: fname.to_owned() });
        }
        let target = target_dir.join(&rel);
        let url = format!("{}/{}", self.base_url.trim_end_matches('/'), rel_url(&rel));
        self.download(&url, &target, progress)?;
        Ok(target)
    }

    fn download(&self, url: &str, target: &Path, progress: &mut dyn ProgressIndicator) -> Result<()> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = target.parent().unwrap_or(Path::new("."));
        // The folders this download creates, removed again if it fails.
        let created: Vec<PathBuf> = parent
            .ancestors()
            .take_while(|d| !d.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(parent).map_err(|e| Error::Io {
            uri: parent.display().to_string(),
            source: e,
        })?;
        let outcome = self.download_into(url, target, parent, &name, progress);
        if outcome.is_err() {
            for dir in &created {
                // Only an empty folder goes (remove_dir refuses others).
                let _ = std::fs::remove_dir(dir);
            }
        }
        outcome
    }

    fn download_into(
        &self,
        url: &str,
        target: &Path,
        parent: &Path,
        name: &str,
        progress: &mut dyn ProgressIndicator,
    ) -> Result<()> {
        self.say(&format!(
            "Imageio: '{name}' was not found on your computer; downloading it now."
        ));
        let mut last = String::new();
        for attempt in 1..=self.tries.max(1) {
            match self.try_download(attempt, url, target, parent, progress) {
                Ok(()) => {
                    self.say(&format!("File saved as {}.", target.display()));
                    return Ok(());
                }
                Err(e) => {
                    last = e.to_string();
                    self.say(&format!("Error while fetching file: {last}."));
                    if over_a_limit(&e) {
                        // Another try would meet the same bound.
                        break;
                    }
                }
            }
        }
        Err(Error::DownloadFailed {
            name: name.to_owned(),
            cause: last,
        })
    }

    fn try_download(
        &self,
        attempt: u32,
        url: &str,
        target: &Path,
        parent: &Path,
        progress: &mut dyn ProgressIndicator,
    ) -> Result<()> {
        let limits = crate::request::http::HttpLimits {
            timeout: self.timeout,
            deadline: self.deadline,
            max_bytes: self.max_bytes,
        };
        let mut response = crate::request::http::urlopen_bounded(url, limits)?;
        let total = response.content_length();
        let size = total.map(sizeof_fmt).unwrap_or_else(|| "unknown size".into());
        self.say(&format!("Try {attempt}. Download from {url} ({size})"));
        let io_err = |source| Error::Io {
            uri: url.to_owned(),
            source,
        };
        let mut temp = crate::base::io::AtomicFile::new_in(parent, None).map_err(|e| Error::Io {
            uri: parent.display().to_string(),
            source: e,
        })?;
        progress.start("", "bytes", total.unwrap_or(0));
        let mut got: u64 = 0;
        let mut chunk = vec![0u8; 8192];
        let outcome: Result<()> = loop {
            let n = match response.read(&mut chunk) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(io_err(e)),
            };
            if let Err(e) = temp.write_all(&chunk[..n]) {
                break Err(io_err(e));
            }
            got += n as u64;
            progress.increase_progress(Progress::Int(n as i64));
        };
        let outcome = outcome.and_then(|()| match total {
            Some(t) if t != got => Err(Error::Network {
                uri: url.to_owned(),
                message: format!("the connection ended after {got} of {t} bytes"),
            }),
            _ => Ok(()),
        });
        if let Err(e) = outcome {
            progress.fail(Some(&e.to_string()));
            return Err(e);
        }
        progress.finish(Some("Done"));
        temp.commit(target).map_err(|e| Error::Io {
            uri: target.display().to_string(),
            source: e,
        })
    }
}

/// Whether a failed download met one of its bounds (size or deadline).
fn over_a_limit(e: &Error) -> bool {
    let text = e.to_string();
    text.contains("IMAGEIO_MAX_DOWNLOAD") || text.contains("IMAGEIO_DOWNLOAD_DEADLINE")
}

/// The local path of the remote file `fname`, downloading it if needed
/// (imageio's `get_remote_file`; see [`Fetcher::fetch`] for the rules), with
/// the settings of [`Fetcher::from_env`] and a
/// [`StdoutProgressIndicator`] named `Downloading`.
///
/// ```no_run
/// use imageio::core::get_remote_file;
/// let path = get_remote_file("images/chelsea.png", None, false, true)?;
/// assert!(path.ends_with("images/chelsea.png"));
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn get_remote_file(
    fname: &str,
    directory: Option<&Path>,
    force_download: impl Into<ForceDownload>,
    auto: bool,
) -> Result<PathBuf> {
    let force = force_download.into();
    let fetcher = Fetcher::from_env_for(directory)?;
    fetcher.fetch(
        fname,
        directory,
        &force,
        auto,
        &mut StdoutProgressIndicator::new("Downloading"),
    )
}

/// `fname` as a relative path that cannot leave its directory.
fn checked_relative(fname: &str) -> Result<PathBuf> {
    let refuse = |why: &str| {
        Err(Error::InvalidArgument(format!(
            "remote file name '{fname}' is refused: {why}"
        )))
    };
    if fname.is_empty() {
        return refuse("it is empty");
    }
    let normalized = fname.replace('\\', "/");
    if normalized.starts_with('/') || Path::new(fname).is_absolute() || fname.contains(':') {
        return refuse("it is absolute; it must be relative to the cache directory");
    }
    let mut rel = PathBuf::new();
    for part in normalized.split('/') {
        match part {
            "" | "." => {}
            ".." => return refuse("it contains '..', which would escape the cache directory"),
            p => rel.push(p),
        }
    }
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) || rel.as_os_str().is_empty() {
        return refuse("it names no file");
    }
    Ok(rel)
}

/// A relative path as the URL's path part (always `/`-separated).
fn rel_url(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Copies `from` to `to` (creating folders) through a temporary file.
fn copy_atomically(from: &Path, to: &Path) -> Result<()> {
    let err = |source| Error::Io {
        uri: to.display().to_string(),
        source,
    };
    let parent = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(err)?;
    let mut temp = crate::base::io::AtomicFile::new_in(parent, None).map_err(err)?;
    let mut src = std::fs::File::open(from).map_err(|e| Error::Io {
        uri: from.display().to_string(),
        source: e,
    })?;
    std::io::copy(&mut src, &mut temp).map_err(err)?;
    temp.commit(to).map_err(err)
}

/// Seconds since the epoch of a `YYYY-MM-DD` date at midnight UTC, with
/// Python's `strptime("%Y-%m-%d")` errors.
fn parse_date(date: &str) -> Result<i64> {
    let bad = || {
        Error::InvalidArgument(format!(
            "time data '{date}' does not match format '%Y-%m-%d' (force_download must be a YYYY-MM-DD date)"
        ))
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let digits = |s: &str, max_len: usize| !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit());
    if y.len() != 4 || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return Err(bad());
    }
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) {
        return Err(bad());
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d < 1 || d > days_in_month[usize::try_from(m - 1).unwrap_or(0)] {
        return Err(Error::InvalidArgument(format!(
            "day is out of range for month in force_download date '{date}'"
        )));
    }
    Ok(days_from_civil(y, m, d) * 86_400)
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A file's status-change time (imageio's `getctime`) in seconds since the
/// epoch; the modification time where there is no such thing.
fn changed_time(path: &Path) -> Option<i64> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(meta.ctime())
    }
    #[cfg(not(unix))]
    {
        let t = meta.modified().ok()?;
        t.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    }
}

/// A byte count for people (imageio's `_sizeof_fmt`): `0 bytes`, `1 byte`,
/// `1023 bytes`, `2 kB`, `977 kB`, `5.00 GB`, `3072.00 PB`.
///
/// ```
/// use imageio::core::sizeof_fmt;
/// assert_eq!(sizeof_fmt(1536), "2 kB");
/// assert_eq!(sizeof_fmt(5 * 1024 * 1024 * 1024), "5.00 GB");
/// ```
pub fn sizeof_fmt(num: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    const DECIMALS: [usize; 6] = [0, 0, 1, 2, 2, 2];
    if num == 0 {
        return "0 bytes".into();
    }
    if num == 1 {
        return "1 byte".into();
    }
    let n = num as f64;
    let exponent = ((n.ln() / 1024f64.ln()).floor() as usize).min(UNITS.len() - 1);
    let quotient = n / 1024f64.powi(exponent as i32);
    format!("{quotient:.prec$} {}", UNITS[exponent], prec = DECIMALS[exponent])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_spec() {
        let cases: [(u64, &str); 10] = [
            (0, "0 bytes"),
            (1, "1 byte"),
            (2, "2 bytes"),
            (1023, "1023 bytes"),
            (1024, "1 kB"),
            (1536, "2 kB"),
            (1_000_000, "977 kB"),
            (5 * 1024u64.pow(3), "5.00 GB"),
            (1024u64.pow(5), "1.00 PB"),
            (3 * 1024u64.pow(6), "3072.00 PB"),
        ];
        for (n, want) in cases {
            assert_eq!(sizeof_fmt(n), want, "{n}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("2000-03-01").unwrap(), 951_868_800);
        assert_eq!(parse_date("2024-2-29").unwrap(), 1_709_164_800);
        for bad in [
            "2024/01/01",
            "24-01-01",
            "2024-13-01",
            "2024-01",
            "yesterday",
            "2024-01-01x",
            "",
        ] {
            let e = parse_date(bad).unwrap_err().to_string();
            assert!(e.contains("does not match format '%Y-%m-%d'"), "{bad}: {e}");
        }
        let e = parse_date("2023-02-29").unwrap_err().to_string();
        assert!(e.contains("day is out of range for month"), "{e}");
    }

    #[test]
    fn names_cannot_escape() {
        assert_eq!(checked_relative("images/x.png").unwrap(), Path::new("images/x.png"));
        assert_eq!(checked_relative("./images//x.png").unwrap(), Path::new("images/x.png"));
        for bad in [
            "../x.png",
            "images/../../x",
            "/etc/passwd",
            "\\\\server\\x",
            "C:/x",
            "",
            ".",
        ] {
            let e = checked_relative(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("remote file name '{bad}' is refused")), "{e}");
        }
    }
}
