//! `imageio::v3`: imageio's v3 API, name for name (`imopen`, `imread`,
//! `imwrite`, `imiter`, `improps`, `immeta`), over the same formats and
//! plugins as the v2 functions, which stay.
//!
//! The common call takes one argument; the optional ones (`index`,
//! `plugin`, `extension`, the plugin's options, limits, a pixel mode) go
//! through the [`Args`] builder, whose methods are the same functions:
//!
//! ```
//! use imageio::v3::{self, Args};
//! # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
//! let im = v3::imread("tests/data/hello-page.png")?;
//! assert_eq!(im.shape(), &[320, 372, 3]);
//! let props = v3::improps("tests/data/hello-page.png")?;
//! assert_eq!((props.shape.as_slice(), props.n_images, props.is_batch), (&[320, 372, 3][..], 1, false));
//! let jpeg = Args::new().extension(".jpg").option("quality", 90).imwrite_bytes(&im)?;
//! let gray = Args::new().mode(v3::PixelMode::L).imread(jpeg)?;
//! assert_eq!(gray.shape(), &[320, 372]);
//! # Ok::<(), imageio::Error>(())
//! ```
//!
//! imageio v3's semantics, and where they differ:
//! - `index`: `None` (the default) reads the only image of a one-image file,
//!   and every image of a multi-image file stacked as a batch along a new
//!   first axis (`Args::all()` asks for that batch always, imageio's
//!   `index=...`); `Args::index(i)` reads image `i`. A batch of images of
//!   different shapes is an error naming the first that differs (imageio
//!   raises from numpy's `stack`).
//! - `plugin` names a format (`"PNG"`, `"TIFF"`), as the v2 functions'
//!   `format`; `extension` chooses the format by extension for reading and
//!   writing alike (it also names what `<bytes>` holds).
//! - `imwrite` returns nothing; [`imwrite_bytes`] returns the encoded
//!   file (imageio's `imwrite("<bytes>", ..)`), so a file write never
//!   carries an empty `Option` around.
//! - `improps` answers with the image's shape, dtype, the number of images
//!   and whether the shape is a batch; `spacing` is the resolution where
//!   the format reports one (`resolution` of a TIFF), else `None`.
//! - `mode` converts after reading, explicitly and only from 8-bit or
//!   boolean pixels (see [`Image::to_rgb8`]); imageio's pillow plugin
//!   converts any mode silently.

use super::{FormatManager, Reader, Writer, formats};
use crate::base::{Dict, Dtype, Image, Limits, NdArray, Value};
use crate::error::{Error, Result};
use crate::request::{Request, Uri};

/// What `index` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Index {
    /// The only image, or every image of a multi-image file as a batch
    /// (imageio's `index=None`).
    #[default]
    Default,
    /// One image.
    At(usize),
    /// Every image as a batch, even when there is one (imageio's
    /// `index=...`).
    All,
}

/// A pixel mode to convert to after reading (Pillow's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelMode {
    /// 8-bit gray.
    L,
    /// 8-bit RGB.
    Rgb,
    /// 8-bit RGBA.
    Rgba,
}

/// The optional arguments of the v3 functions, as a builder whose methods
/// are the functions themselves.
#[derive(Debug, Clone, Default)]
pub struct Args {
    index: Index,
    plugin: Option<String>,
    extension: Option<String>,
    options: Dict,
    limits: Option<Limits>,
    mode: Option<PixelMode>,
}

/// What [`improps`] tells about an image without (where the plugin can)
/// decoding it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageProperties {
    /// The shape of what `imread` with the same arguments returns.
    pub shape: Vec<usize>,
    /// Its element type.
    pub dtype: Dtype,
    /// How many images the file holds.
    pub n_images: usize,
    /// Whether the first axis of `shape` counts images.
    pub is_batch: bool,
    /// The distance between pixels along each axis, where the format
    /// reports one.
    pub spacing: Option<Vec<f64>>,
}

impl Args {
    /// No arguments: every default.
    pub fn new() -> Args {
        Args::default()
    }

    /// Image `index`.
    pub fn index(mut self, index: usize) -> Args {
        self.index = Index::At(index);
        self
    }

