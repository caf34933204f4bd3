//! Integration tests of imageio-rs, in one binary. Table of contents:
//!
//! - `abi`: the C header compiles as C99 and C++17, C and Rust layouts agree.
//! - `loading`: real shared libraries (standard plugins and broken fixtures)
//!   loaded with dlopen; each failure has its own outcome; panics contained;
//!   non-thread-safe plugins serialised.
//! - `interop`: files written by Pillow/pypng read identically; files we
//!   write read identically in Pillow/pypng.
//! - `conformance`: `imageio check-plugin` passes every standard plugin and
//!   fails each broken fixture (load errors, panics, a segfault, a hang,
//!   impure can_read, errors without messages) with a clear report.
//! - `core`: Request, FormatManager and the user functions on real files.
//! - `extensions`: ABI 1.2 (properties without decoding, declared options,
//!   documentation) from a C plugin; frozen 1.0 and 1.1 plugins still work.
//! - `embedding`: a program built outside the workspace is its own plugin
//!   worker with one line, and without it gets an error that says why.
//! - `cli`: the `imageio` tool, including a third-party C plugin built from
//!   the header alone and a garbage `.so` in `IMAGEIO_PLUGIN_PATH`.
//! - `threads`: eight threads reading through one FormatManager.
//! - `limits`: ABI 1.1: a plugin built against the 1.0 header still loads
//!   (held to the limits by the host); signatures spare `can_read`; the
//!   caller's limits reach every standard plugin and the tool.
//! - `isolation`: every broken plugin (crash, abort, exit, hang; in the
//!   constructor, the entry, can_read, get_data) leaves the other commands
//!   working; a crash is one error and the next file reads; scanning,
//!   the registry cache, lazy loading, quarantine, the fallback policy;
//!   isolated standard plugins read and write exactly as the builtins.
//! - `sandbox`: a hostile plugin in a worker reaches no file, network,
//!   program or process; its memory is capped; nothing it starts outlives
//!   the host; its output is escaped and bounded; workers run in parallel;
//!   a plugin file swapped under the host is refused.
//! - `lifecycle`: Reader/Writer lifecycle, iteration and the memory guard on a
//!   multi-frame format registered from a Rust type.
//! - `readme`: the plugin authors' guide's C plugin compiles, loads, reads
//!   and writes.
//! - `formats`: JPEG, TIFF, GIF, BMP, NPY and WebP against Pillow,
//!   tifffile and numpy, both ways, in every mode the plugins claim.
//! - `v3`: imageio::v3's nine daily tasks against Python imageio v3 on the
//!   same files, in no more lines; imopen, properties, typed pixels.
//! - `helpers`: `image_as_uint` and the progress indicator against imageio
//!   itself; `load_lib`, `appdata_dir`, `resource_dirs` on real files.
//! - `remote`: `get_remote_file`, `urlopen` and http(s) reading against a
//!   real HTTP server on 127.0.0.1 (drops, timeouts, 404s, seeking plugins).
//! - `sources`: zip members (read, write, replace) against Python's zipfile,
//!   `imageio:` standard images from a local mirror, the CLI on both.
//! - `fuzzing`: the fuzz targets' seeds and the findings, replayed on stable.
//! - `hostile`: hostile files, round two (issue 16): the guard (every
//!   hostile file under a 2 GiB cap with a peak-memory bound, the table of
//!   RELIABILITY.md), metadata bombs, JPEGs that cannot hold their header,
//!   total pixels per file, writes to FIFOs, descriptors, devices and
//!   hard-linked files, forward-only streams.
//! - `findings`: small hostile files found by fuzzing, each a typed error
//!   under a 2 GiB address-space limit.
//! - `strict`: damaged files are errors unless asked (as Pillow decides),
//!   and RGBA never becomes CMYK silently.
//! - `trust`: which plugin folders and files are loaded at all (absolute,
//!   the user's own, not writable by others, links judged by their target).
//! - `writes`: a replaced file keeps its mode, links are written through,
//!   zip member names cannot escape their archive.
//! - `regressions`: the bugs the host's restructuring made impossible (a
//!   closed reader calling its plugin, a far seek aborting, empty targets
//!   created, `get_remote_file` into a given folder, two imageio messages).

mod abi;
mod cli;
mod conformance;
mod core;
mod embedding;
mod extensions;
mod findings;
mod formats;
mod fuzzing;
mod helpers;
mod hostile;
mod interop;
mod isolation;
mod lifecycle;
mod limits;
mod loading;
mod readme;
mod regressions;
mod remote;
mod sandbox;
mod sources;
mod strict;
mod threads;
mod trust;
mod v3;
mod writes;
