//! Changing a port request besides moving it: its editable fields, its
//! comments, its attachments (bytes through the
//! [`AttachmentStore`](crate::porting::AttachmentStore)); and how a number
//! on its way in looks (`port_in`, with the request's id and state).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::pipeline::ActorCtx;
use super::port_ops::view;
use super::{NumberManager, Options};
use crate::account::AccountId;
use crate::error::{Error, Result};
use crate::number::PhoneNumber;
use crate::porting::{
    Attachment, BillingDetails, Comment, PortFacts, PortId, PortRequest, PortState, Visibility,
};
use crate::state::NumberState;
use crate::store::StoreExt;

/// New values for a port request's editable fields; `None` keeps a field.
/// (`POST` gives every field, so what it leaves out is cleared; `PATCH`
/// only the fields it names.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortRequestEdit {
    /// A name for the request.
    pub name: Option<String>,
    /// The numbers, in any form `PhoneNumber::parse` reads; each once.
    pub numbers: Option<Vec<String>>,
    /// The customer's account at the losing carrier.
    pub billing: Option<BillingDetails>,
    /// The carrier the numbers leave (`Some(None)` clears it).
    pub losing_carrier: Option<Option<String>>,
    /// When the customer would like the port to happen (`Some(None)` clears it).
    pub desired_date: Option<Option<DateTime<Utc>>>,
    /// When it is scheduled (`Some(None)` clears it).
    pub schedule_on: Option<Option<DateTime<Utc>>>,
    /// Addresses to tell about progress.
    pub notifications: Option<Vec<String>>,
}

/// A number on its way in: held by an open port request, with no record of
/// its own or a `port_in` one (Kazoo's `port_in` view).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortingNumber {
    /// The number.
    pub number: PhoneNumber,
    /// The account of the request.
    pub account: AccountId,
    /// The request's id.
    pub port_id: PortId,
    /// The request's state.
    pub port_state: PortState,
}

impl PortingNumber {
    /// The number as `GET …/phone_numbers/{n}` shows it: `{"id", "state":
    /// "port_in", "port_id", "port_state", "assigned_to"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "assigned_to": self.account.as_str(),
            "id": self.number.as_str(),
            "port_id": self.port_id.as_str(),
            "port_state": self.port_state.as_str(),
            "state": NumberState::PortIn.as_str(),
        })
    }

    /// Adds `port_id` and `port_state` to a number's JSON object.
    pub fn annotate(&self, number: &mut Map<String, Value>) {
        number.insert("port_id".into(), json!(self.port_id.as_str()));
        number.insert("port_state".into(), json!(self.port_state.as_str()));
    }
}

/// Longest attachment name, in bytes.
const MAX_ATTACHMENT_NAME: usize = 128;

/// An attachment name: 1 to 128 bytes, no `/`, `\` or control characters.
fn check_attachment_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_ATTACHMENT_NAME
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\');
    if ok {
        return Ok(());
    }
    Err(Error::validation(
        "attachment",
        "pattern",
        "an attachment name is 1 to 128 bytes without '/', '\\' or control characters",
    ))
}

/// A media type: 1 to 255 visible ASCII characters or spaces, with a `/`.
fn check_content_type(content_type: &str) -> Result<()> {
    let ok = !content_type.is_empty()
        && content_type.len() <= 255
        && content_type.contains('/')
        && content_type
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ');
    if ok {
        return Ok(());
    }
    Err(Error::validation(
        "content_type",
        "pattern",
        "the content type must be a media type such as application/pdf",
    ))
}

/// Who may change the request (fields, attachments): the port authority
/// while it is open; anyone in its account's tree while it is `unconfirmed`
/// or `rejected` (before the authority works on it, or after it sent it back).
fn may_edit(request: &PortRequest, facts: &PortFacts) -> Result<()> {
    let state = request.state;
    let allowed = state.is_open()
        && (facts.may_read_private()
            || (facts.in_tree && matches!(state, PortState::Unconfirmed | PortState::Rejected)));
    if allowed {
        return Ok(());
    }
    Err(Error::UserNotAllowed {
        cause: Some(format!(
            "port request {} may not be changed while {state}",
            request.id
        )),
    })
}

