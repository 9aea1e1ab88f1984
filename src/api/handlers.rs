//! One handler per route: read the typed inputs from the [`Call`], call the
//! [`crate::NumberManager`] operation, shape its result as the seeds show it.

use serde_json::{json, Map, Value};

use super::envelope::{Failure, Reply};
use super::routes::Endpoint;
use super::{Api, Call};
use crate::account::AccountId;
use crate::clock::from_gregorian;
use crate::error::Error;
use crate::manager::{
    BatchResult, ListOptions, Listing, Options, Outcome, PublicChange, SearchHit, SearchQuery,
};
use crate::record::{validate_patch_within, validate_public_within};
use crate::state::NumberState;

type Answer = Result<Reply, Failure>;

impl Call {
    pub(super) fn opts(&self) -> Result<&Options, Failure> {
        self.opts
            .as_ref()
            .ok_or_else(|| Failure::unauthenticated("missing X-Auth-Token"))
    }

    pub(super) fn account(&self) -> Result<&AccountId, Failure> {
        self.account
            .as_ref()
            .ok_or_else(|| missing_param("ACCOUNT_ID"))
    }

    fn number(&self) -> Result<&str, Failure> {
        self.number
            .as_deref()
            .ok_or_else(|| missing_param("PHONE_NUMBER"))
    }

    fn dry_run(&self) -> bool {
        self.opts.as_ref().is_some_and(|o| o.dry_run)
    }
}

/// A creation's options: the caller's, with `ported_in` from the query
/// string, the envelope or `data` (taken out of `data`, so it never becomes a
/// public field).
fn creation_opts(call: &mut Call) -> Result<Options, Failure> {
    let ported_in = call.body.take_flag(&call.query, "ported_in")?;
    Ok(call.opts()?.clone().with_ported_in(ported_in))
}

/// The route table promises the placeholder; not having it is a bug.
fn missing_param(name: &str) -> Failure {
    Error::Internal {
        cause: format!("route matched without {name}"),
    }
    .into()
}

/// A single-number answer; `created` for the PUTs that answer 201.
fn single(outcome: Outcome, created: bool) -> Reply {
    let dry_run = outcome.dry_run;
    let reply = Reply::ok(outcome.to_public_json());
    if dry_run {
        reply.with("dry_run", json!(true))
    } else if created {
        reply.with_status(201)
    } else {
        reply
    }
}

/// A collection answer: 200 `{"success"}` (plus `"error"` when
/// some failed), or 400 `client error` with the error map when all failed.
fn collection(result: BatchResult, dry_run: bool) -> Answer {
    if result.success.is_empty() && !result.errors.is_empty() {
        return Err(Failure::new(400, "client error", result.errors_json()));
    }
    let reply = Reply::ok(result.to_json());
    Ok(if dry_run {
        reply.with("dry_run", json!(true))
    } else {
        reply
    })
}

fn listing(l: &Listing) -> Reply {
    let mut reply = Reply::ok(l.to_json()).with("page_size", json!(l.page_size));
    if let Some(k) = &l.start_key {
        reply = reply.with("start_key", json!(k.as_str()));
    }
    if let Some(k) = &l.next_start_key {
        reply = reply.with("next_start_key", json!(k.as_str()));
    }
    reply
}

fn states(values: Vec<&str>) -> Result<Vec<NumberState>, Error> {
    let mut out = Vec::new();
    for part in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        out.push(part.parse::<NumberState>().map_err(|_| {
            Error::validation("filter_state", "enum", format!("unknown state {part:?}"))
        })?);
    }
    Ok(out)
}

impl Api {
    /// A whole body's public fields, checked once per request (so a bad
    /// collection body fails once, not once per number) by the same rules the
    /// library applies to each record.
    fn validate_public(&self, data: &Map<String, Value>) -> Result<(), Error> {
        validate_public_within(data, &self.inner.manager.config().limits)
    }

    /// A PATCH body, checked once per request; the library checks each merged result.
    fn validate_patch(&self, data: &Map<String, Value>) -> Result<(), Error> {
        validate_patch_within(data, &self.inner.manager.config().limits)
    }

