//! The conformance kit for plugin authors (`imageio check-plugin PATH`):
//! loads one plugin library and checks, for each format it declares, what
//! a host relies on.
//!
//! - **load**: the library loads and its table is valid (the loader's
//!   checks: entry point, ABI major, sizes, required functions).
//! - **table**: a name, modes within `iIvV`, extensions starting with `.`,
//!   a description, and read or write declared.
//! - **can_read**: deterministic (the same answer twice), within 0..100, and
//!   0 for empty input and for random bytes (claiming anything fails).
//! - **round trip**: for every mode it declares and every dtype and layout
//!   (gray, RGB, RGBA; volumes), a write then a read with the same format.
//!   A write refused with a clean error is "not claimed"; one that succeeds
//!   must read back with the same shape and dtype (or a lossless conversion
//!   the format imposes: gray to RGB(A), RGB to RGBA with opaque alpha, bool
//!   to 0/255, uint8 to uint16 x257) and the same values, or, for
//!   `uint8`, within 30 dB PSNR (reported as lossy).
//! - **options**: an option the plugin does not know fails reading and
//!   writing (never silently ignored).
//! - **damaged input**: truncations and byte corruptions of a valid file
//!   must each read or fail with an error that has a message (a truncated
//!   file read as the whole image with invented pixels fails): no panic, no
//!   crash, no hang.
//!
//! The plugin runs isolated, in worker processes, through every phase: it
//! is loaded (and its table read) in a child process, and every call of
//! every check goes to a worker with a time limit, so a crash, an abort, an
//! `exit` or a hang anywhere (the library's constructor, the entry point,
//! `can_read`, a round trip, the threads) is that check's failure and the
//! report is still complete. Without isolation (`IMAGEIO_ISOLATION=off`,
//! or no worker program) the damaged-input phase still runs in a child
//! `imageio` process.
//! - **threads**: concurrent reads of one file through one format agree
//!   with a single read (the plugin's thread-safety claim, or the host's
//!   serialisation when it makes none).
//! - **error messages**: every error the plugin returned had a message.

use imageio::{Dict, Error, Format, FormatManager, Image, NdArray, Request};
use imageio_plugin_api::Dtype;
use ndarray::{ArrayD, IxDyn};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed: the plugin does not conform.
    Fail,
    /// Could not be run (with the reason in the detail).
    Skip,
    /// Passed, with something the author should fix (not a failure).
    Warn,
}

/// One line of the text report.
fn check_line(c: &Check) -> String {
    let what = match &c.format {
        Some(f) => format!("{f} {}", c.name),
        None => c.name.clone(),
    };
    format!("  {what:<24} {}  {}", c.outcome.as_str(), c.detail)
}

impl Outcome {
    /// `PASS`, `FAIL`, `SKIP` or `WARN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
            Outcome::Warn => "WARN",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    /// The format checked, or `None` for the library.
    pub format: Option<String>,
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
}

/// The conformance report of one plugin library.
#[derive(Debug, Clone)]
pub struct Report {
    /// The library checked.
    pub path: PathBuf,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Print each check's line on stdout as it is known.
    live: bool,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.outcome == Outcome::Fail)
    }

    /// The verdict line: `PASS` only when nothing failed, and what was
    /// checked and what was skipped, so a pass with skipped checks never
    /// reads as a full one (`result: PASS (7 checked, 0 failed; 2 skipped:
    /// options, threads)`).
    pub fn result_line(&self) -> String {
        let failed = self.checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
        let skipped: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Skip)
            .map(|c| c.name.as_str())
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for n in &skipped {
            if !names.contains(n) {
                names.push(n);
            }
        }
        let mut skips = if skipped.is_empty() {
            String::new()
        } else {
            format!("; {} skipped: {}", skipped.len(), names.join(", "))
        };
        let warned: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Warn)
            .map(|c| c.name.as_str())
            .collect();
        if !warned.is_empty() {
            skips.push_str(&format!(
                "; {} warning{}: {}",
                warned.len(),
                if warned.len() == 1 { "" } else { "s" },
                warned.join(", ")
            ));
        }
        format!(
            "result: {} ({} checked, {failed} failed{skips})\n",
            if failed == 0 { "PASS" } else { "FAIL" },
            self.checks.len() - skipped.len()
        )
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "path": self.path.display().to_string(),
            "passed": self.passed(),
            "checks": self.checks.iter().map(|c| serde_json::json!({
                "format": c.format, "check": c.name, "outcome": c.outcome.as_str(), "detail": c.detail,
            })).collect::<Vec<_>>(),
        })
    }

    fn push(&mut self, format: Option<&str>, name: &str, outcome: Outcome, detail: impl Into<String>) {
        let c = Check {
            format: format.map(str::to_owned),
            name: name.to_owned(),
            outcome,
            detail: detail.into(),
        };
        if self.live {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", check_line(&c));
            let _ = out.flush();
        }
        self.checks.push(c);
    }
}

/// How to run the checks.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// A valid file per format name, for formats that cannot write their
    /// own sample (read-only plugins).
    pub samples: Vec<(String, PathBuf)>,
    /// The `imageio` executable to run the damaged-input phase in a child
    /// process (crash and hang isolation); `None` runs it in this process.
    pub worker: Option<PathBuf>,
    /// The time limit of the damaged-input phase per format, and of each
    /// call into the plugin (load, every call of every check).
    pub timeout: Option<Duration>,
    /// Print each check's line as it is known (the caller prints the
    /// header and the verdict).
    pub live: bool,
    /// Save the inputs that failed here (damaged files that crashed, hung,
    /// panicked, read with invented pixels or failed without a message;
    /// round-trip files that did not read back).
    pub keep: Option<PathBuf>,
}