impl NumberManager {
    /// Changes a port request's editable fields (who may:
    /// the port authority while the request is open, its account tree while
    /// it is `unconfirmed` or `rejected`; otherwise `user_not_allowed`).
    /// New numbers must be E.164 and in no other open request.
    pub async fn edit_port_request(
        &self,
        id: &PortId,
        edit: PortRequestEdit,
        opts: &Options,
    ) -> Result<PortRequest> {
        let numbers = match &edit.numbers {
            None => None,
            Some(raw) => Some(
                self.parse_inputs(raw)?
                    .into_iter()
                    .map(|i| i.number)
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let actor = self.actor_ctx(&opts.auth_by).await?;
        self.change_port_request(&actor, id, |request, facts| {
            may_edit(request, facts)?;
            apply_edit(request, &edit, numbers.clone());
            Ok(())
        })
        .await
    }

    /// Adds a comment. Anyone who may read the request may add a public one;
    /// a private one (read by the port authority only) only the authority.
    pub async fn add_port_comment(
        &self,
        id: &PortId,
        text: &str,
        visibility: Visibility,
        opts: &Options,
    ) -> Result<PortRequest> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 4096 {
            return Err(Error::validation(
                "text",
                "maxLength",
                "a comment is 1 to 4096 characters",
            ));
        }
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let by = actor.info.as_ref().map(|me| me.id.clone());
        let now = self.inner.clock.now();
        self.change_port_request(&actor, id, |request, facts| {
            if visibility == Visibility::Private && !facts.may_read_private() {
                return Err(Error::UserNotAllowed {
                    cause: Some("only the port authority may write private comments".into()),
                });
            }
            let comment = Comment::new(by.clone(), now, text, visibility);
            request.comments.push(comment);
            Ok(())
        })
        .await
    }

    /// Keeps a document for a request: the bytes through the attachment
    /// store, the metadata (name, content type, size) in the request, which
    /// it answers. Over [`Limits::max_attachment_bytes`](crate::Limits::max_attachment_bytes)
    /// is 413 `payload_too_large` and nothing is kept. Who may: as for
    /// [`NumberManager::edit_port_request`]. An attachment of the same name is replaced.
    pub async fn put_port_attachment(
        &self,
        id: &PortId,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
        opts: &Options,
    ) -> Result<PortRequest> {
        check_attachment_name(name)?;
        check_content_type(content_type)?;
        let limit = self.inner.config.limits.max_attachment_bytes;
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if bytes.len() > limit {
            return Err(Error::AttachmentTooLarge {
                name: name.to_string(),
                size,
                limit: u64::try_from(limit).unwrap_or(u64::MAX),
            });
        }
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let (request, facts) = self.readable_port_request(&actor, id).await?;
        may_edit(&request, &facts)?;
        self.inner
            .attachments
            .put_attachment(id, name, bytes)
            .await?;
        let meta = Attachment::new(name, content_type, size);
        self.change_port_request(&actor, id, |request, facts| {
            may_edit(request, facts)?;
            request.attachments.retain(|a| a.name != meta.name);
            request.attachments.push(meta.clone());
            Ok(())
        })
        .await
    }

    /// A request's attachments (metadata), for those who may read it.
    pub async fn port_attachments(&self, id: &PortId, opts: &Options) -> Result<Vec<Attachment>> {
        Ok(self.port_request(id, opts).await?.attachments)
    }

    /// One attachment: its metadata and bytes, for those who may read the request.
    pub async fn port_attachment(
        &self,
        id: &PortId,
        name: &str,
        opts: &Options,
    ) -> Result<(Attachment, Vec<u8>)> {
        let request = self.port_request(id, opts).await?;
        let not_found = || Error::NotFound {
            number: format!("{id}/{name}"),
        };
        let meta = request
            .attachments
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(not_found)?;
        let bytes = self
            .inner
            .attachments
            .get_attachment(id, name)
            .await?
            .ok_or_else(not_found)?;
        Ok((meta, bytes))
    }

    /// Removes an attachment (metadata, then bytes); who may: as for
    /// [`NumberManager::edit_port_request`].
    pub async fn delete_port_attachment(
        &self,
        id: &PortId,
        name: &str,
        opts: &Options,
    ) -> Result<PortRequest> {
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let request = self
            .change_port_request(&actor, id, |request, facts| {
                may_edit(request, facts)?;
                let before = request.attachments.len();
                request.attachments.retain(|a| a.name != name);
                if request.attachments.len() == before {
                    return Err(Error::NotFound {
                        number: format!("{id}/{name}"),
                    });
                }
                Ok(())
            })
            .await?;
        self.inner.attachments.delete_attachment(id, name).await?;
        Ok(request)
    }

    /// The number as a port request shows it, when an open request holds it,
    /// the actor may read that request, and the number has no record of its
    /// own or a `port_in` one; otherwise `None`.
    pub async fn porting_number(
        &self,
        number: &str,
        opts: &Options,
    ) -> Result<Option<PortingNumber>> {
        let n = self.inner.normalizer.parse(number)?;
        let Some(request) = self.inner.ports.find_open_port_request(&n).await? else {
            return Ok(None);
        };
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let Ok((request, _)) = self.readable_port_request(&actor, &request.id).await else {
            return Ok(None);
        };
        match self.inner.store.get(&n).await? {
            Some(r) if r.state != NumberState::PortIn => Ok(None),
            _ => Ok(Some(porting(n, &request))),
        }
    }

    /// The numbers of `account`'s open requests, for a listing's first page:
    /// those `keep` accepts and that have no record of their own (or a
    /// `port_in` one).
    pub(super) async fn porting_numbers_of(
        &self,
        account: &AccountId,
        keep: impl Fn(&PhoneNumber) -> bool,
    ) -> Result<Vec<PortingNumber>> {
        let mut out = Vec::new();
        for request in self.inner.ports.list_port_requests(account).await? {
            if !request.state.is_open() {
                continue;
            }
            for n in request.numbers.iter().filter(|n| keep(n)) {
                match self.inner.store.get(n).await? {
                    Some(r) if r.state != NumberState::PortIn => {}
                    _ => out.push(porting(*n, &request)),
                }
            }
        }
        out.sort_by_key(|p| p.number);
        Ok(out)
    }

    /// Reads a request the actor may read, applies `change`, and stores it
    /// (compare-and-swap, retried from a fresh read on a lost race); the
    /// request after it, as the actor may read it.
    async fn change_port_request<F>(
        &self,
        actor: &ActorCtx,
        id: &PortId,
        change: F,
    ) -> Result<PortRequest>
    where
        F: Fn(&mut PortRequest, &PortFacts) -> Result<()>,
    {
        let mut attempts = 0;
        loop {
            let (mut request, facts) = self.readable_port_request(actor, id).await?;
            let expected = request.revision;
            change(&mut request, &facts)?;
            request.modified = self.inner.clock.now();
            match self
                .inner
                .ports
                .update_port_request(request.clone(), expected)
                .await
            {
                Ok(revision) => {
                    request.revision = revision;
                    return Ok(view(request, &facts));
                }
                Err(Error::Conflict { .. }) if attempts < self.inner.config.cas_retries => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn porting(number: PhoneNumber, request: &PortRequest) -> PortingNumber {
    PortingNumber {
        number,
        account: request.account.clone(),
        port_id: request.id.clone(),
        port_state: request.state,
    }
}

fn apply_edit(
    request: &mut PortRequest,
    edit: &PortRequestEdit,
    numbers: Option<Vec<PhoneNumber>>,
) {
    if let Some(name) = &edit.name {
        request.name = name.clone();
    }
    if let Some(numbers) = numbers {
        request.numbers = numbers;
    }
    if let Some(billing) = &edit.billing {
        request.billing = billing.clone();
    }
    if let Some(carrier) = &edit.losing_carrier {
        request.losing_carrier = carrier.clone();
    }
    if let Some(date) = edit.desired_date {
        request.desired_date = date;
    }
    if let Some(date) = edit.schedule_on {
        request.schedule_on = date;
    }
    if let Some(notifications) = &edit.notifications {
        request.notifications = notifications.clone();
    }
}