    pub(super) async fn dispatch(&self, mut call: Call) -> Answer {
        let m = &self.inner.manager;
        match call.endpoint {
            Endpoint::Search => {
                let q = &call.query;
                let prefix = q
                    .get("prefix")
                    .filter(|p| !p.trim().is_empty())
                    .ok_or_else(|| Error::validation("prefix", "required", "prefix is required"))?;
                let query = SearchQuery {
                    prefix: prefix.to_string(),
                    quantity: q.usize("quantity", 1)?.unwrap_or(1),
                    offset: q.usize("offset", 0)?.unwrap_or(0),
                    country: q.get("country").unwrap_or("US").to_string(),
                };
                // Search is open to anonymous callers and authorizes nothing:
                // its actor only names the searching account, and the system
                // actor names none, as an anonymous caller does.
                let anyone = Options::system();
                let hits = m
                    .search(&query, call.opts.as_ref().unwrap_or(&anyone))
                    .await?;
                Ok(Reply::ok(Value::Array(
                    hits.iter().map(SearchHit::to_json).collect(),
                )))
            }
            Endpoint::ClassifyPublic | Endpoint::Classify => {
                let number = call.number()?;
                match m.classifiers().classify_with(m.normalizer(), number) {
                    Some(c) => Ok(Reply::ok(c.to_json())),
                    None => Err(Error::NotFound {
                        number: number.to_string(),
                    }
                    .into()),
                }
            }
            Endpoint::List => self.list(&call).await,
            Endpoint::Get => self.get_number(&call).await,
            Endpoint::Create => {
                let opts = creation_opts(&mut call)?;
                self.validate_public(&call.body.data)?;
                let change = PublicChange::from_body(&call.body.data)?;
                let out = m
                    .create(call.account()?, call.number()?, change, &opts)
                    .await?;
                Ok(single(out, true))
            }
            Endpoint::Update => {
                self.validate_public(&call.body.data)?;
                let data = std::mem::take(&mut call.body.data);
                Ok(single(
                    m.update(call.number()?, data, call.opts()?).await?,
                    false,
                ))
            }
            Endpoint::Patch => {
                self.validate_patch(&call.body.data)?;
                let data = std::mem::take(&mut call.body.data);
                Ok(single(
                    m.patch(call.number()?, data, call.opts()?).await?,
                    false,
                ))
            }
            Endpoint::Remove => {
                let hard = call.body.take_flag(&call.query, "hard")?;
                let out = if hard {
                    m.delete(call.number()?, call.opts()?).await?
                } else {
                    m.release(call.number()?, call.opts()?).await?
                };
                Ok(single(out, false))
            }
            Endpoint::Activate | Endpoint::Reserve | Endpoint::Port => {
                self.validate_public(&call.body.data)?;
                let data = std::mem::take(&mut call.body.data);
                let (account, number, opts) = (call.account()?, call.number()?, call.opts()?);
                let out = match call.endpoint {
                    Endpoint::Activate => m.activate(account, number, data, opts).await?,
                    Endpoint::Reserve => m.reserve(account, number, data, opts).await?,
                    _ => m.port_in(account, number, data, opts).await?,
                };
                Ok(single(out, true))
            }
            Endpoint::Identify => {
                let found = m.identify(call.number()?, call.opts()?).await?;
                Ok(Reply::ok(found.to_json()))
            }
            Endpoint::CollectionCreate => {
                let numbers = call.body.take_numbers()?;
                let opts = creation_opts(&mut call)?;
                self.validate_public(&call.body.data)?;
                let change = PublicChange::from_body(&call.body.data)?;
                let result = m
                    .create_many(call.account()?, &numbers, change, &opts)
                    .await?;
                collection(result, call.dry_run())
            }
            Endpoint::CollectionUpdate => {
                let numbers = call.body.take_numbers()?;
                self.validate_public(&call.body.data)?;
                let data = std::mem::take(&mut call.body.data);
                collection(
                    m.update_many(&numbers, data, call.opts()?).await?,
                    call.dry_run(),
                )
            }
            Endpoint::CollectionPatch => {
                let numbers = call.body.take_numbers()?;
                self.validate_patch(&call.body.data)?;
                let data = std::mem::take(&mut call.body.data);
                collection(
                    m.patch_many(&numbers, data, call.opts()?).await?,
                    call.dry_run(),
                )
            }
            Endpoint::CollectionRemove => {
                let numbers = call.body.take_numbers()?;
                let hard = call.body.take_flag(&call.query, "hard")?;
                let result = if hard {
                    m.delete_many(&numbers, call.opts()?).await?
                } else {
                    m.release_many(&numbers, call.opts()?).await?
                };
                collection(result, call.dry_run())
            }
            Endpoint::CollectionActivate => {
                let numbers = call.body.take_numbers()?;
                self.validate_public(&call.body.data)?;
                let data = std::mem::take(&mut call.body.data);
                let result = m
                    .activate_many(call.account()?, &numbers, data, call.opts()?)
                    .await?;
                collection(result, call.dry_run())
            }
            Endpoint::Check => {
                let numbers = call.body.take_numbers()?;
                let answers = m.check(&numbers).await?;
                Ok(Reply::ok(crate::json::availability(&answers)))
            }
            Endpoint::Locality => {
                let numbers = call.body.take_numbers()?;
                Ok(Reply::ok(Value::Object(m.locality(&numbers).await?)))
            }
            Endpoint::Prefix => {
                let city = call.query.get("city").unwrap_or("");
                let country = call.query.get("country").unwrap_or("US");
                Ok(Reply::ok(m.city_prefixes(country, city).await?))
            }
            Endpoint::Classifiers => Ok(Reply::ok(m.classifiers_json())),
            Endpoint::CarriersInfo => {
                let info = m.carriers_info(call.opts()?).await?;
                Ok(Reply::ok(info.to_json()))
            }
            Endpoint::Fix => {
                let (account, opts) = (call.account()?, call.opts()?);
                m.fix(account, opts).await?;
                let list = m
                    .list_numbers(account, &ListOptions::default(), opts)
                    .await?;
                Ok(listing(&list))
            }
            Endpoint::FixNumber => {
                m.fix_number(call.number()?, call.opts()?).await?;
                Ok(Reply::ok(json!({})))
            }
            Endpoint::PortList
            | Endpoint::PortCreate
            | Endpoint::PortGet
            | Endpoint::PortReplace
            | Endpoint::PortPatch
            | Endpoint::PortCancel
            | Endpoint::PortMove(_)
            | Endpoint::PortComment
            | Endpoint::PortAttachments
            | Endpoint::PortAttachmentGet
            | Endpoint::PortAttachmentPut
            | Endpoint::PortAttachmentDelete => self.dispatch_port(call).await,
        }
    }

