//! The `imageio` command-line tool: list formats and plugins, inspect and
//! convert images, fetch standard images, with the standard plugins built in
//! and any plugin found in the plugin directories. Progress bars for long work
//! (downloads, multi-image conversions) are drawn on stderr when it is a
//! terminal, and nothing is drawn otherwise.

mod batch;
mod conformance;

/// Untrusted text (file names, metadata, plugin messages) as it may reach a
/// terminal: control characters escaped. `--json` output stays exact.
fn esc(text: &str) -> std::borrow::Cow<'_, str> {
    imageio::core::escape_controls(text)
}

use clap::{Parser, Subcommand};
use imageio::core::{ProgressState, Status};
use imageio::plugin::{Origin, PluginReport};
use imageio::{
    Dict, Fetcher, ForceDownload, Format, NullProgressIndicator, Options, ProgressIndicator, Value, formats,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value as Json, json};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "imageio",
    version,
    about = "Read, write and inspect images through imageio-rs plugins"
)]
struct Cli {
    /// Resource limits for every file read or written, as name=value pairs
    /// separated by commas (width, height, pixels, total_pixels,
    /// image_bytes, alloc_bytes, frames, meta_entry_bytes,
    /// meta_total_bytes; values like 4096, 64MiB, 2G or none), over
    /// IMAGEIO_LIMITS and the defaults.
    #[arg(long, global = true, value_name = "LIMITS")]
    limits: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every registered format.
    Formats {
        /// One format's documentation and options (a name or extension).
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every plugin considered and what became of it (loaded,
    /// rejected, shadowed, quarantined; `isolated` when it runs in a worker
    /// process).
    Plugins {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Scan every plugin file again (in a child process), quarantined
        /// ones included, instead of trusting the registry cache.
        #[arg(long)]
        rescan: bool,
    },
    /// Show the format, images (shape, dtype) and metadata of a file.
    Info {
        /// A file name, or another URI imageio understands.
        uri: String,
        /// Use this format instead of detecting one.
        #[arg(long)]
        format: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only the images' shapes and dtypes, from the headers where the
        /// format can tell (imageio v3's improps): no pixel is decoded, so
        /// damaged pixel data is not noticed.
        #[arg(long)]
        props: bool,
    },
    /// Write every image of IN to OUT; or, with --out-dir and --to, convert
    /// every IN to DIR/<name>.EXT in parallel (a file that fails is reported
    /// on its own line, the rest go on; exit status 1 if any failed).
    Convert(ConvertArgs),
    /// Download a resource of imageio's binary repository (or of
    /// IMAGEIO_REMOTE_URL) into the cache, unless it is there already, and
    /// print its local path. NAME is a remote path (`images/chelsea.png`) or
    /// a standard image's name (`chelsea.png`).
    Fetch {
        /// The remote name.
        name: String,
        /// Put the file in this folder instead of the cache.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Download even if a copy exists.
        #[arg(long, conflicts_with = "older_than")]
        force: bool,
        /// Download if the copy is older than this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        older_than: Option<String>,
    },
    /// Show the folders imageio uses (user data, resources, plugins, cache)
    /// and the platform.
    Dirs {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that a plugin library conforms (table, can_read, round trips of
    /// every dtype and mode it claims, damaged input without crash or hang,
    /// threads, error messages); exit status 1 on any failure.
    CheckPlugin {
        /// The shared library.
        path: PathBuf,
        /// A valid file for a format that cannot write its own (NAME=FILE).
        #[arg(long = "sample", value_name = "NAME=FILE")]
        samples: Vec<String>,
        /// Seconds allowed for loading the plugin, for each call into it, and
        /// for the damaged-input phase of each format.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Save the inputs that failed (damaged files, round-trip files) in
        /// this folder.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Internal: read the damaged variants of --sample with this format
        /// and print one outcome digit per file.
        #[arg(long, hide = true)]
        worker: Option<String>,
    },
}

/// A progress indicator drawn with indicatif on stderr.
struct BarIndicator {
    state: ProgressState,
    bar: Option<ProgressBar>,
}

impl BarIndicator {
    fn new(name: &str) -> BarIndicator {
        BarIndicator {
            state: ProgressState::new(name),
            bar: None,
        }
    }
}

impl ProgressIndicator for BarIndicator {
    fn state(&self) -> &ProgressState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut ProgressState {
        &mut self.state
    }
    fn on_start(&mut self) {
        let max = self.state.max();
        let bar = if max > 0 {
            ProgressBar::with_draw_target(Some(max), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        };
        let template = match (self.state.unit(), max > 0) {
            ("bytes", true) => "{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})",
            ("bytes", false) => "{msg} {spinner} {bytes}",
            (_, true) => "{msg} [{bar:30}] {pos}/{len} {prefix}",
            (_, false) => "{msg} {spinner} {pos} {prefix}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        let msg = if self.state.action().is_empty() {
            self.state.name().to_owned()
        } else {
            format!("{} ({})", self.state.name(), self.state.action())
        };
        bar.set_message(msg);
        bar.set_prefix(self.state.unit().to_owned());
        self.bar = Some(bar);
    }
    fn on_update(&mut self, _text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.state.progress().as_f64().max(0.0) as u64);
        }
    }
    fn on_stop(&mut self) {
        if let Some(bar) = self.bar.take() {
            if self.status() == Status::Failed {
                bar.abandon();
            } else {
                bar.finish_and_clear();
            }
        }
    }
    fn on_write(&mut self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{}", esc(message)),
        }
    }
}

/// A bar on a terminal, nothing otherwise.
fn progress_for(name: &str) -> Box<dyn ProgressIndicator> {
    if std::io::stderr().is_terminal() {
        Box::new(BarIndicator::new(name))
    } else {
        Box::new(NullProgressIndicator::new())
    }
}

/// The fetcher of the environment, quiet on stdout (messages go to the log).
fn fetcher(directory: Option<&std::path::Path>) -> imageio::Result<Fetcher> {
    let mut f = Fetcher::from_env_for(directory)?;
    f.print = false;
    Ok(f)
}

/// Downloads the standard image an `imageio:NAME` URI needs (with a progress
/// bar on a terminal) before the library opens it, so the library's own
/// stdout messages never mix with the tool's output.
fn prefetch(uri: &str) -> imageio::Result<()> {
    let Some(name) = uri.strip_prefix("imageio:") else {
        return Ok(());
    };
    let Ok(image) = imageio::request::standard_image(name) else {
        return Ok(()); // the request gives the error
    };
    let mut progress = progress_for("Downloading");
    fetcher(None)?.fetch(&image.remote, None, &ForceDownload::No, true, progress.as_mut())?;
    Ok(())
}

fn cmd_fetch(name: &str, dir: Option<PathBuf>, force: bool, older_than: Option<String>) -> imageio::Result<()> {
    let remote = if name.contains('/') || name.contains('\\') {
        name.to_owned()
    } else if imageio::core::EXAMPLE_IMAGES.contains(&name) {
        format!("images/{name}")
    } else {
        name.to_owned()
    };
    let force = match older_than {
        Some(date) => ForceDownload::OlderThan(date),
        None => ForceDownload::from(force),
    };
    let mut progress = progress_for("Downloading");
    let path = fetcher(dir.as_deref())?.fetch(&remote, dir.as_deref(), &force, true, progress.as_mut())?;
    println!("{}", esc(&path.display().to_string()));
    Ok(())
}

fn cmd_check_plugin(
    path: &std::path::Path,
    samples: &[String],
    timeout: u64,
    json: bool,
    worker: Option<&str>,
    keep: Option<&std::path::Path>,
) -> imageio::Result<bool> {
    use crate::conformance;
    use std::io::Write;
    let mut sample_list = Vec::new();
    for s in samples {
        let Some((name, file)) = s.split_once('=') else {
            return Err(imageio::Error::InvalidArgument(format!(
                "--sample takes NAME=FILE, not {s:?}"
            )));
        };
        sample_list.push((name.to_owned(), PathBuf::from(file)));
    }
    if let Some(format) = worker {
        let file = sample_list
            .first()
            .map(|(_, f)| f.clone())
            .ok_or_else(|| imageio::Error::InvalidArgument("--worker needs --sample".into()))?;
        let bytes = std::fs::read(&file).map_err(|e| imageio::Error::Io {
            uri: file.display().to_string(),
            source: e,
        })?;
        let fm = imageio::FormatManager::new();
        // SAFETY: the parent check-plugin run asked for this library to be loaded.
        unsafe { fm.load_plugin(path) }?;
        let mut out = std::io::stdout().lock();
        conformance::damaged_phase(&fm, format, &bytes, |outcome| {
            let _ = write!(out, "{}", outcome as u8);
            let _ = out.flush();
        });
        return Ok(true);
    }
    // A check always scans the file afresh, whatever the registry cache says.
    #[cfg(target_os = "linux")]
    imageio::plugin::force_rescan();
    let options = conformance::CheckOptions {
        samples: sample_list,
        worker: std::env::current_exe().ok(),
        timeout: Some(std::time::Duration::from_secs(timeout)),
        live: !json,
        keep: keep.map(PathBuf::from),
    };
    if !json {
        println!("check-plugin {}", path.display());
    }
    // SAFETY: checking a plugin means loading it; the user named the file.
    let report = unsafe { conformance::check_plugin(path, &options) };
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.result_line());
    }
    Ok(report.passed())
}

