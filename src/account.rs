//! Accounts: who owns numbers, who is whose ancestor, who is master.
//!
//! The host supplies an [`Accounts`] implementation; [`MemoryAccounts`] is the
//! embedded one (built in code or loaded from JSON).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Allow and deny lists, as configured for the system or a reseller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeatureLists {
    /// Allowed features (`None`: not configured).
    pub allow: Option<Vec<String>>,
    /// Denied features (`None`: not configured; `Some([])` is configured-empty and
    /// replaces the local-number rule, as in Kazoo).
    pub deny: Option<Vec<String>>,
}

crate::util::with_setters!(FeatureLists {
    /// Sets the allowed features ([`FeatureLists::allow`]).
    with_allow => allow: Vec<String> as some;
    /// Sets the denied features ([`FeatureLists::deny`]; an empty list is
    /// configured-empty).
    with_deny => deny: Vec<String> as some;
});

/// An account id (Kazoo uses 32 hex characters; any non-empty string without
/// whitespace or `/` is accepted here).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(Arc<str>);

impl AccountId {
    /// Validates and wraps an id.
    pub fn new(id: impl AsRef<str>) -> Result<Self> {
        let id = id.as_ref();
        if id.is_empty()
            || id.len() > 128
            || id
                .chars()
                .any(|c| c.is_whitespace() || c == '/' || c.is_control())
        {
            return Err(Error::AssignFailure {
                cause: format!("invalid account id {id:?}"),
            });
        }
        Ok(AccountId(Arc::from(id)))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        AccountId::new(s)
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0.to_string()
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", &self.0)
    }
}

impl std::str::FromStr for AccountId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        AccountId::new(s)
    }
}

/// Who performs an operation: the system itself (bypasses every check) or an account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// Internal callers: every check passes.
    System,
    /// A real account.
    Account(AccountId),
}

impl Actor {
    /// The account, if any.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Actor::System => None,
            Actor::Account(a) => Some(a),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System => f.write_str("system"),
            Actor::Account(a) => f.write_str(a.as_str()),
        }
    }
}

impl From<AccountId> for Actor {
    fn from(a: AccountId) -> Self {
        Actor::Account(a)
    }
}

/// What the library needs to know about one account.
///
/// An [`Accounts`] implementation builds it with [`AccountInfo::new`] and the
/// `with_*` setters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccountInfo {
    /// The account.
    pub id: AccountId,
    /// Display name (used as the E911 caller name fallback).
    #[serde(default)]
    pub name: String,
    /// Ancestors, root first (Kazoo's `pvt_tree`).
    #[serde(default)]
    pub tree: Vec<AccountId>,
    /// Master / superduper admin: may do anything.
    #[serde(default)]
    pub is_master: bool,
    /// `pvt_wnm_allow_additions`: may create in_service and reserved numbers.
    #[serde(default)]
    pub allow_additions: bool,
    /// A disabled account's numbers do not identify.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Feature allow/deny lists this account sets for its own numbers and its
    /// descendants' (Kazoo's reseller `number_manager.features.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<FeatureLists>,
}

fn yes() -> bool {
    true
}

impl AccountInfo {
    /// An enabled top-level account with an empty name and no flags or lists.
    pub fn new(id: AccountId) -> Self {
        AccountInfo {
            id,
            name: String::new(),
            tree: Vec::new(),
            is_master: false,
            allow_additions: false,
            enabled: true,
            features: None,
        }
    }

    /// The reseller: the nearest ancestor, if any (simplified from Kazoo's reseller flag).
    pub fn parent(&self) -> Option<&AccountId> {
        self.tree.last()
    }

    /// Whether `other` is this account or one of its ancestors.
    pub fn is_self_or_descendant_of(&self, other: &AccountId) -> bool {
        &self.id == other || self.tree.contains(other)
    }
}