/// Saves `bytes` as `name` in the keep folder, if there is one.
fn keep_file(keep: Option<&Path>, name: &str, bytes: &[u8]) {
    if let Some(dir) = keep {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(dir.join(safe), bytes))
            .is_err()
        {
            log::warn!("cannot save {name} in {}", dir.display());
        }
    }
}

/// A deterministic pseudo-random generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Sample data of a dtype and shape: smooth `uint8` (fair to lossy
/// codecs), pseudo-random values over the range for other dtypes.
fn sample(dtype: Dtype, shape: &[usize], seed: u64) -> NdArray {
    let mut rng = Rng(seed);
    let n: usize = shape.iter().product();
    let s = IxDyn(shape);
    macro_rules! fill {
        ($t:ty, $f:expr) => {
            ArrayD::from_shape_vec(s, (0..n).map(|_| $f(rng.next()) as $t).collect())
                .expect("sized")
                .into()
        };
    }
    match dtype {
        Dtype::U8 => {
            let w = shape.get(1).copied().unwrap_or(1).max(1);
            let c = if shape.len() >= 3 { shape[shape.len() - 1] } else { 1 };
            NdArray::U8(
                ArrayD::from_shape_vec(
                    s,
                    (0..n)
                        .map(|i| {
                            let px = i / c;
                            (20 + (px / w) * 3 + (px % w) * 3 + (i % c) * 20 + (rng.next() % 4) as usize).min(255) as u8
                        })
                        .collect(),
                )
                .expect("sized"),
            )
        }
        Dtype::U16 => fill!(u16, |v| v),
        Dtype::U32 => fill!(u32, |v| v),
        Dtype::U64 => fill!(u64, |v| v),
        Dtype::I8 => fill!(i8, |v| v),
        Dtype::I16 => fill!(i16, |v| v),
        Dtype::I32 => fill!(i32, |v| v),
        Dtype::I64 => fill!(i64, |v| v),
        Dtype::F32 => fill!(f32, |v: u64| (v >> 40) as f32 / 1000.0 - 8000.0),
        Dtype::F64 => fill!(f64, |v: u64| (v >> 11) as f64 / 1e9 - 4e6),
        Dtype::Bool => fill!(bool, |v: u64| v & 1 == 1),
        Dtype::F16 => NdArray::F16(
            ArrayD::from_shape_vec(
                s,
                (0..n)
                    .map(|_| imageio::half::f16::from_f32((rng.next() >> 48) as f32 / 64.0 - 512.0))
                    .collect(),
            )
            .expect("sized"),
        ),
    }
}

const DTYPES: [Dtype; 12] = Dtype::ALL;

/// The layouts written in a mode: (label, shape of one item, items).
fn layouts(mode: char) -> Vec<(&'static str, Vec<usize>, usize)> {
    match mode {
        'i' => vec![
            ("gray", vec![16, 24], 1),
            ("rgb", vec![16, 24, 3], 1),
            ("rgba", vec![16, 24, 4], 1),
        ],
        'I' => vec![("gray x3", vec![16, 24], 3), ("rgb x3", vec![16, 24, 3], 3)],
        'v' => vec![("volume", vec![4, 16, 24], 1), ("rgb volume", vec![4, 16, 24, 3], 1)],
        _ => vec![("volumes x2", vec![3, 8, 12], 2)],
    }
}

/// Whether an error is the plugin's own, and its message.
fn plugin_message(e: &Error) -> Option<&str> {
    match e {
        Error::Plugin { message, .. } | Error::Protocol { message, .. } => Some(message),
        _ => None,
    }
}

/// The option the kit passes to see that unknown options are refused.
const UNKNOWN_OPTION: &str = "iio_conformance_no_such_option";

/// What the kit saw of errors.
#[derive(Default)]
struct Errors {
    seen: usize,
    without_message: Vec<String>,
    /// Failures that left `err->code` unset (the ABI says the callee sets
    /// it to the status it returns).
    code_unset: Vec<String>,
}

impl Errors {
    fn note(&mut self, what: &str, e: &Error) {
        if let Some(m) = plugin_message(e) {
            self.seen += 1;
            if m.trim().is_empty() || e.plugin_gave_no_message() {
                self.without_message.push(what.to_owned());
            }
            if e.plugin_left_code_unset() {
                self.code_unset.push(what.to_owned());
            }
        }
    }
}

/// Normalises what was written to what a format may legitimately return:
/// gray expanded to RGB or RGBA (opaque), RGB to RGBA, `bool` as 0/255, and
/// `uint8` widened to `uint16` (x257, so 255 is 65535), for formats that
/// store only some layouts or depths. Each is lossless.
fn expected_as(written: &NdArray, read: &NdArray) -> Option<NdArray> {
    if written.shape() == read.shape() && written.dtype() == read.dtype() {
        return Some(written.clone());
    }
    let base = match (written, read.dtype()) {
        (NdArray::Bool(a), Dtype::U8) => NdArray::U8(a.mapv(|b| if b { 255 } else { 0 })),
        (NdArray::U8(a), Dtype::U16) => NdArray::U16(a.mapv(|v| u16::from(v) * 257)),
        (w, d) if w.dtype() == d => w.clone(),
        _ => return None,
    };
    match base {
        NdArray::U8(a) => expand_channels(a, read.shape(), u8::MAX).map(NdArray::U8),
        NdArray::U16(a) => expand_channels(a, read.shape(), u16::MAX).map(NdArray::U16),
        other => (other.shape() == read.shape()).then_some(other),
    }
}

