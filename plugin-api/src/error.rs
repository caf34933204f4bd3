//! The SDK's error type: an ABI status code and a message.

use crate::ffi::{self, iio_status};
use std::fmt;

/// An error a plugin reports to the host: an `IIO_ERR_*` code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// One of the `IIO_ERR_*` codes.
    pub code: iio_status,
    /// A human-readable message (the host adds the file and format names).
    pub message: String,
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with an explicit code.
    pub fn new(code: iio_status, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    /// The data is not valid for the format (`IIO_ERR_CORRUPT`).
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ffi::IIO_ERR_CORRUPT, message)
    }

    /// The format cannot do what was asked (`IIO_ERR_UNSUPPORTED`).
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ffi::IIO_ERR_UNSUPPORTED, message)
    }

    /// An argument or option is invalid (`IIO_ERR_INVALID_ARGUMENT`).
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ffi::IIO_ERR_INVALID_ARGUMENT, message)
    }

    /// The image index does not exist (`IIO_ERR_INDEX_OUT_OF_RANGE`).
    pub fn index_out_of_range(index: u64, length: u64) -> Self {
        Self::new(
            ffi::IIO_ERR_INDEX_OUT_OF_RANGE,
            format!("image index {index} is out of range (the file has {length} image(s))"),
        )
    }

    /// An allocation failed or was refused (`IIO_ERR_NO_MEMORY`).
    pub fn no_memory(message: impl Into<String>) -> Self {
        Self::new(ffi::IIO_ERR_NO_MEMORY, message)
    }

    /// A bug (`IIO_ERR_INTERNAL`).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ffi::IIO_ERR_INTERNAL, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    /// An unexpected end of data is a corrupt (truncated) file; anything else
    /// is an I/O failure of the stream.
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::corrupt("the file is truncated (unexpected end of data)")
        } else {
            Self::new(ffi::IIO_ERR_IO, e.to_string())
        }
    }
}