crate::util::with_setters!(AccountInfo {
    /// Sets the display name ([`AccountInfo::name`]).
    with_name => name: impl Into<String> as into;
    /// Sets the ancestors, root first ([`AccountInfo::tree`]).
    with_tree => tree: Vec<AccountId>;
    /// Sets [`AccountInfo::is_master`].
    with_is_master => is_master: bool;
    /// Sets [`AccountInfo::allow_additions`].
    with_allow_additions => allow_additions: bool;
    /// Sets [`AccountInfo::enabled`].
    with_enabled => enabled: bool;
    /// Sets the account's feature lists ([`AccountInfo::features`]).
    with_features => features: FeatureLists as some;
});

/// The account hierarchy, supplied by the host.
///
/// # Example
///
/// A host's own account table (here a map filled from JSON rows), and what
/// the manager makes of it: an account reaches its own numbers, not a
/// sibling's. `get` answers `None` for an account that does not exist;
/// an `Err` is a backend failure, and fails the operation that asked.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
///
/// use serde_json::json;
/// use number_manager::account::{AccountId, AccountInfo, Accounts};
/// use number_manager::{async_trait, Error, NumberManager, Options, Result};
///
/// #[derive(Debug, Default)]
/// struct Table(BTreeMap<AccountId, AccountInfo>);
///
/// #[async_trait]
/// impl Accounts for Table {
///     async fn get(&self, id: &AccountId) -> Result<Option<AccountInfo>> {
///         Ok(self.0.get(id).cloned())
///     }
///
///     async fn children(&self, id: &AccountId) -> Result<Vec<AccountId>> {
///         let children = self.0.values().filter(|a| a.parent() == Some(id));
///         Ok(children.map(|a| a.id.clone()).collect())
///     }
/// }
///
/// let rows = json!([
///     {"id": "master", "name": "Master", "is_master": true},
///     {"id": "alice", "name": "Alice", "tree": ["master"]},
///     {"id": "bob", "name": "Bob", "tree": ["master"]},
/// ]);
/// let mut table = Table::default();
/// for row in rows.as_array().into_iter().flatten() {
///     let info: AccountInfo = serde_json::from_value(row.clone())?;
///     table.0.insert(info.id.clone(), info);
/// }
/// let manager = NumberManager::builder().accounts(Arc::new(table)).build();
/// let [master, alice, bob] = ["master", "alice", "bob"].map(|id| AccountId::new(id).unwrap());
///
/// let opts = Options::as_account(&master);
/// manager.create(&alice, "4155550100", Default::default(), &opts).await?;
/// let read = manager.get("4155550100", &Options::as_account(&alice)).await?;
/// assert_eq!(read.assigned_to, Some(alice));
/// let refused = manager.get("4155550100", &Options::as_account(&bob)).await;
/// // Another account's number is not found, rather than forbidden: its
/// // existence is not given away.
/// assert!(matches!(refused, Err(Error::NotFound { .. })), "{refused:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Accounts: Send + Sync + fmt::Debug {
    /// One account, or `None` if it does not exist.
    async fn get(&self, id: &AccountId) -> Result<Option<AccountInfo>>;

    /// Direct children of an account (for listings that include descendants).
    async fn children(&self, id: &AccountId) -> Result<Vec<AccountId>>;
}

/// Conveniences over any [`Accounts`].
#[async_trait]
pub trait AccountsExt: Accounts {
    /// All descendants, breadth first (the account itself excluded).
    async fn descendants(&self, id: &AccountId) -> Result<Vec<AccountId>> {
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from(vec![id.clone()]);
        while let Some(next) = queue.pop_front() {
            for child in self.children(&next).await? {
                if !out.contains(&child) && &child != id {
                    out.push(child.clone());
                    queue.push_back(child);
                }
            }
        }
        Ok(out)
    }
}

impl<T: Accounts + ?Sized> AccountsExt for T {}