/// Gray or RGB pixels expanded to the `read` shape's RGB or RGBA (alpha
/// `opaque`), or the array itself when the shapes already agree.
fn expand_channels<T: Copy>(a: ArrayD<T>, rs: &[usize], opaque: T) -> Option<ArrayD<T>> {
    let ws = a.shape().to_vec();
    let (gray, wc) = if ws.len() + 1 == rs.len() {
        (true, 1)
    } else {
        (false, *ws.last()?)
    };
    let prefix = if gray { &ws[..] } else { &ws[..ws.len() - 1] };
    let rc = *rs.last()?;
    if rs[..rs.len() - 1] != *prefix || !(wc == 1 || wc == 3) || !(rc == 3 || rc == 4) || rc <= wc {
        return (a.shape() == rs).then_some(a);
    }
    let flat: Vec<T> = a.iter().copied().collect();
    let mut out = Vec::with_capacity(flat.len() / wc * rc);
    for px in flat.chunks_exact(wc) {
        let rgb = if wc == 1 { [px[0]; 3] } else { [px[0], px[1], px[2]] };
        out.extend_from_slice(&rgb[..rc.min(3)]);
        if rc == 4 {
            out.push(opaque);
        }
    }
    ArrayD::from_shape_vec(IxDyn(rs), out).ok()
}

/// The colour of fully transparent pixels is free: formats with binary
/// transparency (GIF) do not keep it.
fn clear_transparent(a: &NdArray) -> NdArray {
    match a {
        NdArray::U8(x) if x.ndim() == 3 && x.shape()[2] == 4 => {
            let mut y = x.clone();
            for mut px in y.rows_mut() {
                if px[3] == 0 {
                    px.fill(0);
                }
            }
            NdArray::U8(y)
        }
        other => other.clone(),
    }
}

/// `None` when equal, else the PSNR in dB for `uint8` (or `-inf`).
fn difference(a: &NdArray, b: &NdArray) -> Option<f64> {
    if a == b {
        return None;
    }
    let (a, b) = (&clear_transparent(a), &clear_transparent(b));
    if a == b {
        return None;
    }
    match (a, b) {
        (NdArray::U8(x), NdArray::U8(y)) if x.shape() == y.shape() => {
            let mse = x
                .iter()
                .zip(y.iter())
                .map(|(p, q)| (f64::from(*p) - f64::from(*q)).powi(2))
                .sum::<f64>()
                / x.len().max(1) as f64;
            Some(10.0 * (255.0f64 * 255.0 / mse).log10())
        }
        _ => Some(f64::NEG_INFINITY),
    }
}

fn write_items(fm: &FormatManager, format: &Format, mode: char, items: &[Image]) -> imageio::Result<Vec<u8>> {
    let ext = format.extensions().first().cloned().unwrap_or_default();
    let req = Request::with_options(
        imageio::request::RETURN_BYTES,
        &format!("w{mode}"),
        Some(&ext),
        Dict::new(),
    )?;
    let mut w = fm.writer_for(req, Some(format.name()))?;
    for im in items {
        w.append_data(im, None)?;
    }
    w.close()?;
    w.get_result()
        .ok_or_else(|| Error::Unsupported("the writer produced no bytes".into()))
}

fn read_items(fm: &FormatManager, format: &Format, mode: char, bytes: Vec<u8>) -> imageio::Result<Vec<Image>> {
    let req = Request::new(bytes, &format!("r{mode}"))?;
    let mut r = fm.reader_for(req, Some(format.name()))?;
    let mut out = Vec::new();
    for im in r.iter_data()? {
        out.push(im?);
    }
    r.get_meta_data(None)?;
    r.close()?;
    Ok(out)
}

/// The round trips of one mode: (check detail, failed), and a sample file.
fn round_trips(
    fm: &FormatManager,
    format: &Format,
    mode: char,
    errors: &mut Errors,
    sample_out: &mut Option<Vec<u8>>,
    keep: Option<&Path>,
) -> (String, bool) {
    let (mut ok, mut lossy, mut refused) = (0, 0, 0);
    let mut problems = Vec::new();
    let mut seed = 1;
    for dtype in DTYPES {
        for (label, shape, count) in layouts(mode) {
            seed += 1;
            let items: Vec<Image> = (0..count)
                .map(|k| Image::from(sample(dtype, &shape, seed * 31 + k as u64)))
                .collect();
            let what = format!("{} {label}", dtype.name());
            let bytes = match write_items(fm, format, mode, &items) {
                Ok(b) => b,
                Err(e) => {
                    errors.note(&format!("writing {what}"), &e);
                    match e {
                        Error::Panicked { message, .. } => {
                            problems.push(format!("{what}: writing panicked: {message}"))
                        }
                        Error::WorkerFailed { reason, .. } => {
                            problems.push(format!("{what}: writing: the plugin's worker process {reason}"))
                        }
                        _ => refused += 1,
                    }
                    continue;
                }
            };
            let read = match read_items(fm, format, mode, bytes.clone()) {
                Ok(r) => r,
                Err(e) => {
                    errors.note(&format!("reading back {what}"), &e);
                    problems.push(format!("{what}: written, but reading it back failed: {e}"));
                    keep_file(keep, &format!("{}-roundtrip-{mode}-{what}.bin", format.name()), &bytes);
                    continue;
                }
            };
            if read.len() != items.len() {
                problems.push(format!(
                    "{what}: wrote {} images, read back {}",
                    items.len(),
                    read.len()
                ));
                continue;
            }
            let mut this_lossy = false;
            let mut bad = None;
            for (w, r) in items.iter().zip(&read) {
                let Some(expected) = expected_as(&w.data, &r.data) else {
                    bad = Some(format!(
                        "{what}: wrote {:?} {}, read back {:?} {}",
                        w.data.shape(),
                        w.data.dtype().name(),
                        r.data.shape(),
                        r.data.dtype().name()
                    ));
                    break;
                };
                match difference(&expected, &r.data) {
                    None => {}
                    Some(psnr) if psnr >= 30.0 => this_lossy = true,
                    Some(psnr) => {
                        bad = Some(format!("{what}: the values read back differ (PSNR {psnr:.1} dB)"));
                        break;
                    }
                }
            }
            match bad {
                Some(b) => {
                    problems.push(b);
                    keep_file(keep, &format!("{}-roundtrip-{mode}-{what}.bin", format.name()), &bytes);
                }
                None => {
                    ok += 1;
                    if this_lossy {
                        lossy += 1;
                    }
                    if sample_out.is_none() || (dtype == Dtype::U8 && label == "rgb") {
                        *sample_out = Some(bytes);
                    }
                }
            }
        }
    }
    let mut detail = format!(
        "{ok} written and read back ({} lossless, {lossy} lossy), {refused} refused cleanly",
        ok - lossy
    );
    if ok == 0 && problems.is_empty() {
        detail.push_str("; no dtype or layout could be written in this mode");
        return (detail, true);
    }
    if !problems.is_empty() {
        detail = format!("{}; {detail}", problems.join("; "));
    }
    (detail, !problems.is_empty())
}

