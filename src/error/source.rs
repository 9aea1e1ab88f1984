//! [`Source`]: the backend error underneath an [`Error`](super::Error).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The backend error a store or carrier error wraps (a `sqlx::Error`, a
/// transport error...), shared so that the [`Error`](super::Error) holding
/// it stays cheap to clone.
///
/// [`std::error::Error::source`] on the holding error returns the wrapped
/// error itself, so it can be downcast:
///
/// ```
/// use std::error::Error as _;
/// use number_manager::Error;
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
/// let e = Error::database_with("cannot read", io);
/// let source = e.source().unwrap();
/// assert_eq!(
///     source.downcast_ref::<std::io::Error>().unwrap().kind(),
///     std::io::ErrorKind::ConnectionReset
/// );
/// ```
///
/// A source is for diagnosis only: it is not serialized (an error read back
/// from storage has none), and it takes no part in comparisons (two errors
/// that differ only in their sources, or in having one, are equal, so an
/// error equals itself read back).
#[derive(Clone)]
pub struct Source(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Source {
    /// Wraps a backend error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Source(Arc::new(error))
    }
}

impl Deref for Source {
    type Target = dyn std::error::Error + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync + 'static>> for Source {
    fn from(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        Source(Arc::from(error))
    }
}
