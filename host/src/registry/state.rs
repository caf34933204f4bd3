//! The state a [`Reader`](super::Reader) or [`Writer`](super::Writer) is in:
//! open with its plugin instance, or closed. A closed one has no instance,
//! so nothing can call into its plugin after close.

use crate::error::{Error, Result};
use crate::plugin::backend::Instance;
use crate::request::Request;

/// Open with its instance, or closed (keeping the request when it was
/// finished, for `get_result` and `request`).
pub(crate) enum State {
    Open(Box<dyn Instance>),
    Closed(Option<Box<Request>>),
}

impl State {
    /// The open instance, or imageio's error for a closed `what`
    /// (`Reader` or `Writer`).
    pub(crate) fn instance(&mut self, what: &'static str) -> Result<&mut dyn Instance> {
        match self {
            State::Open(i) => Ok(&mut **i),
            State::Closed(_) => Err(Error::Closed(what)),
        }
    }

    /// Marks the state closed and hands back the instance, if it was open.
    pub(crate) fn take_open(&mut self) -> Option<Box<dyn Instance>> {
        match std::mem::replace(self, State::Closed(None)) {
            State::Open(i) => Some(i),
            State::Closed(r) => {
                *self = State::Closed(r);
                None
            }
        }
    }

    /// The request, open or finished.
    pub(crate) fn request(&self) -> Option<&Request> {
        match self {
            State::Open(i) => Some(i.request()),
            State::Closed(r) => r.as_deref(),
        }
    }

    /// Whether it is closed.
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self, State::Closed(_))
    }
}
