//! The port request routes (`/v2/accounts/{ACCOUNT_ID}/port_requests…`):
//! each body is read into its typed value once, here, and the typed
//! [`crate::NumberManager`] port operation does the rest.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::envelope::{Failure, Reply};
use super::input::kind;
use super::routes::Endpoint;
use super::{Api, Call};
use crate::account::AccountId;
use crate::clock::from_gregorian;
use crate::error::Error;
use crate::manager::{NewPortRequest, PortRequestEdit, PortTransition, PortTransitionRequest};
use crate::porting::{BillingDetails, PortId, PortRequest, PortState, Visibility};

type Answer = Result<Reply, Failure>;

/// The editable fields a port request body may carry.
const FIELDS: &[&str] = &[
    "name",
    "numbers",
    "billing",
    "bill",
    "losing_carrier",
    "desired_date",
    "schedule_on",
    "notifications",
];

/// Longest name, carrier, billing value or notification address, in characters.
const MAX_TEXT: usize = 1024;

impl Call {
    /// `{PORT_REQUEST_ID}`; an id that cannot be one is a request that does not exist.
    fn port_id(&self) -> Result<PortId, Failure> {
        let raw = self.port.as_deref().unwrap_or_default();
        PortId::new(raw).map_err(|_| {
            Error::NotFound {
                number: raw.to_string(),
            }
            .into()
        })
    }
}

/// A port request as the API shows it: every field, dates in RFC 3339.
pub(crate) fn port_json(request: &PortRequest) -> Value {
    serde_json::to_value(request).unwrap_or_else(|_| Value::Object(Map::new()))
}

fn unknown_keys(data: &Map<String, Value>, allowed: &[&str]) -> Result<(), Error> {
    match data.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(Error::validation(
            k.clone(),
            "additionalProperties",
            format!("{k:?} is not a port request field"),
        )),
    }
}

fn text(field: &str, v: &Value) -> Result<String, Error> {
    match v {
        Value::String(s) if s.chars().count() <= MAX_TEXT => Ok(s.clone()),
        Value::String(_) => Err(Error::validation(
            field,
            "maxLength",
            format!("{field} must be at most {MAX_TEXT} characters"),
        )),
        other => Err(Error::validation(
            field,
            "type",
            format!("{field} must be a string, not {}", kind(other)),
        )),
    }
}

fn optional_text(field: &str, v: &Value) -> Result<Option<String>, Error> {
    match v {
        Value::Null => Ok(None),
        other => text(field, other).map(Some),
    }
}

/// A date: RFC 3339 text, Gregorian seconds (Kazoo's), or `null`.
fn date(field: &str, v: &Value) -> Result<Option<DateTime<Utc>>, Error> {
    let bad = || {
        Error::validation(
            field,
            "format",
            format!("{field} must be an RFC 3339 date-time or Gregorian seconds"),
        )
    };
    match v {
        Value::Null => Ok(None),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| bad()),
        Value::Number(n) => n
            .as_i64()
            .and_then(from_gregorian)
            .map(Some)
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// `numbers`: a list of strings, or Kazoo's object keyed by number.
fn numbers(v: &Value) -> Result<Vec<String>, Error> {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(m) => return Ok(m.keys().cloned().collect()),
        other => {
            return Err(Error::validation(
                "numbers",
                "type",
                format!("numbers must be a list, not {}", kind(other)),
            ))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, n)| match n {
            Value::String(s) => Ok(s.clone()),
            other => Err(Error::validation(
                format!("numbers.{i}"),
                "type",
                format!("numbers must be strings, item {i} is {}", kind(other)),
            )),
        })
        .collect()
}

fn billing(v: &Value) -> Result<BillingDetails, Error> {
    let Value::Object(m) = v else {
        return Err(Error::validation(
            "billing",
            "type",
            "billing must be an object",
        ));
    };
    unknown_keys(m, &["name", "address", "account_number", "pin"])?;
    let field = |key: &str| match m.get(key) {
        None => Ok(None),
        Some(v) => optional_text(&format!("billing.{key}"), v),
    };
    Ok(BillingDetails {
        name: field("name")?,
        address: field("address")?,
        account_number: field("account_number")?,
        pin: field("pin")?,
    })
}

