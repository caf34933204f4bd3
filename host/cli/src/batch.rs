//! `imageio convert IN... --out-dir DIR --to EXT`: many files converted in
//! parallel in one process. Each input becomes `DIR/<stem>.<EXT>`, written
//! atomically; a file that fails is reported on its own line while the rest
//! go on; the caller turns any failure into exit status 1.

use crate::esc;
use imageio::Options;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a batch is asked to do.
pub struct Batch {
    /// The sources, in the order given.
    pub inputs: Vec<String>,
    /// The folder the outputs go to (created if missing).
    pub out_dir: PathBuf,
    /// The outputs' extension, without its dot.
    pub to: String,
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// The sources' format, else detected per file.
    pub in_format: Option<String>,
    /// The targets' format, else chosen by the extension.
    pub out_format: Option<String>,
}

/// How a batch went (each failure was reported on its own line as it
/// happened).
pub struct Outcome {
    /// Files converted.
    pub converted: usize,
    /// Files that failed.
    pub failed: usize,
}

/// One unit of work: a source and the file it becomes, or why it cannot be
/// planned at all (a name clash, a source that is its own target).
struct Job {
    input: String,
    output: Result<PathBuf, String>,
}

/// The extension as given (`png`, `.png`), normalised to `png`.
fn bare_extension(to: &str) -> Result<String, String> {
    let ext = to.trim_start_matches('.');
    if ext.is_empty() || ext.contains(['/', '\\']) {
        return Err(format!("--to takes an extension such as png, not {to:?}"));
    }
    Ok(ext.to_owned())
}

/// The file name a source's output takes: the last path segment of the URI
/// (a local path, `file://`, http or zip member alike), less its extension.
fn output_stem(input: &str) -> Option<String> {
    // A URL's query and fragment are not part of its name; a local file's
    // `?` and `#` are.
    let is_url = ["http://", "https://", "ftp://", "ftps://"].iter().any(|scheme| {
        input
            .get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    });
    let trimmed = if is_url {
        input.split(['?', '#']).next().unwrap_or(input)
    } else {
        input
    };
    let last = trimmed.rsplit(['/', '\\']).find(|s| !s.is_empty())?;
    let stem = match last.rfind('.') {
        Some(0) | None => last,
        Some(i) => &last[..i],
    };
    let stem = stem.strip_prefix("imageio:").unwrap_or(stem);
    (!stem.is_empty() && stem != "." && stem != "..").then(|| stem.to_owned())
}

/// Plans every job: outputs named, two sources that would write the same
/// output both refused (neither silently overwrites the other), and a source
/// that is its own output refused.
fn plan(inputs: &[String], out_dir: &Path, ext: &str) -> Vec<Job> {
    let mut jobs: Vec<Job> = inputs
        .iter()
        .map(|input| Job {
            input: input.clone(),
            output: output_stem(input)
                .map(|stem| out_dir.join(format!("{stem}.{ext}")))
                .ok_or_else(|| "cannot name an output for this source".to_owned()),
        })
        .collect();
    let mut seen: HashMap<PathBuf, Vec<usize>> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        if let Ok(out) = &job.output {
            seen.entry(out.clone()).or_default().push(i);
        }
    }
    for (out, users) in seen {
        if users.len() > 1 {
            let names: Vec<String> = users.iter().map(|&i| jobs[i].input.clone()).collect();
            for &i in &users {
                jobs[i].output = Err(format!(
                    "{} sources would write {} ({}); none of them is converted",
                    users.len(),
                    out.display(),
                    names.join(", ")
                ));
            }
        }
    }
    for job in &mut jobs {
        let same = match &job.output {
            Ok(out) => same_file(Path::new(&job.input), out),
            Err(_) => false,
        };
        if same {
            job.output = Err("the output would replace the source itself".to_owned());
        }
    }
    jobs
}