fn cmd_dirs(json: bool) -> imageio::Result<()> {
    let shown = |p: &std::path::Path| p.display().to_string();
    let appdata = imageio::appdata_dir(None, false).map(|p| shown(&p)).unwrap_or_default();
    let cache = imageio::appdata_dir(Some("imageio"), false)
        .map(|p| shown(&p))
        .unwrap_or_default();
    let resources: Vec<String> = imageio::resource_dirs().iter().map(|p| shown(p)).collect();
    let plugins: Vec<String> = imageio::plugin_dirs().iter().map(|p| shown(p)).collect();
    let platform = imageio::get_platform().unwrap_or_default();
    if json {
        println!(
            "{}",
            json!({
                "platform": platform,
                "appdata_dir": appdata,
                "cache_dir": cache,
                "resource_dirs": resources,
                "plugin_dirs": plugins,
            })
        );
        return Ok(());
    }
    println!("platform:      {}", esc(&platform));
    println!("appdata_dir:   {}", esc(&appdata));
    println!("cache:         {}", esc(&cache));
    println!("resource_dirs: {}", esc(&resources.join(", ")));
    println!("plugin dirs:   {}", esc(&plugins.join(", ")));
    Ok(())
}

struct StderrLogger(log::LevelFilter);

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.0
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!(
                "imageio: {}: {}",
                r.level().as_str().to_lowercase(),
                esc(&r.args().to_string())
            );
        }
    }
    fn flush(&self) {}
}