/// The bad inputs of the damaged-input phase: garbage (empty, one byte,
/// random bytes), then, given a valid file, its truncations and byte
/// corruptions (a fixed seed, so every run checks the same files).
pub fn damaged_inputs(sample: &[u8]) -> Vec<DamagedInput> {
    let mut garbage = Rng(0xBAD);
    let garbage_files: [Vec<u8>; 4] = [
        Vec::new(),
        vec![0],
        (0..64).map(|_| garbage.next() as u8).collect(),
        (0..4096).map(|_| garbage.next() as u8).collect(),
    ];
    let mut out: Vec<DamagedInput> = garbage_files
        .into_iter()
        .map(|bytes| DamagedInput {
            bytes,
            truncated: false,
        })
        .collect();
    let n = sample.len();
    let mut cuts: Vec<usize> = vec![0, 1, 2, 4, 8, 16, 32, 64, 128, 256];
    cuts.extend((1..16).map(|k| n * k / 16));
    cuts.extend([n.saturating_sub(1), n.saturating_sub(2)]);
    cuts.sort_unstable();
    cuts.dedup();
    for c in cuts.into_iter().filter(|&c| c < n) {
        out.push(DamagedInput {
            bytes: sample[..c].to_vec(),
            truncated: true,
        });
    }
    let mut rng = Rng(0xC0FFEE);
    for k in 0..160 {
        let mut v = sample.to_vec();
        if v.is_empty() {
            break;
        }
        let flips = 1 + k % 8;
        for _ in 0..flips {
            let at = (rng.next() as usize) % v.len();
            // Corrupt the header more often: it drives allocation and parsing.
            let at = if k % 2 == 0 { at % v.len().min(512) } else { at };
            v[at] = match rng.next() % 4 {
                0 => 0xFF,
                1 => 0x00,
                2 => v[at] ^ (1 << (rng.next() % 8)),
                _ => rng.next() as u8,
            };
        }
        out.push(DamagedInput {
            bytes: v,
            truncated: false,
        });
    }
    out
}

/// One file of the damaged-input phase.
pub struct DamagedInput {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// A prefix of the valid sample (a read that succeeds must not invent
    /// the missing pixels).
    pub truncated: bool,
}

/// The result of reading one damaged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseOutcome {
    /// It read (a damage the format does not notice).
    Read,
    /// A clean error with a message.
    CleanError,
    /// An error without a message.
    SilentError,
    /// The plugin panicked (contained by the SDK).
    Panicked,
    /// A truncated file read as the whole image, with pixels that differ
    /// from the whole file's: the plugin invented the missing data.
    Invented,
    /// The plugin's worker process crashed, aborted or exited.
    Crashed,
    /// The plugin's worker process overran the time limit.
    Hung,
}

impl CaseOutcome {
    /// Whether this outcome fails the phase.
    fn failed(self) -> bool {
        !matches!(self, CaseOutcome::Read | CaseOutcome::CleanError)
    }

    /// A short name, for saved files.
    fn label(self) -> &'static str {
        match self {
            CaseOutcome::Read => "read",
            CaseOutcome::CleanError => "error",
            CaseOutcome::SilentError => "silent-error",
            CaseOutcome::Panicked => "panic",
            CaseOutcome::Invented => "invented-pixels",
            CaseOutcome::Crashed => "crash",
            CaseOutcome::Hung => "hang",
        }
    }
}

/// Reads every image of `bytes` with `format` (at most 64), with a memory
/// guard so that a hostile size field is refused, not obeyed.
fn read_all(fm: &FormatManager, format: &str, bytes: Vec<u8>) -> imageio::Result<Vec<Image>> {
    let req = Request::new(bytes, "r?")?;
    let mut r = fm.reader_for(req, Some(format))?;
    r.set_max_image_bytes(256 << 20);
    let n = r.get_length()?;
    let mut images = Vec::new();
    for i in 0..n.min(64) {
        images.push(r.get_data(i)?);
    }
    r.get_meta_data(None)?;
    r.close()?;
    Ok(images)
}

