//! The standard images of `imageio:NAME` URIs.

use crate::error::{Error, Result};

/// The standard images (imageio HEAD's `EXAMPLE_IMAGES`).
pub const EXAMPLE_IMAGES: [&str; 25] = [
    "astronaut.png",
    "camera.png",
    "checkerboard.png",
    "clock.png",
    "coffee.png",
    "chelsea.png",
    "wikkie.png",
    "coins.png",
    "horse.png",
    "hubble_deep_field.png",
    "immunohistochemistry.png",
    "moon.png",
    "page.png",
    "text.png",
    "chelsea.zip",
    "chelsea.bsdf",
    "newtonscradle.gif",
    "cockatoo.mp4",
    "stent.npz",
    "wood.jpg",
    "bricks.jpg",
    "meadow_cube.jpg",
    "bacterial_colony.tif",
    "calcium_imaging.tif",
    "cockatoo_yuv420.mp4",
];

/// A standard image named by an `imageio:NAME` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardImage {
    /// The remote file to fetch (`images/chelsea.png`).
    pub remote: String,
    /// The member of a zip archive (`chelsea.zip/chelsea.png`), if any.
    pub member: Option<String>,
}

/// Resolves the part of an `imageio:` URI after the colon, as imageio does:
/// lower-cased (member names too), `NAME.zip/MEMBER` naming a member of a
/// zip archive, and the name checked against [`EXAMPLE_IMAGES`].
///
/// ```
/// use imageio::request::standard_image;
/// let im = standard_image("Chelsea.zip/chelsea.PNG")?;
/// assert_eq!(im.remote, "images/chelsea.zip");
/// assert_eq!(im.member.as_deref(), Some("chelsea.png"));
/// assert_eq!(standard_image("//chelsea.png").unwrap_err().to_string(), "Unknown standard image '//chelsea.png'.");
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn standard_image(name: &str) -> Result<StandardImage> {
    let name = name.to_lowercase();
    let (base, member) = match name.split_once(".zip/") {
        Some((b, m)) => (format!("{b}.zip"), Some(m.to_owned())),
        None => (name, None),
    };
    if !EXAMPLE_IMAGES.contains(&base.as_str()) {
        return Err(Error::UnknownStandardImage { name: base });
    }
    Ok(StandardImage {
        remote: format!("images/{base}"),
        member,
    })
}
