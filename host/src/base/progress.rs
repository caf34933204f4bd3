//! Progress indicators: imageio's `BaseProgressIndicator` state
//! machine as the [`ProgressIndicator`] trait, the silent
//! [`BaseProgressIndicator`] and the backspace-drawing
//! [`StdoutProgressIndicator`].
//!
//! The state machine, the texts and the throttle are imageio's exactly: an
//! update is drawn only when forced or when strictly more than 0.1 s passed
//! since the last drawn one; the text is `"50.0%"` for the unit `%`,
//! `"10/1000 bytes (1.0%)"` with a maximum, `"5 "`/`"2.5 "` without one.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a progress indicator is (imageio's status codes 0 to 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: not started.
    Pending = 0,
    /// 1: started.
    InProgress = 1,
    /// 2: finished.
    Finished = 2,
    /// 3: failed.
    Failed = 3,
}

/// A progress amount: an integer or a float, which imageio formats
/// differently (`"5 "` against `"2.5 "`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// A count.
    Int(i64),
    /// A fraction or measurement.
    Float(f64),
}

impl Progress {
    /// The amount as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Progress::Int(i) => i as f64,
            Progress::Float(f) => f,
        }
    }

    /// Python's `%i` of the amount (floats truncate toward zero).
    fn as_int(self) -> i64 {
        match self {
            Progress::Int(i) => i,
            Progress::Float(f) => f.trunc() as i64,
        }
    }

    fn add(self, other: Progress) -> Progress {
        match (self, other) {
            (Progress::Int(a), Progress::Int(b)) => Progress::Int(a.saturating_add(b)),
            (a, b) => Progress::Float(a.as_f64() + b.as_f64()),
        }
    }
}

macro_rules! progress_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Progress {
            fn from(v: $t) -> Progress {
                Progress::Int(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
    )*};
}
progress_from_int!(i32, i64, u32, u64, usize);

impl From<f64> for Progress {
    fn from(v: f64) -> Progress {
        Progress::Float(v)
    }
}

impl From<f32> for Progress {
    fn from(v: f32) -> Progress {
        Progress::Float(f64::from(v))
    }
}