/// Reads one damaged file with `format` (every image and the metadata).
/// `whole` is what the whole valid file reads as, for a truncated one: a
/// truncation that reads with the whole file's shapes but other pixels
/// invented them.
pub fn read_damaged(fm: &FormatManager, format: &str, input: DamagedInput, whole: Option<&[Image]>) -> CaseOutcome {
    read_damaged_noted(fm, format, input, whole).0
}

/// Like [`read_damaged`], with the worker's failure when it crashed or
/// hung, and whether the error left `err->code` unset.
fn read_damaged_noted(
    fm: &FormatManager,
    format: &str,
    input: DamagedInput,
    whole: Option<&[Image]>,
) -> (CaseOutcome, Option<String>, bool) {
    let mut code_unset = false;
    let outcome = match read_all(fm, format, input.bytes) {
        Ok(images) => {
            let invented = input.truncated
                && whole.is_some_and(|whole| {
                    images
                        .iter()
                        .zip(whole)
                        .any(|(a, b)| a.data.shape() == b.data.shape() && a.data != b.data)
                });
            if invented {
                CaseOutcome::Invented
            } else {
                CaseOutcome::Read
            }
        }
        Err(Error::Panicked { .. }) => CaseOutcome::Panicked,
        Err(Error::WorkerFailed { reason, .. }) => {
            let hung = reason.contains("did not finish");
            return (
                if hung { CaseOutcome::Hung } else { CaseOutcome::Crashed },
                Some(reason),
                false,
            );
        }
        Err(e) => {
            code_unset = e.plugin_left_code_unset();
            match plugin_message(&e) {
                Some(m) if m.trim().is_empty() || e.plugin_gave_no_message() => CaseOutcome::SilentError,
                _ => CaseOutcome::CleanError,
            }
        }
    };
    (outcome, None, code_unset)
}

/// Runs the damaged-input phase on `sample`, giving each file's outcome.
pub fn damaged_phase(fm: &FormatManager, format: &str, sample: &[u8], mut each: impl FnMut(CaseOutcome)) {
    let whole = read_all(fm, format, sample.to_vec()).ok();
    for input in damaged_inputs(sample) {
        each(read_damaged(fm, format, input, whole.as_deref()));
    }
}

/// The damaged-input phase in this process (the plugin's calls go to its
/// worker when it is isolated): stops at the first crash or hang.
fn damaged_in_process(
    fm: &FormatManager,
    format: &str,
    sample: &[u8],
    keep: Option<&Path>,
    errors: &mut Errors,
) -> Damaged {
    let mut counts = [0usize; OUTCOMES];
    let mut uncoded = 0;
    let mut problem = None;
    let whole = read_all(fm, format, sample.to_vec()).ok();
    for (n, input) in damaged_inputs(sample).into_iter().enumerate() {
        let bytes = keep.map(|_| input.bytes.clone());
        let (o, why, code_unset) = read_damaged_noted(fm, format, input, whole.as_deref());
        uncoded += usize::from(code_unset);
        if o.failed()
            && let Some(b) = &bytes
        {
            keep_file(keep, &format!("{format}-damaged-{}-{}.bin", n + 1, o.label()), b);
        }
        match o {
            CaseOutcome::Crashed | CaseOutcome::Hung => {
                let what = if o == CaseOutcome::Hung { "HANG" } else { "CRASH" };
                problem = Some(format!(
                    "{what}: the plugin's worker process {} on damaged file {}",
                    why.unwrap_or_default(),
                    n + 1
                ));
                break;
            }
            o => counts[o as usize] += 1,
        }
    }
    if uncoded > 0 {
        errors.code_unset.push(format!("{uncoded} damaged files"));
    }
    summarize(counts, problem)
}

/// How many [`CaseOutcome`]s the summary counts (crashes and hangs stop
/// the phase instead).
const OUTCOMES: usize = 5;

/// The damaged-input phase's verdict: the detail, whether it failed, and
/// the count of each [`CaseOutcome`].
type Damaged = (String, bool, [usize; OUTCOMES]);

fn summarize(counts: [usize; OUTCOMES], problem: Option<String>) -> Damaged {
    let [read, clean, silent, panicked, invented] = counts;
    let total = read + clean + silent + panicked + invented;
    let mut detail = format!("{total} damaged files: {read} read, {clean} clean errors");
    if silent > 0 {
        let _ = write!(detail, ", {silent} errors WITHOUT a message");
    }
    if panicked > 0 {
        let _ = write!(detail, ", {panicked} PANICS");
    }
    if invented > 0 {
        let _ = write!(
            detail,
            ", {invented} TRUNCATED files read as whole images with INVENTED pixels (a cut file must be an error)"
        );
    }
    let failed = silent > 0 || panicked > 0 || invented > 0 || problem.is_some();
    if let Some(p) = problem {
        detail = format!("{p} ({total} handled before it: {read} read, {clean} clean errors)");
    } else if !failed {
        detail.push_str("; no crash, no hang");
    }
    (detail, failed, counts)
}

