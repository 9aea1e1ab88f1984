//! Who is calling: [`Authenticator`] turns a token into the acting account.

use std::sync::Arc;

use async_trait::async_trait;

use crate::account::{AccountId, MemoryAccounts};
use crate::error::Result;

/// Turns the request's token (`X-Auth-Token`) into the acting account.
///
/// `Ok(None)` means "no such token" and is answered 401; an `Err` is a
/// backend failure and is answered with its own error envelope. The API then
/// checks that the acting account may address the account in the URL (itself,
/// one of its descendants, or any account for master), and passes it as
/// `Options::auth_by` to every operation.
#[async_trait]
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// The account a token belongs to, if any.
    async fn authenticate(&self, token: &str) -> Result<Option<AccountId>>;
}

/// Tokens registered with [`MemoryAccounts::set_token`] (or the `token` of an
/// [`crate::account::AccountSpec`]); a disabled account's token is refused.
#[async_trait]
impl Authenticator for MemoryAccounts {
    async fn authenticate(&self, token: &str) -> Result<Option<AccountId>> {
        Ok(self
            .account_for_token(token)
            .filter(|id| self.info(id).is_some_and(|info| info.enabled)))
    }
}

#[async_trait]
impl<T: Authenticator + ?Sized> Authenticator for Arc<T> {
    async fn authenticate(&self, token: &str) -> Result<Option<AccountId>> {
        (**self).authenticate(token).await
    }
}