    /// Every image, as a batch.
    pub fn all(mut self) -> Args {
        self.index = Index::All;
        self
    }

    /// The format (plugin) to use, by name (`"PNG"`) or extension.
    pub fn plugin(mut self, name: &str) -> Args {
        self.plugin = Some(name.to_owned());
        self
    }

    /// The extension that chooses the format (`".png"`), for reading and
    /// writing.
    pub fn extension(mut self, ext: &str) -> Args {
        self.extension = Some(ext.to_owned());
        self
    }

    /// A plugin option (`"quality"`, 90): an option the plugin does not
    /// know is an error naming it.
    pub fn option(mut self, key: &str, value: impl Into<Value>) -> Args {
        self.options.insert(key, value);
        self
    }

    /// Resource limits for this call.
    pub fn limits(mut self, limits: Limits) -> Args {
        self.limits = Some(limits);
        self
    }

    /// A pixel mode to convert to after reading.
    pub fn mode(mut self, mode: PixelMode) -> Args {
        self.mode = Some(mode);
        self
    }

    fn request(&self, uri: impl Into<Uri>, io: char, image_mode: char) -> Result<Request> {
        let mut r = Request::with_options(
            uri,
            &format!("{io}{image_mode}"),
            self.extension.as_deref(),
            self.options.clone(),
        )?;
        if let Some(l) = self.limits {
            r.set_limits(l);
        }
        Ok(r)
    }

    fn reader(&self, fm: &FormatManager, uri: impl Into<Uri>) -> Result<Reader> {
        fm.reader_for(self.request(uri, 'r', '?')?, self.plugin.as_deref())
    }

    /// Reads as [`imread`] does, through the manager `fm`.
    pub fn imread_in(&self, fm: &FormatManager, uri: impl Into<Uri>) -> Result<Image> {
        let mut r = self.reader(fm, uri)?;
        let im = read_index(&mut r, self.index)?;
        r.close()?;
        self.converted(im)
    }

    /// [`imread`] with these arguments.
    pub fn imread(&self, uri: impl Into<Uri>) -> Result<Image> {
        self.imread_in(formats(), uri)
    }

    fn converted(&self, im: Image) -> Result<Image> {
        match self.mode {
            None => Ok(im),
            Some(PixelMode::L) => im.to_gray8(),
            Some(PixelMode::Rgb) => im.to_rgb8(),
            Some(PixelMode::Rgba) => im.to_rgba8(),
        }
    }

    /// [`imiter`] with these arguments, through the manager `fm`.
    pub fn imiter_in(&self, fm: &FormatManager, uri: impl Into<Uri>) -> Result<ImageIter> {
        let mut reader = self.reader(fm, uri)?;
        let n = reader.get_length()?;
        Ok(ImageIter {
            reader,
            next: 0,
            n,
            args: self.clone(),
        })
    }

    /// [`imiter`] with these arguments.
    pub fn imiter(&self, uri: impl Into<Uri>) -> Result<ImageIter> {
        self.imiter_in(formats(), uri)
    }

    /// [`improps`] with these arguments, through the manager `fm`.
    pub fn improps_in(&self, fm: &FormatManager, uri: impl Into<Uri>) -> Result<ImageProperties> {
        let mut r = self.reader(fm, uri)?;
        let props = properties(&mut r, self.index, self.mode)?;
        r.close()?;
        Ok(props)
    }

    /// [`improps`] with these arguments.
    pub fn improps(&self, uri: impl Into<Uri>) -> Result<ImageProperties> {
        self.improps_in(formats(), uri)
    }

    /// [`immeta`] with these arguments, through the manager `fm`.
    pub fn immeta_in(&self, fm: &FormatManager, uri: impl Into<Uri>) -> Result<Dict> {
        let mut r = self.reader(fm, uri)?;
        let index = match self.index {
            Index::At(i) => Some(i as u64),
            _ => None,
        };
        let meta = r.get_meta_data(index)?;
        r.close()?;
        Ok(meta)
    }

    /// [`immeta`] with these arguments.
    pub fn immeta(&self, uri: impl Into<Uri>) -> Result<Dict> {
        self.immeta_in(formats(), uri)
    }