/// The damaged-input phase in a child process (`imageio check-plugin PATH
/// --worker FORMAT --sample FILE`), which prints one outcome digit per file.
fn damaged_in_child(worker: &Path, library: &Path, format: &str, sample: &[u8], timeout: Duration) -> Damaged {
    use std::io::Read;
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return (format!("cannot make a temporary folder: {e}"), true, [0; OUTCOMES]),
    };
    let sample_path = dir.path().join("sample.bin");
    if let Err(e) = std::fs::write(&sample_path, sample) {
        return (format!("cannot write the sample: {e}"), true, [0; OUTCOMES]);
    }
    let child = std::process::Command::new(worker)
        .arg("check-plugin")
        .arg(library)
        .arg("--worker")
        .arg(format)
        .arg("--sample")
        .arg(format!("{format}={}", sample_path.display()))
        .env("IMAGEIO_LOG", "off")
        .env("IMAGEIO_ISOLATION", "off")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return (
                format!("cannot start the worker {}: {e}", worker.display()),
                true,
                [0; OUTCOMES],
            );
        }
    };
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let output = reader.join().unwrap_or_default();
    let mut counts = [0usize; OUTCOMES];
    for c in output.chars() {
        if let Some(d) = c.to_digit(10).filter(|d| (*d as usize) < OUTCOMES) {
            counts[d as usize] += 1;
        }
    }
    let done: usize = counts.iter().sum();
    let problem = match status {
        None => Some(format!(
            "HANG: no result within {} s (after {done} files)",
            timeout.as_secs()
        )),
        Some(s) if !s.success() => Some(format!(
            "CRASH: the reader process died ({s}) on damaged file {}",
            done + 1
        )),
        Some(_) => None,
    };
    summarize(counts, problem)
}

/// The properties a format reports without decoding (ABI 1.2) are what
/// reading gives, for each image of `sample` (at most 16).
fn properties_check(fm: &FormatManager, format: &Format, sample: &[u8]) -> (Outcome, String) {
    let run = || -> imageio::Result<(usize, usize)> {
        let req = Request::new(sample.to_vec(), "r?")?;
        let mut r = fm.reader_for(req, Some(format.name()))?;
        let n = r.get_length()?.min(16);
        let (mut answered, mut checked) = (0, 0);
        for i in 0..n {
            let props = r.properties(i)?;
            let image = r.get_data(i)?;
            checked += 1;
            if let Some(p) = props {
                answered += 1;
                if p.shape != image.shape() || p.dtype != image.dtype() {
                    return Err(imageio::Error::InvalidArgument(format!(
                        "image {i}: properties say {:?} {}, reading gives {:?} {}",
                        p.shape,
                        p.dtype.name(),
                        image.shape(),
                        image.dtype().name()
                    )));
                }
            }
        }
        r.close()?;
        Ok((answered, checked))
    };
    match run() {
        Ok((0, _)) => (
            Outcome::Skip,
            "no properties without decoding (ABI 1.2 IIO_EXT_PROPERTIES_V1): the host decodes to answer improps".into(),
        ),
        Ok((answered, checked)) => (
            Outcome::Pass,
            format!("{answered} of {checked} image(s) described without decoding, as read"),
        ),
        Err(e) => (Outcome::Fail, e.to_string()),
    }
}

