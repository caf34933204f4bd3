//! A request's mode: read or write, and the image mode (`"ri"`, `"wI"`, ...).

use crate::error::{Error, Result};
use std::fmt;

/// `'r'` or `'w'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoMode {
    /// Reading.
    Read,
    /// Writing.
    Write,
}

/// What the caller expects: imageio's `i I v V ?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMode {
    /// `i`: one image.
    Single,
    /// `I`: several images.
    Multi,
    /// `v`: one volume.
    Volume,
    /// `V`: several volumes.
    MultiVolume,
    /// `?`: any.
    Any,
}

impl ImageMode {
    /// The mode's character.
    pub fn as_char(self) -> char {
        match self {
            ImageMode::Single => 'i',
            ImageMode::Multi => 'I',
            ImageMode::Volume => 'v',
            ImageMode::MultiVolume => 'V',
            ImageMode::Any => '?',
        }
    }

    /// The mode of a character.
    pub fn from_char(c: char) -> Option<ImageMode> {
        Some(match c {
            'i' => ImageMode::Single,
            'I' => ImageMode::Multi,
            'v' => ImageMode::Volume,
            'V' => ImageMode::MultiVolume,
            '?' => ImageMode::Any,
            _ => return None,
        })
    }

    /// imageio's name for it (`single-image`, ..., `any-mode`).
    pub fn name(self) -> &'static str {
        match self {
            ImageMode::Single => "single-image",
            ImageMode::Multi => "multi-image",
            ImageMode::Volume => "single-volume",
            ImageMode::MultiVolume => "multi-volume",
            ImageMode::Any => "any-mode",
        }
    }

    /// The character formats list in their modes, or `None` for `?`.
    pub(crate) fn select_char(self) -> Option<char> {
        (self != ImageMode::Any).then(|| self.as_char())
    }
}

/// A request's mode: read or write, and the image mode (`"ri"`, `"wI"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// Read or write.
    pub io: IoMode,
    /// The image mode.
    pub image: ImageMode,
}

impl Mode {
    /// Parses a two-character mode with imageio's checks and messages.
    ///
    /// ```
    /// use imageio::request::{Mode, ImageMode};
    /// assert_eq!(Mode::parse("rI").unwrap().image, ImageMode::Multi);
    /// assert_eq!(Mode::parse("r").unwrap_err().to_string(), "Request requires mode to have two chars");
    /// ```
    pub fn parse(mode: &str) -> Result<Mode> {
        let chars: Vec<char> = mode.chars().collect();
        if chars.len() != 2 {
            return Err(Error::InvalidMode("Request requires mode to have two chars".into()));
        }
        let io = match chars[0] {
            'r' => IoMode::Read,
            'w' => IoMode::Write,
            _ => {
                return Err(Error::InvalidMode(
                    "Request requires mode[0] to be \"r\" or \"w\"".into(),
                ));
            }
        };
        let image = ImageMode::from_char(chars[1])
            .ok_or_else(|| Error::InvalidMode("Request requires mode[1] to be in \"iIvV?\"".into()))?;
        Ok(Mode { io, image })
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let io = if self.io == IoMode::Read { 'r' } else { 'w' };
        write!(f, "{io}{}", self.image.as_char())
    }
}
