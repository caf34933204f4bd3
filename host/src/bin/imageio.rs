//! The `imageio` command-line tool: list formats and plugins, inspect and
//! convert images, with the standard plugins built in and any plugin found in
//! the plugin directories.

use clap::{Parser, Subcommand};
use imageio::plugin::{Origin, PluginReport};
use imageio::{Dict, Format, Options, Value, formats};
use serde_json::{Value as Json, json};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "imageio",
    version,
    about = "Read, write and inspect images through imageio-rs plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every registered format.
    Formats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every plugin considered and what became of it.
    Plugins {
        /// Print JSON.
        #[arg(long)]
        json: bool,
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
    },
    /// Write every image of IN to OUT.
    Convert {
        /// The source.
        input: String,
        /// The target (written atomically).
        output: String,
        /// The source's format (else detected).
        #[arg(long)]
        in_format: Option<String>,
        /// The target's format (else chosen by OUT's extension).
        #[arg(long)]
        out_format: Option<String>,
    },
}

struct StderrLogger(log::LevelFilter);

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.0
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("imageio: {}: {}", r.level().as_str().to_lowercase(), r.args());
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
    })
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
            f.name(),
            f.modes(),
            f.extensions().join(" "),
            f.description(),
            origin_str(f.origin())
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
        println!("{:<9} {path}: {detail}", r.status.as_str());
    }
}

fn cmd_info(uri: &str, format: Option<String>, json: bool) -> imageio::Result<()> {
    let opts = Options {
        format,
        ..Options::default()
    };
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
    println!("{uri}: format {name}, {} image(s)", images.len());
    for (i, im) in images.iter().enumerate() {
        println!(
            "  image {i}: shape {} dtype {}",
            im["shape"],
            im["dtype"].as_str().unwrap_or("")
        );
    }
    for (k, v) in meta.iter() {
        println!("  {k}: {v}");
    }
    Ok(())
}

fn cmd_convert(
    input: &str,
    output: &str,
    in_format: Option<String>,
    out_format: Option<String>,
) -> imageio::Result<()> {
    let in_opts = Options {
        format: in_format,
        ..Options::default()
    };
    let mut reader = imageio::get_reader(input, '?', &in_opts)?;
    let length = reader.get_length()?;
    let mode = if length == 1 { 'i' } else { 'I' };
    let out_opts = Options {
        format: out_format,
        ..Options::default()
    };
    let mut writer = imageio::get_writer(output, mode, &out_opts)?;
    let mut count = 0usize;
    for im in reader.iter_data()? {
        writer.append_data(&im?, None)?;
        count += 1;
    }
    reader.close()?;
    if count == 0 {
        return Err(imageio::Error::InvalidArgument(format!(
            "{input}: Zero images were written."
        )));
    }
    writer.close()?;
    eprintln!(
        "imageio: wrote {count} image(s) to {output} ({})",
        writer.format().name()
    );
    Ok(())
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Formats { json } => {
            cmd_formats(json);
            Ok(())
        }
        Command::Plugins { json } => {
            cmd_plugins(json);
            Ok(())
        }
        Command::Info { uri, format, json } => cmd_info(&uri, format, json),
        Command::Convert {
            input,
            output,
            in_format,
            out_format,
        } => cmd_convert(&input, &output, in_format, out_format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = e.to_string().replace('\n', " ");
            eprintln!("imageio: error: {msg}");
            ExitCode::FAILURE
        }
    }
}