fn init_logging() {
    let level = match std::env::var("IMAGEIO_LOG").as_deref() {
        Ok("off") => log::LevelFilter::Off,
        Ok("error") => log::LevelFilter::Error,
        Ok("info") => log::LevelFilter::Info,
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        _ => log::LevelFilter::Warn,
    };
    let logger = Box::leak(Box::new(StderrLogger(level)));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) => json!(s),
        Value::Bytes(b) => json!(format!("<{} bytes>", b.len())),
        Value::IntArray(a) => json!(a),
        Value::FloatArray(a) => json!(a),
        Value::Dict(d) => dict_json(d),
    }
}

fn dict_json(d: &Dict) -> Json {
    Json::Object(d.iter().map(|(k, v)| (k.to_owned(), value_json(v))).collect())
}

fn origin_str(o: &Origin) -> String {
    match o {
        Origin::Builtin(id) => format!("builtin ({id})"),
        other => other.to_string(),
    }
}

fn format_json(f: &Format) -> Json {
    json!({
        "name": f.name(),
        "extensions": f.extensions(),
        "modes": f.modes(),
        "description": f.description(),
        "origin": match f.origin() { Origin::Builtin(_) => "builtin".to_owned(), o => o.to_string() },
        "plugin": f.plugin_id(),
        "can_read": f.supports_read(),
        "can_write": f.supports_write(),
    })
}