    fn writer(&self, fm: &FormatManager, uri: impl Into<Uri>, image_mode: char) -> Result<Writer> {
        let mut uri = uri.into();
        // `<bytes>` names what it holds by the extension (or the plugin).
        if let Uri::Str(s) = &uri
            && s == crate::request::RETURN_BYTES
            && let Some(ext) = self.extension.as_deref().or(self.plugin.as_deref())
        {
            uri = Uri::Str(format!(
                "{}.{}",
                crate::request::RETURN_BYTES,
                ext.trim_matches(['.', ' ']).to_lowercase()
            ));
        }
        fm.writer_for(self.request(uri, 'w', image_mode)?, self.plugin.as_deref())
    }

    /// [`imwrite`] with these arguments, through the manager `fm`.
    pub fn imwrite_in(&self, fm: &FormatManager, uri: impl Into<Uri>, image: &Image) -> Result<()> {
        let mut w = self.writer(fm, uri, '?')?;
        write_image(&mut w, image, self.index == Index::All)?;
        w.close()
    }

    /// [`imwrite`] with these arguments. With [`Args::all`] the image is a
    /// batch: each slice along its first axis is written as one image (a
    /// GIF's frames, a TIFF's pages).
    pub fn imwrite(&self, uri: impl Into<Uri>, image: &Image) -> Result<()> {
        self.imwrite_in(formats(), uri, image)
    }

    /// [`imwrite_bytes`] with these arguments, through the manager `fm`.
    pub fn imwrite_bytes_in(&self, fm: &FormatManager, image: &Image) -> Result<Vec<u8>> {
        if self.extension.is_none() && self.plugin.is_none() {
            return Err(Error::InvalidArgument(
                "imwrite_bytes needs an extension or a plugin to choose the format".into(),
            ));
        }
        let mut w = self.writer(fm, crate::request::RETURN_BYTES, '?')?;
        write_image(&mut w, image, self.index == Index::All)?;
        w.close()?;
        w.get_result()
            .ok_or_else(|| Error::InvalidArgument("the writer produced no bytes".into()))
    }

    /// [`imwrite_bytes`] with these arguments (an extension or a plugin
    /// is required).
    pub fn imwrite_bytes(&self, image: &Image) -> Result<Vec<u8>> {
        self.imwrite_bytes_in(formats(), image)
    }

    /// [`imopen`] with these arguments.
    pub fn imopen(&self, uri: impl Into<Uri>, io_mode: &str) -> Result<ImageFile> {
        self.imopen_in(formats(), uri, io_mode)
    }

    /// [`imopen`] with these arguments, through the manager `fm`.
    pub fn imopen_in(&self, fm: &FormatManager, uri: impl Into<Uri>, io_mode: &str) -> Result<ImageFile> {
        match io_mode {
            "r" => Ok(ImageFile {
                inner: Open::Read(self.reader(fm, uri)?),
                args: self.clone(),
            }),
            "w" => Ok(ImageFile {
                inner: Open::Write(self.writer(fm, uri, '?')?),
                args: self.clone(),
            }),
            other => Err(Error::InvalidMode(format!(
                "io_mode must be \"r\" or \"w\", not {other:?}"
            ))),
        }
    }
}

/// Reads `index` from an open reader, as imageio v3 does.
fn read_index(r: &mut Reader, index: Index) -> Result<Image> {
    match index {
        Index::At(i) => r.get_data(i as u64),
        Index::Default | Index::All => {
            let n = r.get_length()?;
            if n == 1 && index == Index::Default {
                return r.get_data(0);
            }
            let mut images = Vec::new();
            for im in r.iter_data()? {
                images.push(im?);
            }
            stack(images)
        }
    }
}