    /// `GET …/phone_numbers/{n}`: the number's record; a number an open port
    /// request holds (with no record, or a `port_in` one) shows as `port_in`
    /// with the request's `port_id` and `port_state`.
    async fn get_number(&self, call: &Call) -> Answer {
        let m = &self.inner.manager;
        let (number, opts) = (call.number()?, call.opts()?);
        match m.get(number, opts).await {
            Ok(record) => {
                let mut json = record.to_public_json();
                if record.state == NumberState::PortIn {
                    if let (Some(p), Value::Object(obj)) =
                        (m.porting_number(number, opts).await?, &mut json)
                    {
                        p.annotate(obj);
                    }
                }
                Ok(Reply::ok(json))
            }
            Err(e @ Error::NotFound { .. }) => match m.porting_number(number, opts).await? {
                Some(p) => Ok(Reply::ok(p.to_json())),
                None => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// `GET …/phone_numbers`: the account's own numbers by prefix (seeds:
    /// "search for available numbers you own") when `prefix` is given,
    /// otherwise the paged listing.
    async fn list(&self, call: &Call) -> Answer {
        let m = &self.inner.manager;
        let q = &call.query;
        let (account, opts) = (call.account()?, call.opts()?);
        if let Some(prefix) = q.get("prefix").filter(|p| !p.trim().is_empty()) {
            let quantity = q.usize("quantity", 1)?.unwrap_or(1);
            let offset = q.usize("offset", 0)?.unwrap_or(0);
            let found = m
                .search_owned(account, prefix, quantity, offset, opts)
                .await?;
            return Ok(Reply::ok(crate::json::owned_numbers(&found)));
        }
        let instant = |key: &str| -> Result<_, Error> {
            match q.i64(key)? {
                None => Ok(None),
                Some(s) => from_gregorian(s).map(Some).ok_or_else(|| {
                    Error::validation(
                        key,
                        "range",
                        format!("{key} is not a valid Gregorian-seconds time"),
                    )
                }),
            }
        };
        let start_key = match q.get("start_key").map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(m.normalizer().parse(s).map_err(|_| {
                Error::validation("start_key", "pattern", "start_key must be a phone number")
            })?),
        };
        let public_filters = q
            .pairs()
            .iter()
            .filter_map(|(k, v)| {
                let field = k.strip_prefix("filter_")?;
                (field != "state" && !field.is_empty()).then(|| (field.to_string(), v.clone()))
            })
            .collect();
        let options = ListOptions {
            page_size: q.usize("page_size", 1)?,
            start_key,
            states: states(q.all("filter_state").collect())?,
            created_from: instant("created_from")?,
            created_to: instant("created_to")?,
            public_filters,
            ..Default::default()
        };
        let list = m.list_numbers(account, &options, opts).await?;
        Ok(listing(&list))
    }
}
