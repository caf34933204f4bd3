//! The Reader/Writer lifecycle and the memory guard, on formats a program
//! registers from Rust types (scoped registration, no shared library).

use imageio::{Error, Format, FormatManager, Memtest, Options};
use imageio_plugin_api::{self as sdk, Error as PluginError, ImageSink, Request};
use std::io::Read;

/// `FRAMES` files: the bytes `FRAMES`, a count N, and a flag byte:
/// 0 = all N frames read; 1 = the last frame cannot be read; 2 = the middle
/// one cannot; 3 = the length is unknown (a stream of N frames).
/// Each frame is a 100x100 uint8 image filled with its index.
struct Frames;
struct FramesReader {
    n: u64,
    flag: u8,
}

impl sdk::Format for Frames {
    const NAME: &'static str = "FRAMES";
    const DESCRIPTION: &'static str = "multi-frame test format";
    const EXTENSIONS: &'static str = ".frames";
    const MODES: &'static str = "iI";
    type Reader = FramesReader;
    type Writer = sdk::Unsupported;

    fn can_read(req: &Request<'_>) -> i32 {
        if req.first_bytes().starts_with(b"FRAMES") {
            100
        } else {
            0
        }
    }

    fn open_reader(req: &Request<'_>) -> sdk::Result<FramesReader> {
        let mut head = [0u8; 8];
        req.stream()?.read_exact(&mut head)?;
        Ok(FramesReader {
            n: u64::from(head[6]),
            flag: head[7],
        })
    }
}

impl sdk::Reader for FramesReader {
    fn get_length(&mut self) -> sdk::Result<u64> {
        Ok(if self.flag == 3 {
            sdk::ffi::IIO_LENGTH_UNKNOWN
        } else {
            self.n
        })
    }

    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> sdk::Result<()> {
        if index >= self.n {
            return Err(PluginError::index_out_of_range(index, self.n));
        }
        let bad = (self.flag == 1 && index + 1 == self.n) || (self.flag == 2 && index == self.n / 2);
        if bad {
            return Err(PluginError::new(
                sdk::ffi::IIO_ERR_CANNOT_READ_FRAME,
                "frame is damaged",
            ));
        }
        sink.alloc::<u8>(&[100, 100])?.fill(index as u8);
        sink.set_meta("index", &sdk::Value::Int(index as i64))
    }

    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> sdk::Result<()> {
        sink.set_meta("frames", &sdk::Value::Int(self.n as i64))?;
        if let Some(i) = index {
            sink.set_meta("index", &sdk::Value::Int(i as i64))?;
        }
        Ok(())
    }
}

fn manager() -> FormatManager {
    let fm = FormatManager::with_builtins();
    fm.add_format(Format::from_rust::<Frames>().unwrap(), false).unwrap();
    fm
}

fn file(n: u8, flag: u8) -> Vec<u8> {
    [b"FRAMES".as_slice(), &[n, flag]].concat()
}

#[test]
fn mimread_reads_every_frame_and_the_memory_guard_stops_it() {
    let fm = manager();
    let frames = fm.mimread(file(5, 0), &Options::default()).unwrap();
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[3].data.as_u8().unwrap()[[0, 0]], 3);
    assert_eq!(frames[3].meta.get("index"), Some(&imageio::Value::Int(3)));
    let opts = Options {
        memtest: Memtest::Bytes(25_000),
        ..Options::default()
    };
    let e = fm.mimread(file(5, 0), &opts).unwrap_err();
    assert!(matches!(e, Error::MemoryLimit(_)), "{e}");
    assert!(
        e.to_string()
            .starts_with("imageio.mimread() has read over 25000 bytes of image data."),
        "{e}"
    );
    let opts = Options {
        memtest: Memtest::Off,
        ..Options::default()
    };
    assert_eq!(fm.mimread(file(5, 0), &opts).unwrap().len(), 5);
}

#[test]
fn iteration_tolerates_only_a_damaged_last_frame_and_stops_unbounded_streams() {
    let fm = manager();
    assert_eq!(fm.mimread(file(3, 1), &Options::default()).unwrap().len(), 2);
    let e = fm.mimread(file(3, 2), &Options::default()).unwrap_err();
    assert!(matches!(e, Error::CannotReadFrame { index: 1, .. }), "{e}");
    let mut r = fm.get_reader(file(4, 3), 'I', &Options::default()).unwrap();
    assert_eq!(r.get_length().unwrap(), imageio::LENGTH_UNKNOWN);
    assert_eq!(r.iter_data().unwrap().count(), 4);
}

#[test]
fn next_data_and_image_index_follow_imageio() {
    let fm = manager();
    let mut r = fm.get_reader(file(3, 0), 'I', &Options::default()).unwrap();
    let first = |im: imageio::Image| im.data.as_u8().unwrap()[[0, 0]];
    assert_eq!(first(r.get_next_data().unwrap()), 0);
    assert_eq!(first(r.get_next_data().unwrap()), 1);
    r.set_image_index(0).unwrap();
    assert_eq!(first(r.get_next_data().unwrap()), 0);
    r.set_image_index(10).unwrap(); // clamped to the length: the next read is past the end
    assert!(matches!(r.get_next_data().unwrap_err(), Error::IndexOutOfRange { .. }));
    r.set_image_index(-5).unwrap();
    assert_eq!(first(r.get_next_data().unwrap()), 0);
    // get_data sets the index before reading, even when the read fails.
    assert!(r.get_data(7).is_err());
    r.set_image_index(2).unwrap();
    assert_eq!(first(r.get_next_data().unwrap()), 2);
    let meta = r.get_meta_data(None).unwrap();
    assert_eq!(meta.get("frames"), Some(&imageio::Value::Int(3)));
    assert_eq!(
        r.get_meta_data(Some(1)).unwrap().get("index"),
        Some(&imageio::Value::Int(1))
    );
    r.close().unwrap();
    assert_eq!(
        r.get_meta_data(None).unwrap_err().to_string(),
        "I/O operation on closed Reader."
    );
}

#[test]
fn an_explicit_format_and_mode_checks() {
    let fm = manager();
    assert_eq!(fm.get("frames").unwrap().modes(), "iI");
    let e = fm
        .get_reader(file(1, 0), 'v', &Options::default().with_format("FRAMES"))
        .unwrap_err();
    assert_eq!(e.to_string(), "Format FRAMES cannot read in single-volume mode");
    // FRAMES cannot write: no format can write a .frames file.
    let im = fm.imread(file(1, 0), &Options::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = fm
        .imwrite(dir.path().join("x.frames"), &im, &Options::default())
        .unwrap_err();
    assert!(matches!(e, Error::NoFormatFound { .. }), "{e}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing may be left behind"
    );
}