/// Images of one shape and dtype stacked along a new first axis, with the
/// first image's metadata.
fn stack(images: Vec<Image>) -> Result<Image> {
    let Some(first) = images.first() else {
        return Err(Error::IndexOutOfRange {
            uri: "<file>".into(),
            message: "the file holds no image to read".into(),
        });
    };
    let (shape, dtype) = (first.shape().to_vec(), first.dtype());
    if let Some((i, other)) = images
        .iter()
        .enumerate()
        .find(|(_, im)| im.shape() != shape.as_slice() || im.dtype() != dtype)
    {
        return Err(Error::InvalidArgument(format!(
            "the images cannot form a batch: image 0 is {shape:?} {}, image {i} is {:?} {} (read them one by one)",
            dtype.name(),
            other.shape(),
            other.dtype().name()
        )));
    }
    let meta = first.meta.clone();
    // One copy, straight into the batch (every image was checked to be of
    // this dtype and shape above).
    macro_rules! stacked {
        ($($v:ident),*) => {
            match dtype {
                $(Dtype::$v => {
                    let views: Vec<_> = images
                        .iter()
                        .filter_map(|im| match &im.data {
                            NdArray::$v(a) => Some(a.view()),
                            _ => None,
                        })
                        .collect();
                    NdArray::$v(
                        ndarray::stack(ndarray::Axis(0), &views)
                            .map_err(|e| Error::InvalidArgument(format!("the batch cannot be formed: {e}")))?,
                    )
                })*
            }
        };
    }
    let data = stacked!(U8, U16, U32, U64, I8, I16, I32, I64, F32, F64, Bool, F16);
    Ok(Image::new(data, meta))
}

/// Writes `image` (each slice along the first axis when `batch`).
fn write_image(w: &mut Writer, image: &Image, batch: bool) -> Result<()> {
    if !batch {
        return w.append_data(image, None);
    }
    for i in 0..image.shape().first().copied().unwrap_or(0) {
        w.append_data(&image.slice_batch(i)?, None)?;
    }
    Ok(())
}

/// The properties of `index` in an open reader.
fn properties(r: &mut Reader, index: Index, mode: Option<PixelMode>) -> Result<ImageProperties> {
    let n = r.get_length()?;
    let n_images = usize::try_from(n).unwrap_or(usize::MAX);
    let at = match index {
        Index::At(i) => i as u64,
        _ => 0,
    };
    // Without decoding where the format can tell (ABI 1.2); else decode.
    let (mut shape, mut dtype, meta) = match r.properties(at)? {
        Some(p) => (p.shape, p.dtype, r.get_meta_data(Some(at)).unwrap_or_default()),
        None => {
            let image = r.get_data(at)?;
            (image.shape().to_vec(), image.dtype(), image.meta)
        }
    };
    if let Some(m) = mode {
        // What the conversion would make, without converting.
        shape.truncate(2);
        match m {
            PixelMode::L => {}
            PixelMode::Rgb => shape.push(3),
            PixelMode::Rgba => shape.push(4),
        }
        dtype = Dtype::U8;
    }
    let is_batch = match index {
        Index::At(_) => false,
        Index::All => true,
        Index::Default => n_images > 1,
    };
    if is_batch {
        shape.insert(0, n_images);
    }
    let spacing = meta
        .get("resolution")
        .and_then(Value::as_float_array)
        .filter(|v| v.len() == 2 && v.iter().all(|&x| x > 0.0))
        .map(|v| vec![1.0 / v[1], 1.0 / v[0]]);
    Ok(ImageProperties {
        shape,
        dtype,
        n_images,
        is_batch,
        spacing,
    })
}

/// An open file (imageio's `imopen`): a reader or a writer.
pub struct ImageFile {
    inner: Open,
    args: Args,
}

enum Open {
    Read(Reader),
    Write(Writer),
}

impl ImageFile {
    fn reader(&mut self) -> Result<&mut Reader> {
        match &mut self.inner {
            Open::Read(r) => Ok(r),
            Open::Write(_) => Err(Error::InvalidMode("this file was opened for writing (\"w\")".into())),
        }
    }

    /// Image `index` (see [`Index`]; `None` as `imread`'s default).
    pub fn read(&mut self, index: Option<usize>) -> Result<Image> {
        let index = index.map_or(Index::Default, Index::At);
        let mode = self.args.clone();
        let im = read_index(self.reader()?, index)?;
        mode.converted(im)
    }