/// Whether two paths name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Converts one file, a panic included: a bug met on one file is that
/// file's failure, not the batch's end.
fn convert_guarded(input: &str, out: &Path, in_opts: &Options, out_opts: &Options) -> Result<(), String> {
    let run = || crate::convert_one(input, &out.to_string_lossy(), in_opts, out_opts, false);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string().replace('\n', " ")),
        Err(_) => Err("internal error: the conversion panicked (please report it)".to_owned()),
    }
}

/// One bar over the files, on a terminal; hidden otherwise (messages then
/// go straight to stderr).
fn files_bar(total: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("Converting [{bar:30}] {pos}/{len} files ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs the batch: `jobs` threads take the next unconverted file until none
/// is left. Each failure is printed (above the bar) as it happens.
pub fn run(batch: &Batch) -> Result<Outcome, String> {
    let ext = bare_extension(&batch.to)?;
    if batch.inputs.is_empty() {
        return Err("no input files".to_owned());
    }
    std::fs::create_dir_all(&batch.out_dir).map_err(|e| format!("--out-dir {}: {e}", batch.out_dir.display()))?;
    // Outputs are named from the folder's absolute path, so the writer
    // reads them as the plain file names they are (a folder named `~x` is
    // not the home folder, whatever the name of the output is).
    let absolute =
        std::path::absolute(&batch.out_dir).map_err(|e| format!("--out-dir {}: {e}", batch.out_dir.display()))?;
    let jobs = plan(&batch.inputs, &absolute, &ext);
    let bar = files_bar(jobs.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let in_opts = Options {
        format: batch.in_format.clone(),
        ..Options::default()
    };
    let out_opts = Options {
        format: batch.out_format.clone(),
        ..Options::default()
    };
    let threads = batch.jobs.clamp(1, jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let result = match &job.output {
                        Ok(out) => convert_guarded(&job.input, out, &in_opts, &out_opts),
                        Err(why) => Err(format!("{}: {why}", job.input)),
                    }
                    // Every line names its file, whatever the error says.
                    .map_err(|why| {
                        if why.contains(&job.input) {
                            why
                        } else {
                            format!("{}: {why}", job.input)
                        }
                    });
                    if let Err(why) = &result {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let line = format!("imageio: error: {}", esc(why));
                        if bar.is_hidden() {
                            eprintln!("{line}");
                        } else {
                            bar.println(line);
                        }
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let failed = failed.into_inner();
    Ok(Outcome {
        converted: jobs.len() - failed,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_come_from_the_last_segment_of_any_uri() {
        assert_eq!(output_stem("a/b/photo.JPG").as_deref(), Some("photo"));
        assert_eq!(output_stem("run#3/shot?.png").as_deref(), Some("shot?"));
        assert_eq!(output_stem("HTTPS://h/x/y.png#frag").as_deref(), Some("y"));
        assert_eq!(output_stem("http://h/x/y.png?raw=1").as_deref(), Some("y"));
        assert_eq!(output_stem("pack.zip/inner/z.tif").as_deref(), Some("z"));
        assert_eq!(output_stem("imageio:chelsea.png").as_deref(), Some("chelsea"));
        assert_eq!(output_stem(".hidden").as_deref(), Some(".hidden"));
        assert_eq!(output_stem("noext").as_deref(), Some("noext"));
        assert_eq!(output_stem("/"), None);
        assert_eq!(output_stem(".."), None);
    }

    #[test]
    fn clashing_outputs_are_all_refused() {
        let inputs = ["a/x.png", "b/x.bmp", "c/y.png"].map(String::from);
        let jobs = plan(&inputs, Path::new("/nonexistent-out"), "tif");
        assert!(jobs[0].output.is_err() && jobs[1].output.is_err());
        assert_eq!(
            jobs[2].output.as_deref().ok(),
            Some(Path::new("/nonexistent-out/y.tif"))
        );
        assert_eq!(bare_extension(".PNG").unwrap(), "PNG");
        assert!(bare_extension("").is_err() && bare_extension("a/b").is_err());
    }
}
