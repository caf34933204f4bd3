//! The process's default [`Limits`]: what every new [`Request`](crate::Request)
//! starts with. Read once from `IMAGEIO_LIMITS` (`name=value` pairs, see
//! [`Limits::parsed`]), changeable with [`set_default_limits`].

pub use imageio_plugin_api::{LIMIT_NAMES, Limits};
use std::sync::RwLock;

static DEFAULT: RwLock<Option<Limits>> = RwLock::new(None);

/// The limits from `IMAGEIO_LIMITS` over [`Limits::DEFAULT`]. A value that
/// does not parse is reported once and the defaults are used (they are the
/// safe choice).
fn from_env() -> Limits {
    match std::env::var("IMAGEIO_LIMITS") {
        Ok(text) => Limits::DEFAULT.parsed(&text).unwrap_or_else(|e| {
            log::warn!("ignoring IMAGEIO_LIMITS ({e}); using the default limits");
            Limits::DEFAULT
        }),
        Err(_) => Limits::DEFAULT,
    }
}

/// The limits new requests get: those set with [`set_default_limits`], else
/// `IMAGEIO_LIMITS` over [`Limits::DEFAULT`].
///
/// ```
/// let l = imageio::default_limits();
/// assert!(l.max_image_bytes > 0);
/// ```
pub fn default_limits() -> Limits {
    if let Some(l) = *DEFAULT.read().unwrap_or_else(|p| p.into_inner()) {
        return l;
    }
    let mut slot = DEFAULT.write().unwrap_or_else(|p| p.into_inner());
    *slot.get_or_insert_with(from_env)
}

/// Sets the limits every later request of this process starts with (a
/// request or [`Options`](crate::Options) may still set its own).
pub fn set_default_limits(limits: Limits) {
    *DEFAULT.write().unwrap_or_else(|p| p.into_inner()) = Some(limits);
}