    /// Every image in turn, read lazily.
    pub fn iter(&mut self) -> Result<impl Iterator<Item = Result<Image>> + '_> {
        let args = self.args.clone();
        let r = self.reader()?;
        let n = r.get_length()?;
        Ok((0..n).map_while(move |i| read_next(r, i, n, &args)))
    }

    /// The properties of `index` (`None`: the file's, as [`improps`]).
    pub fn properties(&mut self, index: Option<usize>) -> Result<ImageProperties> {
        let mode = self.args.mode;
        properties(self.reader()?, index.map_or(Index::Default, Index::At), mode)
    }

    /// The metadata of `index` (`None`: the file's).
    pub fn metadata(&mut self, index: Option<usize>) -> Result<Dict> {
        self.reader()?.get_meta_data(index.map(|i| i as u64))
    }

    /// Writes an image (a batch, slice by slice, when the file was opened
    /// with [`Args::all`]).
    pub fn write(&mut self, image: &Image) -> Result<()> {
        let batch = self.args.index == Index::All;
        match &mut self.inner {
            Open::Write(w) => write_image(w, image, batch),
            Open::Read(_) => Err(Error::InvalidMode("this file was opened for reading (\"r\")".into())),
        }
    }

    /// The request behind the file.
    pub fn request(&self) -> Option<&Request> {
        match &self.inner {
            Open::Read(r) => r.request(),
            Open::Write(w) => w.request(),
        }
    }

    /// Closes the file: a writer's output is committed.
    pub fn close(mut self) -> Result<()> {
        match &mut self.inner {
            Open::Read(r) => r.close(),
            Open::Write(w) => w.close(),
        }
    }
}

/// The images of a file in turn, read lazily ([`imiter`]).
pub struct ImageIter {
    reader: Reader,
    next: u64,
    n: u64,
    args: Args,
}

impl Iterator for ImageIter {
    type Item = Result<Image>;
    fn next(&mut self) -> Option<Result<Image>> {
        if self.next >= self.n {
            return None;
        }
        let i = self.next;
        self.next += 1;
        read_next(&mut self.reader, i, self.n, &self.args)
    }
}

/// Image `i` of a file of `n` images, converted as `args` say; `None` where
/// a stream of unknown length ends (the plugin says the index is past it).
fn read_next(r: &mut Reader, i: u64, n: u64, args: &Args) -> Option<Result<Image>> {
    match r.get_data(i) {
        Err(Error::IndexOutOfRange { .. }) if n == crate::registry::LENGTH_UNKNOWN => None,
        other => Some(other.and_then(|im| args.converted(im))),
    }
}

/// Opens `uri` for reading (`"r"`) or writing (`"w"`).
pub fn imopen(uri: impl Into<Uri>, io_mode: &str) -> Result<ImageFile> {
    Args::new().imopen(uri, io_mode)
}

/// Reads the image (or, from a multi-image file, every image as a batch).
pub fn imread(uri: impl Into<Uri>) -> Result<Image> {
    Args::new().imread(uri)
}

/// Writes the image to `uri`, the format chosen by its extension.
pub fn imwrite(uri: impl Into<Uri>, image: &Image) -> Result<()> {
    Args::new().imwrite(uri, image)
}

/// Encodes the image in the format of `extension` (`".png"`) and returns
/// the file's bytes (imageio's `imwrite("<bytes>", ..)`).
pub fn imwrite_bytes(image: &Image, extension: &str) -> Result<Vec<u8>> {
    Args::new().extension(extension).imwrite_bytes(image)
}

/// The images of `uri` in turn, each read when asked for.
pub fn imiter(uri: impl Into<Uri>) -> Result<ImageIter> {
    Args::new().imiter(uri)
}

/// The shape, dtype and count of `uri`'s images.
pub fn improps(uri: impl Into<Uri>) -> Result<ImageProperties> {
    Args::new().improps(uri)
}

/// The file's metadata.
pub fn immeta(uri: impl Into<Uri>) -> Result<Dict> {
    Args::new().immeta(uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn stacking_needs_one_shape() {
        let a = Image::from(ArrayD::<u8>::zeros(IxDyn(&[2, 2])));
        let b = Image::from(ArrayD::<u8>::zeros(IxDyn(&[2, 3])));
        let s = stack(vec![a.clone(), a.clone()]).unwrap();
        assert_eq!(s.shape(), &[2, 2, 2]);
        assert_eq!(s.slice_batch(1).unwrap().data, a.data);
        let e = stack(vec![a, b]).unwrap_err();
        assert!(e.to_string().contains("image 1 is [2, 3]"), "{e}");
    }
}