/// One account in the JSON file [`MemoryAccounts::from_json`] reads. In
/// code, start from [`AccountSpec::new`] and add the rest with the `with_*`
/// setters.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AccountSpec {
    /// The id.
    pub id: String,
    /// The name.
    #[serde(default)]
    pub name: String,
    /// The parent id.
    #[serde(default)]
    pub parent: Option<String>,
    /// Master flag.
    #[serde(default, alias = "master")]
    pub is_master: bool,
    /// `pvt_wnm_allow_additions`.
    #[serde(default)]
    pub allow_additions: bool,
    /// Enabled (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// API token for this account (used by the `api` layer's demo authenticator).
    #[serde(default)]
    pub token: Option<String>,
    /// Feature allow/deny lists for the account's numbers and its descendants'.
    #[serde(default)]
    pub features: Option<FeatureLists>,
}

impl AccountSpec {
    /// An enabled top-level account with an empty name and no flags set.
    pub fn new(id: impl Into<String>) -> Self {
        AccountSpec {
            id: id.into(),
            name: String::new(),
            parent: None,
            is_master: false,
            allow_additions: false,
            enabled: true,
            token: None,
            features: None,
        }
    }
}

crate::util::with_setters!(AccountSpec {
    /// Sets [`AccountSpec::name`].
    with_name => name: impl Into<String> as into;
    /// Sets the parent id ([`AccountSpec::parent`]).
    with_parent => parent: impl Into<String> as some_into;
    /// Sets [`AccountSpec::is_master`].
    with_is_master => is_master: bool;
    /// Sets [`AccountSpec::allow_additions`].
    with_allow_additions => allow_additions: bool;
    /// Sets [`AccountSpec::enabled`].
    with_enabled => enabled: bool;
    /// Sets the API token ([`AccountSpec::token`]).
    with_token => token: impl Into<String> as some_into;
    /// Sets the feature lists ([`AccountSpec::features`]).
    with_features => features: FeatureLists as some;
});

/// An in-memory account tree.
///
/// ```
/// use number_manager::account::{MemoryAccounts, AccountId};
/// let accounts = MemoryAccounts::new();
/// let master = accounts.add("master", "Master", None).unwrap();
/// accounts.set_master(&master, true);
/// let reseller = accounts.add("reseller", "Reseller", Some(&master)).unwrap();
/// let child = accounts.add("child", "Child", Some(&reseller)).unwrap();
/// assert_eq!(accounts.info(&child).unwrap().tree, vec![master, reseller]);
/// ```
#[derive(Debug, Default)]
pub struct MemoryAccounts {
    inner: RwLock<Tree>,
}

#[derive(Debug, Default)]
struct Tree {
    accounts: HashMap<AccountId, AccountInfo>,
    children: BTreeMap<AccountId, Vec<AccountId>>,
    tokens: HashMap<String, AccountId>,
}

impl MemoryAccounts {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an account under `parent` (which must exist).
    pub fn add(&self, id: &str, name: &str, parent: Option<&AccountId>) -> Result<AccountId> {
        let id = AccountId::new(id)?;
        let mut t = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let tree = match parent {
            Some(p) => {
                let pinfo = t.accounts.get(p).ok_or_else(|| Error::AssignFailure {
                    cause: format!("unknown parent account {p}"),
                })?;
                let mut tree = pinfo.tree.clone();
                tree.push(p.clone());
                t.children.entry(p.clone()).or_default().push(id.clone());
                tree
            }
            None => Vec::new(),
        };
        t.accounts.insert(
            id.clone(),
            AccountInfo::new(id.clone()).with_name(name).with_tree(tree),
        );
        Ok(id)
    }

    fn modify(&self, id: &AccountId, f: impl FnOnce(&mut AccountInfo)) {
        let mut t = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(info) = t.accounts.get_mut(id) {
            f(info);
        }
    }