/// Concurrent reads of `sample` agree with a single read.
fn threads_check(fm: &FormatManager, format: &Format, sample: &[u8]) -> (String, bool) {
    let name = format.name().to_owned();
    let reference = match read_items(fm, format, '?', sample.to_vec()) {
        Ok(r) => r,
        Err(e) => return (format!("the sample cannot be read: {e}"), true),
    };
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (reference, failures, name) = (&reference, &failures, &name);
            s.spawn(move || {
                for _ in 0..6 {
                    match read_items(fm, format, '?', sample.to_vec()) {
                        Ok(r) if r.iter().map(|i| &i.data).eq(reference.iter().map(|i| &i.data)) => {}
                        Ok(_) => failures
                            .lock()
                            .expect("lock")
                            .push(format!("thread {t}: {name} read different pixels")),
                        Err(e) => failures.lock().expect("lock").push(format!("thread {t}: {e}")),
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_default();
    let how = match (format.is_serialized(), format.is_isolated()) {
        (true, false) => "not declared thread-safe: the host serialised the calls",
        (true, true) => "not declared thread-safe: calls ran in parallel, each in a worker process of its own",
        (false, false) => "declared thread-safe: calls ran in parallel in this process",
        (false, true) => "declared thread-safe: calls ran in parallel in worker processes",
    };
    if failures.is_empty() {
        (format!("{how}; 4 threads x 6 reads agree"), false)
    } else {
        (format!("{how}; {}", failures.join("; ")), true)
    }
}

/// Checks one plugin library; see the module documentation for the checks.
///
/// # Safety
///
/// Loading a library runs its code: only check libraries you trust to be
/// loaded (when isolation cannot start, they run in this process, the
/// damaged-input phase in a child process only with a `worker`).
pub unsafe fn check_plugin(path: &Path, options: &CheckOptions) -> Report {
    let mut report = Report {
        path: path.to_owned(),
        checks: Vec::new(),
        live: options.live,
    };
    let fm = FormatManager::new();
    // Each call of each check in a worker with the time limit (a crash is
    // that call's failure; nothing is remembered for the user).
    let mut isolation = fm.isolation();
    if let Some(t) = options.timeout {
        isolation.call_timeout = t;
        isolation.scan_timeout = t;
    }
    fm.set_isolation(isolation);
    // SAFETY: forwarded from this function's contract.
    let names = match unsafe { fm.load_plugin(path) } {
        Ok(n) => n,
        Err(e) => {
            report.push(None, "load", Outcome::Fail, e.to_string());
            return report;
        }
    };
    let plugin = fm.plugin_reports().pop();
    let isolated = plugin.as_ref().is_some_and(|p| p.isolated);
    if names.is_empty() {
        report.push(None, "load", Outcome::Fail, "the plugin registers no format");
        return report;
    }
    let id = plugin.and_then(|p| p.id).unwrap_or_default();
    report.push(
        None,
        "load",
        Outcome::Pass,
        format!(
            "{id}: {} format(s) ({}){}",
            names.len(),
            names.join(", "),
            if isolated {
                "; loaded in a child process, every check runs in worker processes"
            } else {
                "; runs in this process (isolation is off or unavailable)"
            }
        ),
    );

    for name in &names {
        let Ok(format) = fm.get(name) else { continue };
        let f = Some(name.as_str());
        let mut errors = Errors::default();

        // The table.
        let mut table = Vec::new();
        if format.modes().is_empty() || !format.modes().chars().all(|c| "iIvV".contains(c)) {
            table.push(format!("modes {:?} are not a subset of iIvV", format.modes()));
        }
        if let Some(e) = format.extensions().iter().find(|e| !e.starts_with('.') || e.len() < 2) {
            table.push(format!("extension {e:?} does not start with a dot"));
        }
        if format.description().trim().is_empty() {
            table.push("no description".into());
        }
        if !format.supports_read() && !format.supports_write() {
            table.push("declares neither reading nor writing".into());
        }
        let rw = match (format.supports_read(), format.supports_write()) {
            (true, true) => "read+write",
            (true, false) => "read only",
            (false, true) => "write only",
            _ => "neither",
        };
        if table.is_empty() {
            report.push(
                f,
                "table",
                Outcome::Pass,
                format!(
                    "modes {}, extensions {}, {rw}",
                    format.modes(),
                    format.extensions().join(" ")
                ),
            );
        } else {
            report.push(f, "table", Outcome::Fail, table.join("; "));
        }

        // can_read.
        if format.supports_read() {
            let mut rng = Rng(7);
            let random: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
            let mut problems = Vec::new();
            let mut claims_random = false;
            for (what, bytes) in [("empty", Vec::new()), ("random", random)] {
                let conf = |b: &Vec<u8>| Request::new(b.clone(), "r?").and_then(|mut r| format.confidence(&mut r));
                match (conf(&bytes), conf(&bytes)) {
                    (Ok(a), Ok(b)) if a != b => problems.push(format!("{what} input: {a} then {b}")),
                    (Ok(a), Ok(_)) if !(0..=100).contains(&a) => {
                        problems.push(format!("{what} input: confidence {a} outside 0..100"))
                    }
                    (Ok(a), Ok(_)) if what == "empty" && a > 0 => problems.push(format!("claims empty input ({a})")),
                    (Ok(a), Ok(_)) if a > 0 => {
                        claims_random = true;
                        problems.push(format!(
                            "claims random bytes (confidence {a}): can_read must recognise the content, not accept anything"
                        ));
                    }
                    (Ok(_), Ok(_)) => {}
                    (Err(e), _) | (_, Err(e)) => problems.push(format!("{what} input: {e}")),
                }
            }
            if problems.is_empty() && !claims_random {
                report.push(
                    f,
                    "can_read",
                    Outcome::Pass,
                    "deterministic; 0 for empty and random input",
                );
            } else {
                report.push(f, "can_read", Outcome::Fail, problems.join("; "));
            }
        }

        // Round trips, which also make the sample for what follows.
        let mut sample: Option<Vec<u8>> = options
            .samples
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, p)| std::fs::read(p).ok());
        if format.supports_write() && format.supports_read() {
            for mode in format.modes().chars() {
                let (detail, failed) =
                    round_trips(&fm, &format, mode, &mut errors, &mut sample, options.keep.as_deref());
                report.push(
                    f,
                    &format!("round trip {mode}"),
                    if failed { Outcome::Fail } else { Outcome::Pass },
                    detail,
                );
            }
        } else {
            report.push(f, "round trip", Outcome::Skip, format!("the format is {rw}"));
        }

        // An option the plugin does not know must be an error naming it,
        // never ignored (a misspelt "qualty" would silently do nothing).
        {
            let mut problems = Vec::new();
            let mut checked = Vec::new();
            let mut unnamed: Vec<&str> = Vec::new();
            let mut kwargs = Dict::new();
            kwargs.insert(UNKNOWN_OPTION, 1);
            if format.supports_read()
                && let Some(bytes) = &sample
            {
                checked.push("reading");
                let read = Request::with_options(bytes.clone(), "r?", None, kwargs.clone())
                    .and_then(|req| fm.reader_for(req, Some(name)))
                    .and_then(|mut r| r.get_data(0));
                match read {
                    Ok(_) => problems.push(format!("reading accepts the unknown option {UNKNOWN_OPTION:?}")),
                    Err(e @ Error::WorkerFailed { .. }) => problems.push(format!("reading: {e}")),
                    Err(e) if !e.to_string().contains(UNKNOWN_OPTION) => unnamed.push("reading"),
                    Err(_) => {}
                }
            }
            if format.supports_write() {
                checked.push("writing");
                let item = Image::from(crate::conformance::sample(Dtype::U8, &[16, 24, 3], 5));
                let ext = format.extensions().first().cloned().unwrap_or_default();
                let written = Request::with_options(imageio::request::RETURN_BYTES, "w?", Some(&ext), kwargs)
                    .and_then(|req| fm.writer_for(req, Some(name)))
                    .and_then(|mut w| {
                        w.append_data(&item, None)?;
                        w.close()
                    });
                match written {
                    Ok(()) => problems.push(format!("writing accepts the unknown option {UNKNOWN_OPTION:?}")),
                    Err(e @ Error::WorkerFailed { .. }) => problems.push(format!("writing: {e}")),
                    // Refusing the image itself (a gray-only format, say)
                    // says nothing about the option.
                    Err(Error::Plugin {
                        code: imageio::PluginCode::Unsupported,
                        ..
                    }) => {}
                    Err(e) if !e.to_string().contains(UNKNOWN_OPTION) => unnamed.push("writing"),
                    Err(_) => {}
                }
            }
            if checked.is_empty() {
                report.push(
                    f,
                    "options",
                    Outcome::Skip,
                    "no valid sample to read (pass --sample NAME=FILE)",
                );
            } else if format.options().is_none()
                && !problems.is_empty()
                && problems.iter().all(|p| p.contains("accepts the unknown option"))
            {
                // Today's behaviour for a plugin that declares no options
                // (ABI 1.2): a warning, not a failure.
                report.push(
                    f,
                    "options",
                    Outcome::Warn,
                    format!(
                        "{}; it declares no options: declare them (IIO_EXT_OPTIONS_V1, or Format::OPTIONS in \
                         Rust) and the host refuses every other one, or refuse unknown ones in open",
                        problems.join("; ")
                    ),
                );
            } else if problems.is_empty() {
                let declared = match format.options() {
                    Some(o) => format!(
                        "declared ({}): the host refuses the others; ",
                        o.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    None => String::new(),
                };
                let detail = if unnamed.is_empty() {
                    format!(
                        "{declared}an unknown option is an error naming it ({})",
                        checked.join(", ")
                    )
                } else {
                    format!(
                        "an unknown option is an error ({}); note: {} does not name the option in its message",
                        checked.join(", "),
                        unnamed.join(" and ")
                    )
                };
                report.push(f, "options", Outcome::Pass, detail);
            } else {
                report.push(f, "options", Outcome::Fail, problems.join("; "));
            }
        }

        // Bad input always (garbage, plus damaged copies of a valid file
        // when there is one); threads need a valid file.
        if format.supports_read() {
            let bytes = sample.clone().unwrap_or_default();
            let timeout = options.timeout.unwrap_or(Duration::from_secs(120));
            let (mut detail, failed, counts) = match &options.worker {
                Some(w) if !isolated => damaged_in_child(w, path, name, &bytes, timeout),
                _ => damaged_in_process(&fm, name, &bytes, options.keep.as_deref(), &mut errors),
            };
            if sample.is_none() {
                detail.push_str(" (garbage only: no valid sample; pass --sample NAME=FILE)");
            }
            let [_, clean, silent, _, _] = counts;
            errors.seen += clean + silent;
            if silent > 0 {
                errors.without_message.push(format!("{silent} damaged files"));
            }
            report.push(
                f,
                "damaged input",
                if failed { Outcome::Fail } else { Outcome::Pass },
                detail,
            );
            match &sample {
                Some(bytes) => {
                    let (detail, failed) = threads_check(&fm, &format, bytes);
                    report.push(f, "threads", if failed { Outcome::Fail } else { Outcome::Pass }, detail);
                    let (outcome, detail) = properties_check(&fm, &format, bytes);
                    report.push(f, "properties", outcome, detail);
                }
                None => {
                    report.push(f, "threads", Outcome::Skip, "no valid sample (pass --sample NAME=FILE)");
                    report.push(
                        f,
                        "properties",
                        Outcome::Skip,
                        "no valid sample (pass --sample NAME=FILE)",
                    );
                }
            }
        }
        let mut wrong = Vec::new();
        if !errors.without_message.is_empty() {
            wrong.push(format!(
                "errors without a message: {}",
                errors.without_message.join(", ")
            ));
        }
        if !errors.code_unset.is_empty() {
            wrong.push(format!(
                "failures that left err->code unset (it must be the status returned): {}",
                errors.code_unset.join(", ")
            ));
        }
        if wrong.is_empty() {
            report.push(
                f,
                "error messages",
                Outcome::Pass,
                format!("all {} errors seen had a message and their code", errors.seen),
            );
        } else {
            report.push(f, "error messages", Outcome::Fail, wrong.join("; "));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format that stores only 16-bit RGBA reads uint8 RGB back as
    /// uint16 RGBA (x257, opaque alpha): a lossless conversion, accepted.
    #[test]
    fn uint8_rgb_read_back_as_uint16_rgba_is_accepted() {
        let written = NdArray::U8(ArrayD::from_shape_vec(IxDyn(&[1, 2, 3]), vec![0, 1, 255, 10, 20, 30]).unwrap());
        let read = NdArray::U16(
            ArrayD::from_shape_vec(IxDyn(&[1, 2, 4]), vec![0, 257, 65535, 65535, 2570, 5140, 7710, 65535]).unwrap(),
        );
        let expected = expected_as(&written, &read).expect("a known conversion");
        assert_eq!(difference(&expected, &read), None);
        // Other values are not a conversion but a difference.
        let wrong = NdArray::U16(ArrayD::from_shape_vec(IxDyn(&[1, 2, 4]), vec![1; 8]).unwrap());
        let expected = expected_as(&written, &wrong).unwrap();
        assert!(difference(&expected, &wrong).is_some());
        // Gray to RGBA, and bool to 0/255, as before.
        let gray = NdArray::U8(ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![3, 4]).unwrap());
        let rgba = NdArray::U8(ArrayD::from_shape_vec(IxDyn(&[1, 2, 4]), vec![3, 3, 3, 255, 4, 4, 4, 255]).unwrap());
        assert_eq!(difference(&expected_as(&gray, &rgba).unwrap(), &rgba), None);
    }
}