/// The clock that throttles updates: seconds since some fixed point.
pub type Clock = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Seconds since the Unix epoch (imageio's `time.time()`).
fn wall_clock() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The fields every progress indicator carries (imageio's `_name`,
/// `_action`, `_unit`, `_max`, `_status`, `_progress`,
/// `_last_progress_update`).
pub struct ProgressState {
    name: String,
    action: String,
    unit: String,
    max: u64,
    status: Status,
    progress: Progress,
    last_update: f64,
    clock: Clock,
}

impl ProgressState {
    /// A pending state named `name`, throttled by the wall clock.
    pub fn new(name: &str) -> ProgressState {
        ProgressState {
            name: name.to_owned(),
            action: String::new(),
            unit: String::new(),
            max: 0,
            status: Status::Pending,
            progress: Progress::Int(0),
            last_update: 0.0,
            clock: Arc::new(wall_clock),
        }
    }

    /// Replaces the throttle's clock (for tests and replays).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current action (empty when none).
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The unit progress is counted in.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// The maximum progress, 0 when unknown.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The last progress set (drawn or not).
    pub fn progress(&self) -> Progress {
        self.progress
    }
}

/// Python's `"%0.4g"`.
fn format_g4(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let sci = format!("{x:.3e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponents are integers");
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if (-4..4).contains(&exp) {
        let decimals = usize::try_from(3 - exp).unwrap_or(0);
        strip(&format!("{x:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.abs())
    }
}

/// The text imageio shows for `progress` in `state`.
fn progress_text(state: &ProgressState, progress: Progress) -> String {
    let unit = state.unit.as_str();
    if unit == "%" {
        format!("{:.1}%", progress.as_f64())
    } else if state.max > 0 {
        let percent = 100.0 * progress.as_f64() / state.max as f64;
        format!("{}/{} {unit} ({percent:.1}%)", progress.as_int(), state.max)
    } else if progress.as_f64() > 0.0 {
        match progress {
            Progress::Float(f) => format!("{} {unit}", format_g4(f)),
            Progress::Int(i) => format!("{i} {unit}"),
        }
    } else {
        String::new()
    }
}

/// imageio's `BaseProgressIndicator`: the state machine as provided methods,
/// the drawing as four hooks that do nothing by default.
///
/// An implementation holds a [`ProgressState`] and overrides the hooks it
/// needs (`on_start`, `on_stop`, `on_update`, `on_write`), like imageio's
/// `_start`, `_stop`, `_update_progress` and `_write`.
///
/// ```
/// use imageio::core::{ProgressIndicator, Status, StdoutProgressIndicator};
/// let mut p = StdoutProgressIndicator::with_writer("Downloading", Vec::new());
/// p.start("", "bytes", 1000);
/// p.set_progress(10.into(), false);
/// p.finish(Some("Done"));
/// assert_eq!(p.status(), Status::Finished);
/// assert_eq!(p.into_inner(), b"Downloading: 10/1000 bytes (1.0%)\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x0810/1000 bytes (1.0%)\n  Done\n");
/// ```
pub trait ProgressIndicator {
    /// The indicator's state.
    fn state(&self) -> &ProgressState;
    /// The indicator's state, mutably.
    fn state_mut(&mut self) -> &mut ProgressState;

    /// Hook: the task started (`_start`).
    fn on_start(&mut self) {}
    /// Hook: the task stopped (`_stop`).
    fn on_stop(&mut self) {}
    /// Hook: draw a progress text (`_update_progress`).
    fn on_update(&mut self, _text: &str) {}
    /// Hook: show a message (`_write`).
    fn on_write(&mut self, _message: &str) {}

    /// Starts the task; a task in progress is finished first. The throttle's
    /// timestamp is kept.
    fn start(&mut self, action: &str, unit: &str, max: u64) {
        if self.state().status == Status::InProgress {
            self.finish(None);
        }
        let s = self.state_mut();
        s.action = action.to_owned();
        s.unit = unit.to_owned();
        s.max = max;
        s.progress = Progress::Int(0);
        s.status = Status::InProgress;
        self.on_start();
    }

    /// The status.
    fn status(&self) -> Status {
        self.state().status
    }

    /// Stores `progress`; draws it when `force` or when strictly more than
    /// 0.1 s passed since the last drawn update.
    fn set_progress(&mut self, progress: Progress, force: bool) {
        let s = self.state_mut();
        s.progress = progress;
        // The clock is read only when needed, in imageio's order.
        if !force && (s.clock)() - s.last_update <= 0.1 {
            return;
        }
        s.last_update = (s.clock)();
        let text = progress_text(s, progress);
        self.on_update(&text);
    }

    /// Adds `extra` to the progress (throttled like `set_progress`).
    fn increase_progress(&mut self, extra: Progress) {
        let p = self.state().progress.add(extra);
        self.set_progress(p, false);
    }

    /// Finishes: forces an update (the progress is not set to the maximum),
    /// stops, then shows `message` if there is one.
    fn finish(&mut self, message: Option<&str>) {
        let p = self.state().progress;
        self.set_progress(p, true);
        self.state_mut().status = Status::Finished;
        self.on_stop();
        if let Some(m) = message {
            self.on_write(m);
        }
    }

    /// Fails: forces an update, stops, then shows `"FAIL " + message`.
    fn fail(&mut self, message: Option<&str>) {
        let p = self.state().progress;
        self.set_progress(p, true);
        self.state_mut().status = Status::Failed;
        self.on_stop();
        self.on_write(&format!("FAIL {}", message.unwrap_or("")));
    }

    /// Shows a message during progress (a warning, say).
    fn write(&mut self, message: &str) {
        self.on_write(message);
    }
}

/// The plain indicator: keeps the state, draws nothing, and prints
/// [`write`](ProgressIndicator::write) messages on stdout (imageio uses it as
/// a dummy).
///
/// ```
/// use imageio::core::{BaseProgressIndicator, Progress, ProgressIndicator, Status};
/// let mut p = BaseProgressIndicator::new("Counting");
/// assert_eq!(p.status(), Status::Pending);
/// p.start("", "items", 10);
/// p.increase_progress(Progress::Int(4));
/// assert_eq!(p.state().progress(), Progress::Int(4));
/// p.fail(Some("stopped early"));
/// assert_eq!(p.status(), Status::Failed);
/// ```
pub struct BaseProgressIndicator {
    state: ProgressState,
}

impl BaseProgressIndicator {
    /// A pending indicator named `name`.
    pub fn new(name: &str) -> BaseProgressIndicator {
        BaseProgressIndicator {
            state: ProgressState::new(name),
        }
    }
}

impl ProgressIndicator for BaseProgressIndicator {
    fn state(&self) -> &ProgressState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut ProgressState {
        &mut self.state
    }
    fn write(&mut self, message: &str) {
        println!("{message}");
    }
}

/// A silent indicator whose messages go nowhere (for callers that show
/// progress their own way, or not at all).
pub struct NullProgressIndicator {
    state: ProgressState,
}

impl NullProgressIndicator {
    /// A pending, silent indicator.
    pub fn new() -> NullProgressIndicator {
        NullProgressIndicator {
            state: ProgressState::new(""),
        }
    }
}

impl Default for NullProgressIndicator {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressIndicator for NullProgressIndicator {
    fn state(&self) -> &ProgressState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut ProgressState {
        &mut self.state
    }
}

/// imageio's `StdoutProgressIndicator`: writes `"name (action): "`, then each
/// progress text over the previous one with backspaces (a `- \ | /` spinner
/// when there is no text), a newline when it stops, and messages on their own
/// line with the progress reprinted after them. Writes to stdout by default,
/// or to any [`Write`]; write errors are ignored (progress is cosmetic).
pub struct StdoutProgressIndicator<W: Write = io::Stdout> {
    state: ProgressState,
    out: W,
    prefix: String,
    chars: String,
}

impl StdoutProgressIndicator<io::Stdout> {
    /// An indicator named `name` on stdout.
    pub fn new(name: &str) -> StdoutProgressIndicator<io::Stdout> {
        StdoutProgressIndicator::with_writer(name, io::stdout())
    }
}

impl<W: Write> StdoutProgressIndicator<W> {
    /// An indicator named `name` writing to `out`.
    pub fn with_writer(name: &str, out: W) -> StdoutProgressIndicator<W> {
        StdoutProgressIndicator {
            state: ProgressState::new(name),
            out,
            prefix: String::new(),
            chars: String::new(),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn emit(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

impl<W: Write> ProgressIndicator for StdoutProgressIndicator<W> {
    fn state(&self) -> &ProgressState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut ProgressState {
        &mut self.state
    }

    fn on_start(&mut self) {
        self.chars.clear();
        self.prefix = if self.state.action.is_empty() {
            format!("{}: ", self.state.name)
        } else {
            format!("{} ({}): ", self.state.name, self.state.action)
        };
        let prefix = self.prefix.clone();
        self.emit(&prefix);
    }

    fn on_update(&mut self, text: &str) {
        let text = if text.is_empty() {
            match self.chars.as_str() {
                "-" => "\\",
                "\\" => "|",
                "|" => "/",
                _ => "-",
            }
        } else {
            text
        };
        let mut line = "\x08".repeat(self.chars.chars().count());
        line.push_str(text);
        self.chars = text.to_owned();
        self.emit(&line);
    }

    fn on_stop(&mut self) {
        self.chars.clear();
        self.prefix.clear();
        self.emit("\n");
    }

    fn on_write(&mut self, message: &str) {
        let mut line = "\x08".repeat(self.prefix.chars().count() + self.chars.chars().count());
        line.push_str("  ");
        line.push_str(message);
        line.push('\n');
        line.push_str(&self.prefix);
        line.push_str(&self.chars);
        self.emit(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A clock the test moves by hand.
    fn manual_clock() -> (Clock, Arc<Mutex<f64>>) {
        let t = Arc::new(Mutex::new(1000.0));
        let t2 = Arc::clone(&t);
        (Arc::new(move || *t2.lock().unwrap()), t)
    }

    fn captured(name: &str) -> (StdoutProgressIndicator<Vec<u8>>, Arc<Mutex<f64>>) {
        let mut p = StdoutProgressIndicator::with_writer(name, Vec::new());
        let (clock, t) = manual_clock();
        p.state_mut().set_clock(clock);
        (p, t)
    }

    #[test]
    fn exact_byte_sequence_of_the_spec() {
        let (mut p, _t) = captured("Downloading");
        p.start("", "bytes", 1000);
        p.set_progress(10.into(), false);
        p.set_progress(20.into(), false); // throttled: the clock did not move
        p.set_progress(30.into(), true);
        p.finish(Some("Done"));
        let bs = "\x08".repeat(20);
        let want =
            format!("Downloading: 10/1000 bytes (1.0%){bs}30/1000 bytes (3.0%){bs}30/1000 bytes (3.0%)\n  Done\n");
        assert_eq!(String::from_utf8(p.into_inner()).unwrap(), want);
    }

    #[test]
    fn throttle_is_strictly_more_than_a_tenth() {
        let (mut p, t) = captured("x");
        p.start("", "", 0);
        p.set_progress(1.into(), false); // first update: 1000 - 0 > 0.1
        *t.lock().unwrap() += 0.05; // too soon: stored, not drawn
        p.set_progress(2.into(), false);
        assert_eq!(p.state().progress(), Progress::Int(2));
        *t.lock().unwrap() += 0.06;
        p.set_progress(3.into(), false);
        assert_eq!(String::from_utf8(p.into_inner()).unwrap(), "x: 1 \x08\x083 ");
    }

    #[test]
    fn texts_follow_the_spec() {
        let mut s = ProgressState::new("n");
        s.unit = "%".into();
        s.max = 10;
        assert_eq!(progress_text(&s, 50.into()), "50.0%");
        s.unit = "bytes".into();
        s.max = 1000;
        assert_eq!(progress_text(&s, 10.into()), "10/1000 bytes (1.0%)");
        assert_eq!(progress_text(&s, 10.9.into()), "10/1000 bytes (1.1%)");
        s.unit = String::new();
        assert_eq!(progress_text(&s, 10.into()), "10/1000  (1.0%)");
        s.max = 0;
        assert_eq!(progress_text(&s, 2.5.into()), "2.5 ");
        assert_eq!(progress_text(&s, 5.into()), "5 ");
        assert_eq!(progress_text(&s, 0.into()), "");
        assert_eq!(progress_text(&s, 123456.0.into()), "1.235e+05 ");
        assert_eq!(progress_text(&s, 0.00001234.into()), "1.234e-05 ");
        assert_eq!(progress_text(&s, 0.0001.into()), "0.0001 ");
        assert_eq!(progress_text(&s, 1234.0.into()), "1234 ");
        assert_eq!(progress_text(&s, 3.0.into()), "3 ");
    }

    #[test]
    fn spinner_write_fail_and_restart() {
        let (mut p, t) = captured("Job");
        p.start("step", "", 0);
        p.set_progress(0.into(), true);
        p.set_progress(0.into(), true);
        p.set_progress(0.into(), true);
        p.set_progress(0.into(), true);
        p.set_progress(0.into(), true);
        p.write("careful");
        *t.lock().unwrap() += 1.0;
        p.start("again", "", 0); // finishes the running task first
        assert_eq!(p.status(), Status::InProgress);
        p.fail(Some("broken"));
        assert_eq!(p.status(), Status::Failed);
        let out = String::from_utf8(p.into_inner()).unwrap();
        let want = concat!(
            "Job (step): -\x08\\\x08|\x08/\x08-",
            "\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08  careful\nJob (step): -",
            "\x08\\\n",
            "Job (again): -\n  FAIL broken\n"
        );
        assert_eq!(out, want);
    }

    #[test]
    fn increase_progress_adds_and_keeps_the_kind() {
        let mut p = NullProgressIndicator::new();
        p.start("", "", 0);
        p.increase_progress(3.into());
        p.increase_progress(4.into());
        assert_eq!(p.state().progress(), Progress::Int(7));
        p.increase_progress(0.5.into());
        assert_eq!(p.state().progress(), Progress::Float(7.5));
        p.finish(None);
        assert_eq!(p.status(), Status::Finished);
    }
}
