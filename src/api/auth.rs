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
///
/// # Example
///
/// Tokens from a host's own table, in front of the API:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
///
/// use number_manager::account::{AccountId, MemoryAccounts};
/// use number_manager::api::{Api, ApiRequest, Authenticator, Method};
/// use number_manager::{async_trait, Error, NumberManager, Result};
///
/// #[derive(Debug, Default)]
/// struct Tokens(BTreeMap<String, AccountId>);
///
/// #[async_trait]
/// impl Authenticator for Tokens {
///     async fn authenticate(&self, token: &str) -> Result<Option<AccountId>> {
///         Ok(self.0.get(token).cloned())
///     }
/// }
///
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None)?;
/// accounts.set_master(&master, true);
/// let customer = accounts.add("customer", "Customer", Some(&master))?;
/// let mut tokens = Tokens::default();
/// tokens.0.insert("customer-token".into(), customer);
/// let api = Api::new(NumberManager::builder().accounts(accounts).build(), tokens);
///
/// let own = ApiRequest::new(Method::Get, "/v2/accounts/customer/phone_numbers");
/// assert_eq!(api.handle(own.clone().token("customer-token")).await.status, 200);
/// assert_eq!(api.handle(own.token("no-such-token")).await.status, 401);
/// // A valid token reaches only its own account and the accounts below it.
/// let parent = ApiRequest::new(Method::Get, "/v2/accounts/master/phone_numbers");
/// assert_eq!(api.handle(parent.token("customer-token")).await.status, 403);
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
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