fn notifications(v: &Value) -> Result<Vec<String>, Error> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, a)| text(&format!("notifications.{i}"), a))
            .collect(),
        other => Err(Error::validation(
            "notifications",
            "type",
            format!(
                "notifications must be a list of strings, not {}",
                kind(other)
            ),
        )),
    }
}

/// The fields a body gives (a `PATCH`'s; `POST` and `PUT` also need
/// `name` and `numbers`, see [`complete_fields`]).
fn edit_fields(data: &Map<String, Value>) -> Result<PortRequestEdit, Error> {
    unknown_keys(data, FIELDS)?;
    let bill = data.get("billing").or_else(|| data.get("bill"));
    let dated = |key: &str| data.get(key).map(|v| date(key, v)).transpose();
    Ok(PortRequestEdit {
        name: data.get("name").map(|v| text("name", v)).transpose()?,
        numbers: data.get("numbers").map(numbers).transpose()?,
        billing: bill.map(billing).transpose()?,
        losing_carrier: data
            .get("losing_carrier")
            .map(|v| optional_text("losing_carrier", v))
            .transpose()?,
        desired_date: dated("desired_date")?,
        schedule_on: dated("schedule_on")?,
        notifications: data.get("notifications").map(notifications).transpose()?,
    })
}

/// A whole request's fields (`PUT`, `POST`): `name` and `numbers` are
/// required; every other field left out is cleared.
fn complete_fields(data: &Map<String, Value>) -> Result<PortRequestEdit, Error> {
    let mut edit = edit_fields(data)?;
    for (field, given) in [
        ("name", edit.name.is_some()),
        ("numbers", edit.numbers.is_some()),
    ] {
        if !given {
            return Err(Error::validation(
                field,
                "required",
                format!("{field} is required"),
            ));
        }
    }
    edit.billing.get_or_insert_with(BillingDetails::default);
    edit.losing_carrier.get_or_insert(None);
    edit.desired_date.get_or_insert(None);
    edit.schedule_on.get_or_insert(None);
    edit.notifications.get_or_insert_with(Vec::new);
    Ok(edit)
}

fn new_request(edit: PortRequestEdit) -> NewPortRequest {
    NewPortRequest {
        name: edit.name.unwrap_or_default(),
        numbers: edit.numbers.unwrap_or_default(),
        billing: edit.billing.unwrap_or_default(),
        losing_carrier: edit.losing_carrier.flatten(),
        desired_date: edit.desired_date.flatten(),
        schedule_on: edit.schedule_on.flatten(),
        notifications: edit.notifications.unwrap_or_default(),
        ..Default::default()
    }
}

/// A move's body: `reason` and `schedule_on`, both optional.
fn transition(to: PortState, data: &Map<String, Value>) -> Result<PortTransitionRequest, Error> {
    unknown_keys(data, &["reason", "schedule_on"])?;
    let mut change = PortTransitionRequest::to(to);
    if let Some(v) = data.get("reason") {
        change.reason = optional_text("reason", v)?;
    }
    if let Some(on) = data.get("schedule_on").map(|v| date("schedule_on", v)) {
        change.schedule_on = on?;
    }
    Ok(change)
}

/// A comment's body: `text` (or Kazoo's `content`) and `private` (or
/// Kazoo's `superduper_comment`).
fn comment(data: &Map<String, Value>) -> Result<(String, Visibility), Error> {
    unknown_keys(data, &["text", "content", "private", "superduper_comment"])?;
    let body = data
        .get("text")
        .or_else(|| data.get("content"))
        .ok_or_else(|| Error::validation("text", "required", "a comment needs text"))?;
    let body = text("text", body)?;
    let flag = data
        .get("private")
        .or_else(|| data.get("superduper_comment"));
    let private = match flag {
        None => false,
        Some(v) => super::input::json_bool("private", v)?,
    };
    let visibility = if private {
        Visibility::Private
    } else {
        Visibility::Public
    };
    Ok((body, visibility))
}

/// A move's answer: the request, and on completion `completion`, the
/// per-number results of creating its numbers.
fn moved(done: PortTransition) -> Reply {
    let mut data = port_json(&done.request);
    if let (Some(result), Value::Object(m)) = (&done.numbers, &mut data) {
        m.insert("completion".into(), result.to_json());
    }
    Reply::ok(data)
}

