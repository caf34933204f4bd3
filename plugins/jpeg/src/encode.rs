//! The JPEG encoder behind the writer: libjpeg-turbo where the build found
//! it (`turbo`), else the pure-Rust `jpeg-encoder`. Both take one [`Job`]
//! and write the same kind of file: JFIF YCbCr 4:2:0 or gray, or Adobe CMYK
//! (inverted, every component at full resolution), libjpeg's quality scale.

use imageio_plugin_api::{Error, Result};
use std::io::Write;

/// The format's description, naming the encoder this build uses.
#[cfg(jpeg_turbo)]
pub const DESCRIPTION: &str = "JPEG (zune-jpeg decoder, libjpeg-turbo encoder)";
/// The format's description, naming the encoder this build uses.
#[cfg(not(jpeg_turbo))]
pub const DESCRIPTION: &str = "JPEG (zune-jpeg decoder, jpeg-encoder encoder)";

/// The chroma subsampling of a YCbCr file (Pillow's option values 0, 1, 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subsampling {
    /// Full-resolution chroma.
    S444,
    /// Chroma halved horizontally.
    S422,
    /// Chroma halved both ways: Pillow's (and so imageio's) default.
    S420,
}

/// One image to encode, checked by the writer.
pub struct Job<'a> {
    /// `height` rows of `width` pixels of `components` bytes.
    pub pixels: &'a [u8],
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
    /// 1 (gray), 3 (RGB, stored as YCbCr) or 4 (CMYK).
    pub components: u8,
    /// 1-100.
    pub quality: u8,
    /// Progressive scans.
    pub progressive: bool,
    /// Huffman tables fitted to the image.
    pub optimize: bool,
    /// The chroma subsampling (RGB images only).
    pub subsampling: Subsampling,
    /// Dots per inch, horizontally and vertically.
    pub density: Option<(u16, u16)>,
    /// An APP1 payload (starting `Exif\0\0`).
    pub exif: Option<Vec<u8>>,
    /// An ICC profile.
    pub icc: Option<Vec<u8>>,
}

/// Encodes `job` into `out`.
pub fn encode(job: &Job<'_>, out: &mut dyn Write) -> Result<()> {
    let expected = usize::from(job.width) * usize::from(job.height) * usize::from(job.components);
    if job.pixels.len() != expected {
        return Err(Error::invalid_argument(format!(
            "JPEG: {} bytes of pixels for a {}x{}x{} image",
            job.pixels.len(),
            job.width,
            job.height,
            job.components
        )));
    }
    // libjpeg stops at 65500 pixels a side; jpeg-encoder goes to 65535.
    #[cfg(jpeg_turbo)]
    if job.width <= crate::turbo::MAX_DIMENSION && job.height <= crate::turbo::MAX_DIMENSION {
        return crate::turbo::encode(job, out);
    }
    encode_rust(job, out)
}

fn encoding_error(e: jpeg_encoder::EncodingError) -> Error {
    match e {
        jpeg_encoder::EncodingError::IoError(io) => Error::from(io),
        other => Error::invalid_argument(format!("JPEG: {other}")),
    }
}

/// The pure-Rust encoder: builds without libjpeg, and images too wide or
/// tall for it.
fn encode_rust(job: &Job<'_>, out: &mut dyn Write) -> Result<()> {
    let color = match job.components {
        1 => jpeg_encoder::ColorType::Luma,
        3 => jpeg_encoder::ColorType::Rgb,
        _ => jpeg_encoder::ColorType::Cmyk,
    };
    let mut encoder = jpeg_encoder::Encoder::new(out, job.quality);
    encoder.set_progressive(job.progressive);
    // Full resolution for every CMYK component, as libjpeg writes them
    // (subsampled CMYK is rare and badly supported by readers).
    encoder.set_sampling_factor(match (job.components, job.subsampling) {
        (3, Subsampling::S422) => jpeg_encoder::SamplingFactor::R_4_2_2,
        (3, Subsampling::S420) => jpeg_encoder::SamplingFactor::R_4_2_0,
        _ => jpeg_encoder::SamplingFactor::R_4_4_4,
    });
    encoder.set_optimized_huffman_tables(job.optimize);
    if let Some(exif) = &job.exif {
        encoder.add_app_segment(1, exif.clone()).map_err(encoding_error)?;
    }
    if let Some(icc) = job.icc.as_ref().filter(|icc| !icc.is_empty()) {
        encoder.add_icc_profile(icc).map_err(encoding_error)?;
    }
    if let Some(density) = job.density {
        encoder.set_density(jpeg_encoder::PixelDensity {
            density,
            unit: jpeg_encoder::PixelDensityUnit::Inches,
        });
    }
    encoder
        .encode(job.pixels, job.width, job.height, color)
        .map_err(encoding_error)
}