    /// Marks an account master (superduper admin).
    pub fn set_master(&self, id: &AccountId, yes: bool) {
        self.modify(id, |a| a.is_master = yes);
    }

    /// Sets `pvt_wnm_allow_additions`.
    pub fn set_allow_additions(&self, id: &AccountId, yes: bool) {
        self.modify(id, |a| a.allow_additions = yes);
    }

    /// Sets the feature allow/deny lists an account imposes on its numbers and
    /// its descendants' numbers.
    pub fn set_feature_lists(&self, id: &AccountId, lists: Option<FeatureLists>) {
        self.modify(id, |a| a.features = lists);
    }

    /// Enables or disables an account.
    pub fn set_enabled(&self, id: &AccountId, yes: bool) {
        self.modify(id, |a| a.enabled = yes);
    }

    /// Associates an API token with an account.
    pub fn set_token(&self, id: &AccountId, token: &str) {
        let mut t = self.inner.write().unwrap_or_else(|p| p.into_inner());
        t.tokens.insert(token.to_string(), id.clone());
    }

    /// The account a token belongs to.
    pub fn account_for_token(&self, token: &str) -> Option<AccountId> {
        let t = self.inner.read().unwrap_or_else(|p| p.into_inner());
        t.tokens.get(token).cloned()
    }

    /// Synchronous lookup.
    pub fn info(&self, id: &AccountId) -> Option<AccountInfo> {
        let t = self.inner.read().unwrap_or_else(|p| p.into_inner());
        t.accounts.get(id).cloned()
    }

    /// Every account, sorted by id.
    pub fn all(&self) -> Vec<AccountInfo> {
        let t = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = t.accounts.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Loads a tree from a JSON array of [`AccountSpec`] objects (parents may come
    /// after their children in the file).
    pub fn from_json(value: &Value) -> Result<Self> {
        let specs: Vec<AccountSpec> = serde_json::from_value(value.clone())
            .map_err(|e| Error::validation("accounts", "type", e.to_string()))?;
        Self::from_specs(&specs)
    }

    /// Builds a tree from specs.
    pub fn from_specs(specs: &[AccountSpec]) -> Result<Self> {
        let me = MemoryAccounts::new();
        let mut pending: Vec<&AccountSpec> = specs.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for spec in pending {
                let parent = match &spec.parent {
                    Some(p) => {
                        let pid = AccountId::new(p)?;
                        if me.info(&pid).is_none() {
                            rest.push(spec);
                            continue;
                        }
                        Some(pid)
                    }
                    None => None,
                };
                let id = me.add(&spec.id, &spec.name, parent.as_ref())?;
                me.set_master(&id, spec.is_master);
                me.set_allow_additions(&id, spec.allow_additions);
                me.set_enabled(&id, spec.enabled);
                me.set_feature_lists(&id, spec.features.clone());
                if let Some(tok) = &spec.token {
                    me.set_token(&id, tok);
                }
            }
            if rest.len() == before {
                return Err(Error::validation(
                    "accounts",
                    "parent",
                    format!("unknown or cyclic parent for account {}", rest[0].id),
                ));
            }
            pending = rest;
        }
        Ok(me)
    }
}

#[async_trait]
impl Accounts for MemoryAccounts {
    async fn get(&self, id: &AccountId) -> Result<Option<AccountInfo>> {
        Ok(self.info(id))
    }

    async fn children(&self, id: &AccountId) -> Result<Vec<AccountId>> {
        let t = self.inner.read().unwrap_or_else(|p| p.into_inner());
        Ok(t.children.get(id).cloned().unwrap_or_default())
    }
}

#[async_trait]
impl<T: Accounts + ?Sized> Accounts for Arc<T> {
    async fn get(&self, id: &AccountId) -> Result<Option<AccountInfo>> {
        (**self).get(id).await
    }
    async fn children(&self, id: &AccountId) -> Result<Vec<AccountId>> {
        (**self).children(id).await
    }
}