fn report_json(r: &PluginReport) -> Json {
    json!({
        "path": origin_str(&r.origin),
        "id": r.id,
        "status": r.status.as_str(),
        "reason": r.reason,
        "formats": r.formats,
        "isolated": r.isolated,
    })
}

/// One format in full: imageio's `doc`, with the plugin's own text and
/// its declared options (ABI 1.2).
fn cmd_format(name: &str, json: bool) -> imageio::Result<()> {
    let f = formats().get(name)?;
    if json {
        let mut j = format_json(&f);
        j["doc"] = json!(f.doc());
        j["options"] = match f.options() {
            None => Json::Null,
            Some(o) => Json::Array(
                o.iter()
                    .map(|d| {
                        json!({"name": d.name, "kind": d.kind.name(), "read": d.read, "write": d.write,
                               "default": d.default, "doc": d.doc})
                    })
                    .collect(),
            ),
        };
        println!("{j}");
    } else {
        // The plugin's text, each line escaped (no control character from a
        // plugin reaches the terminal).
        for line in f.doc().lines() {
            println!("{}", esc(line));
        }
    }
    Ok(())
}

fn cmd_formats(json: bool) {
    let list = formats().formats();
    if json {
        println!("{}", Json::Array(list.iter().map(format_json).collect()));
        return;
    }
    for f in &list {
        let rw = match (f.supports_read(), f.supports_write()) {
            (true, true) => "rw",
            (true, false) => "r-",
            (false, true) => "-w",
            (false, false) => "--",
        };
        println!(
            "{:<8} {rw} modes={:<4} {:<28} {} [{}]",
            esc(f.name()),
            esc(f.modes()),
            esc(&f.extensions().join(" ")),
            esc(f.description()),
            esc(&origin_str(f.origin()))
        );
    }
}

fn cmd_plugins(json: bool) {
    let reports = formats().plugin_reports();
    if json {
        println!("{}", Json::Array(reports.iter().map(report_json).collect()));
        return;
    }
    for r in &reports {
        let path = origin_str(&r.origin);
        let detail = if r.reason.is_empty() {
            r.formats.join(", ")
        } else {
            r.reason.clone()
        };
        let isolated = if r.isolated { " (isolated)" } else { "" };
        println!("{:<11} {}{isolated}: {}", r.status.as_str(), esc(&path), esc(&detail));
    }
}

fn cmd_info(uri: &str, format: Option<String>, json: bool) -> imageio::Result<()> {
    let opts = Options {
        format,
        ..Options::default()
    };
    prefetch(uri)?;
    let mut reader = imageio::get_reader(uri, '?', &opts)?;
    let length = reader.get_length()?;
    let meta = reader.get_meta_data(None)?;
    let mut images = Vec::new();
    for im in reader.iter_data()? {
        let im = im?;
        images.push(json!({
            "shape": im.shape(),
            "dtype": im.dtype().name(),
            "meta": dict_json(&im.meta),
        }));
    }
    let name = reader.format().name().to_owned();
    reader.close()?;
    let length_json = if length == imageio::LENGTH_UNKNOWN {
        Json::Null
    } else {
        json!(length)
    };
    if json {
        println!(
            "{}",
            json!({ "uri": uri, "format": name, "length": length_json, "images": images, "meta": dict_json(&meta) })
        );
        return Ok(());
    }
    println!("{}: format {}, {} image(s)", esc(uri), esc(&name), images.len());
    for (i, im) in images.iter().enumerate() {
        println!(
            "  image {i}: shape {} dtype {}",
            im["shape"],
            im["dtype"].as_str().unwrap_or("")
        );
    }
    for (k, v) in meta.iter() {
        println!("  {}: {}", esc(k), esc(&v.to_string()));
    }
    Ok(())
}