/// Attachment metadata, keyed by name (Kazoo's listing shape).
fn attachments_json(request: &PortRequest) -> Value {
    let map: Map<String, Value> = request
        .attachments
        .iter()
        .map(|a| {
            (
                a.name.clone(),
                json!({"content_type": a.content_type, "length": a.size}),
            )
        })
        .collect();
    Value::Object(map)
}

impl Api {
    pub(super) async fn dispatch_port(&self, mut call: Call) -> Answer {
        let m = &self.inner.manager;
        let account = call.account()?.clone();
        let opts = call.opts()?.clone();
        let data = std::mem::take(&mut call.body.data);
        match call.endpoint {
            Endpoint::PortList => {
                let all = m.port_requests(&account, &opts).await?;
                Ok(Reply::ok(Value::Array(all.iter().map(port_json).collect())))
            }
            Endpoint::PortCreate => {
                let new = new_request(complete_fields(&data)?);
                let created = m.create_port_request(&account, new, &opts).await?;
                Ok(Reply::ok(port_json(&created)).with_status(201))
            }
            _ => self.dispatch_one_port(call, &account, data).await,
        }
    }

    /// The routes of one request: it must be the URL account's or a
    /// descendant's (else it is not found there).
    async fn dispatch_one_port(
        &self,
        mut call: Call,
        account: &AccountId,
        data: Map<String, Value>,
    ) -> Answer {
        let m = &self.inner.manager;
        let raw = std::mem::take(&mut call.raw);
        let opts = call.opts()?;
        let id = call.port_id()?;
        let request = m.port_request(&id, opts).await?;
        self.under_account(&request, account).await?;
        let name = call.attachment.as_deref().unwrap_or_default();
        let answer = match call.endpoint {
            Endpoint::PortGet => request,
            Endpoint::PortReplace => {
                m.edit_port_request(&id, complete_fields(&data)?, opts)
                    .await?
            }
            Endpoint::PortPatch => m.edit_port_request(&id, edit_fields(&data)?, opts).await?,
            Endpoint::PortCancel => {
                let reason = transition(PortState::Canceled, &data)?.reason;
                m.cancel_port_request(&id, reason, opts).await?
            }
            Endpoint::PortMove(to) => {
                let change = transition(to, &data)?;
                return Ok(moved(m.transition_port_request(&id, change, opts).await?));
            }
            Endpoint::PortComment => {
                let (body, visibility) = comment(&data)?;
                m.add_port_comment(&id, &body, visibility, opts).await?
            }
            Endpoint::PortAttachments => return Ok(Reply::ok(attachments_json(&request))),
            Endpoint::PortAttachmentGet => {
                let (meta, bytes) = m.port_attachment(&id, name, opts).await?;
                return Ok(Reply::bytes(meta.content_type, bytes));
            }
            Endpoint::PortAttachmentPut => {
                let content_type = call
                    .content_type
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .unwrap_or("application/octet-stream");
                m.put_port_attachment(&id, name, content_type, raw, opts)
                    .await?
            }
            Endpoint::PortAttachmentDelete => m.delete_port_attachment(&id, name, opts).await?,
            _ => {
                return Err(Error::Internal {
                    cause: "not a port request route".into(),
                }
                .into())
            }
        };
        Ok(Reply::ok(port_json(&answer)))
    }

    /// Refuses (as not found) a request outside `account`'s tree: it must be
    /// the account's, a descendant's, or an ancestor's (a sub-account reaches
    /// its parent's request under its own URL).
    async fn under_account(
        &self,
        request: &PortRequest,
        account: &AccountId,
    ) -> Result<(), Failure> {
        let accounts = &self.inner.manager.inner.accounts;
        let owner = accounts.get(&request.account).await?;
        if owner.is_some_and(|info| info.is_self_or_descendant_of(account)) {
            return Ok(());
        }
        let url = accounts.get(account).await?;
        if url.is_some_and(|info| info.is_self_or_descendant_of(&request.account)) {
            return Ok(());
        }
        Err(Error::NotFound {
            number: request.id.to_string(),
        }
        .into())
    }
}