/// `imageio info --props`: each image's shape and dtype without decoding
/// (where the format can tell; otherwise that image is decoded).
fn cmd_props(uri: &str, format: Option<String>, json: bool) -> imageio::Result<()> {
    prefetch(uri)?;
    let mut args = imageio::v3::Args::new();
    if let Some(f) = &format {
        args = args.plugin(f);
    }
    let mut file = args.imopen(uri, "r")?;
    let all = file.properties(None)?;
    let mut images = Vec::new();
    for i in 0..all.n_images {
        let p = file.properties(Some(i))?;
        images.push(json!({"shape": p.shape, "dtype": p.dtype.name()}));
    }
    file.close()?;
    if json {
        println!(
            "{}",
            json!({"uri": uri, "n_images": all.n_images, "is_batch": all.is_batch, "shape": all.shape,
                   "dtype": all.dtype.name(), "images": images})
        );
        return Ok(());
    }
    println!(
        "{}: {} image(s), shape {:?} dtype {}",
        esc(uri),
        all.n_images,
        all.shape,
        all.dtype.name()
    );
    for (i, im) in images.iter().enumerate() {
        println!(
            "  image {i}: shape {} dtype {}",
            im["shape"],
            im["dtype"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// Whether the last component of `path` has an extension (`.png`).
fn has_extension(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.rfind('.').is_some_and(|i| i > 0 && i + 1 < base.len())
}

/// Writes every image of `input` to `output` (atomically: nothing is left
/// at `output` unless all went well; a FIFO, a device or a descriptor link
/// is written in place once the output is complete), in the source's
/// format when `output` has no extension and none is named; returns the count and the format
/// written. `progress` draws a bar over the images of a multi-image source.
pub(crate) fn convert_one(
    input: &str,
    output: &str,
    in_opts: &Options,
    out_opts: &Options,
    progress: bool,
) -> imageio::Result<(usize, String)> {
    let mut reader = imageio::get_reader(input, '?', in_opts)?;
    let length = reader.get_length()?;
    let mode = if length == 1 { 'i' } else { 'I' };
    // A target without an extension (a FIFO, /dev/stdout) gets the
    // source's format unless one is named.
    let same_format;
    let out_opts = if out_opts.format.is_none() && !has_extension(output) {
        same_format = Options {
            format: Some(reader.format().name().to_owned()),
            ..out_opts.clone()
        };
        &same_format
    } else {
        out_opts
    };
    let mut writer = imageio::get_writer(output, mode, out_opts)?;
    let mut count = 0usize;
    let mut progress: Box<dyn ProgressIndicator> = if progress && length > 1 {
        progress_for("Converting")
    } else {
        Box::new(NullProgressIndicator::new())
    };
    let known = if length == imageio::LENGTH_UNKNOWN { 0 } else { length };
    progress.start("", "images", known);
    for im in reader.iter_data()? {
        let written = im.and_then(|im| writer.append_data(&im, None));
        if let Err(e) = written {
            progress.fail(None);
            writer.discard();
            return Err(e);
        }
        count += 1;
        progress.set_progress(count.into(), false);
    }
    progress.finish(None);
    if let Err(e) = reader.close() {
        writer.discard();
        return Err(e);
    }
    if count == 0 {
        writer.discard();
        return Err(imageio::Error::InvalidArgument(format!(
            "{input}: Zero images were written."
        )));
    }
    writer.close()?;
    Ok((count, writer.format().name().to_owned()))
}

/// `imageio convert`: one source to one target, or a batch into a folder.
fn cmd_convert(args: ConvertArgs) -> imageio::Result<bool> {
    let ConvertArgs {
        files,
        out_dir,
        to,
        jobs,
        in_format,
        out_format,
    } = args;
    let (Some(out_dir), Some(to)) = (out_dir, to) else {
        let [input, output] = files.as_slice() else {
            return Err(imageio::Error::InvalidArgument(format!(
                "convert takes IN OUT, or IN... --out-dir DIR --to EXT ({} file name(s) given)",
                files.len()
            )));
        };
        let in_opts = Options {
            format: in_format,
            ..Options::default()
        };
        let out_opts = Options {
            format: out_format,
            ..Options::default()
        };
        prefetch(input)?;
        let (count, format) = convert_one(input, output, &in_opts, &out_opts, true)?;
        eprintln!("imageio: wrote {count} image(s) to {} ({})", esc(output), esc(&format));
        return Ok(true);
    };
    for input in &files {
        // Standard images are downloaded first, one at a time, each with its
        // own bar; a failure here is reported again by that file's job.
        let _ = prefetch(input);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let batch = batch::Batch {
        inputs: files,
        out_dir,
        to,
        jobs: jobs.map_or(cores * 2, |j| j as usize),
        in_format,
        out_format,
    };
    let outcome = batch::run(&batch).map_err(imageio::Error::InvalidArgument)?;
    let total = outcome.converted + outcome.failed;
    if outcome.failed == 0 {
        eprintln!(
            "imageio: converted {total} file(s) into {}",
            esc(&batch.out_dir.display().to_string())
        );
    } else {
        eprintln!(
            "imageio: converted {} of {total} file(s) into {}; {} failed",
            outcome.converted,
            esc(&batch.out_dir.display().to_string()),
            outcome.failed
        );
    }
    Ok(outcome.failed == 0)
}

/// The arguments of `imageio convert`.
#[derive(clap::Args)]
struct ConvertArgs {
    /// IN OUT; with --out-dir, the sources (IN...).
    #[arg(required = true, num_args = 1.., value_name = "FILES")]
    files: Vec<String>,
    /// Convert every FILE into this folder (created if missing).
    #[arg(long, value_name = "DIR", requires = "to")]
    out_dir: Option<PathBuf>,
    /// The extension of the files written to --out-dir (png, .tif, ...).
    #[arg(long, value_name = "EXT", requires = "out_dir")]
    to: Option<String>,
    /// Files converted at once with --out-dir (default: twice the
    /// number of cores, since each file waits on the disk while it is
    /// made durable; each job holds one image in memory).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    jobs: Option<u32>,
    /// The source's format (else detected).
    #[arg(long)]
    in_format: Option<String>,
    /// The target's format (else chosen by the extension).
    #[arg(long)]
    out_format: Option<String>,
}

fn main() -> ExitCode {
    // The tool is its own plugin worker (no other program to find).
    imageio::plugin::serve_if_worker();
    init_logging();
    let cli = Cli::parse();
    if let Some(text) = &cli.limits {
        match imageio::default_limits().parsed(text) {
            Ok(l) => imageio::set_default_limits(l),
            Err(e) => {
                eprintln!("imageio: --limits: {}", esc(&e));
                return ExitCode::from(2);
            }
        }
    }
    let result = match cli.command {
        Command::Formats { name: None, json } => {
            cmd_formats(json);
            Ok(())
        }
        Command::Formats { name: Some(name), json } => cmd_format(&name, json),
        Command::Plugins { json, rescan } => {
            if rescan {
                #[cfg(target_os = "linux")]
                imageio::plugin::force_rescan();
            }
            cmd_plugins(json);
            Ok(())
        }
        Command::Info {
            uri,
            format,
            json,
            props: false,
        } => cmd_info(&uri, format, json),
        Command::Info {
            uri,
            format,
            json,
            props: true,
        } => cmd_props(&uri, format, json),
        Command::Convert(args) => match cmd_convert(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Fetch {
            name,
            dir,
            force,
            older_than,
        } => cmd_fetch(&name, dir, force, older_than),
        Command::Dirs { json } => cmd_dirs(json),
        Command::CheckPlugin {
            path,
            samples,
            timeout,
            json,
            worker,
            keep,
        } => match cmd_check_plugin(&path, &samples, timeout, json, worker.as_deref(), keep.as_deref()) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = e.to_string().replace('\n', " ");
            eprintln!("imageio: error: {}", esc(&msg));
            ExitCode::FAILURE
        }
    }
}
