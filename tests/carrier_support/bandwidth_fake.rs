//! A stateful fake of a small Bandwidth account (Numbers API v2, XML) for
//! the conformance suite: an inventory of numbers on offer, the numbers in
//! service on the account, and the orders and disconnects that move them,
//! answered in the documented shapes. `tests/carrier_bandwidth.rs` includes
//! it by path next to `carrier_support`.
//!
//! A purchase is decided when its order is posted (so of two orders for one
//! number at once exactly one wins); the POST answers `RECEIVED` and a later
//! GET of the order its outcome (`COMPLETE`, or `FAILED` with code 5005), as
//! Bandwidth's asynchronous orders do. A disconnect takes the number out of
//! service at once and reads `COMPLETE` when looked at again.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::carrier_support::{Handler, Recorded, Reply};

/// The numbers on offer: `+14155550100` to `+14155550199` in steps of 3
/// (so a search by a missing number finds nothing).
pub fn inventory() -> Vec<String> {
    (100..200)
        .step_by(3)
        .map(|n| format!("+1415555{n:04}"))
        .collect()
}

struct Order {
    id: String,
    tag: String,
    number: String,
    bought: bool,
}

#[derive(Default)]
struct Account {
    in_service: BTreeSet<String>,
    orders: Vec<Order>,
    disconnects: Vec<String>,
}

fn xml(status: u16, body: String) -> Reply {
    Reply::raw(
        status,
        "application/xml; charset=utf-8",
        &format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>{body}"),
    )
}

/// The text of the first `<tag>` in `body`.
fn element<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(&body[start..end])
}

fn order_answer(o: &Order, settled: bool) -> String {
    let status = match (settled, o.bought) {
        (false, _) => "RECEIVED",
        (true, true) => "COMPLETE",
        (true, false) => "FAILED",
    };
    let outcome = match (settled, o.bought) {
        (true, true) => format!(
            "<CompletedNumbers><TelephoneNumber><FullNumber>{}</FullNumber></TelephoneNumber></CompletedNumbers>",
            o.number
        ),
        (true, false) => format!(
            "<ErrorList><Error><Code>5005</Code><Description>Telephone Number Unavailable</Description>\
             <TelephoneNumber>{}</TelephoneNumber></Error></ErrorList>",
            o.number
        ),
        _ => String::new(),
    };
    format!(
        "<OrderResponse><Order><CustomerOrderId>{}</CustomerOrderId><id>{}</id>\
         <ExistingTelephoneNumberOrderType><TelephoneNumberList><TelephoneNumber>{}</TelephoneNumber>\
         </TelephoneNumberList></ExistingTelephoneNumberOrderType><PartialAllowed>false</PartialAllowed>\
         <SiteId>743</SiteId></Order><OrderStatus>{status}</OrderStatus>{outcome}</OrderResponse>",
        o.tag, o.id, o.number
    )
}

fn search(account: &Account, r: &Recorded) -> Reply {
    let free: Vec<String> = inventory()
        .into_iter()
        .filter(|n| !account.in_service.contains(n))
        .collect();
    let national = ["npaNxxx", "npaNxx", "areaCode", "tollFreeWildCardPattern"]
        .iter()
        .find_map(|k| r.query_value(k));
    let Some(national) = national else {
        return xml(
            400,
            "<SearchResult><Error><Code>4010</Code><Description>One of more required search \
             parameters are null or empty</Description></Error></SearchResult>"
                .into(),
        );
    };
    let quantity: usize = r
        .query_value("quantity")
        .and_then(|q| q.parse().ok())
        .unwrap_or(5000);
    let prefix = format!("+1{national}");
    let rows: Vec<String> = free
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .take(quantity)
        .map(|n| {
            format!(
                "<TelephoneNumberDetail><City>SAN FRANCISCO</City><LATA>722</LATA>\
                 <RateCenter>SNFC CNTRL</RateCenter><State>CA</State><FullNumber>{n}</FullNumber>\
                 <Tier>0</Tier></TelephoneNumberDetail>"
            )
        })
        .collect();
    xml(
        200,
        format!(
            "<SearchResult><ResultCount>{}</ResultCount><TelephoneNumberDetailList>{}\
             </TelephoneNumberDetailList></SearchResult>",
            rows.len(),
            rows.concat()
        ),
    )
}

fn place_order(account: &mut Account, r: &Recorded) -> Reply {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let (Some(number), Some(tag)) = (
        element(&body, "TelephoneNumber"),
        element(&body, "CustomerOrderId"),
    ) else {
        return xml(
            400,
            "<OrderResponse><ErrorList><Error><Code>5001</Code><Description>Invalid input \
             telephone number list</Description></Error></ErrorList></OrderResponse>"
                .into(),
        );
    };
    let bought =
        inventory().iter().any(|n| n == number) && account.in_service.insert(number.to_string());
    let order = Order {
        id: format!("order-{:04}", account.orders.len() + 1),
        tag: tag.to_string(),
        number: number.to_string(),
        bought,
    };
    let answer = order_answer(&order, false);
    account.orders.push(order);
    xml(201, answer)
}

fn list_orders(account: &Account, r: &Recorded) -> Reply {
    let tag = r.query_value("customerOrderId").unwrap_or("");
    let rows: Vec<String> = account
        .orders
        .iter()
        .filter(|o| o.tag == tag)
        .map(|o| {
            let status = if o.bought { "COMPLETE" } else { "FAILED" };
            format!(
                "<OrderIdUserIdDate><CountOfTNs>1</CountOfTNs><CustomerOrderId>{}</CustomerOrderId>\
                 <orderId>{}</orderId><OrderStatus>{status}</OrderStatus><userId>api-user</userId>\
                 </OrderIdUserIdDate>",
                o.tag, o.id
            )
        })
        .collect();
    xml(
        200,
        format!(
            "<ResponseSelectWrapper><ListOrderIdUserIdDate><TotalCount>{}</TotalCount>{}\
             </ListOrderIdUserIdDate></ResponseSelectWrapper>",
            rows.len(),
            rows.concat()
        ),
    )
}

fn disconnect(account: &mut Account, r: &Recorded) -> Reply {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let number = element(&body, "TelephoneNumber").unwrap_or("").to_string();
    if !account.in_service.remove(&number) {
        return xml(
            400,
            format!(
                "<DisconnectTelephoneNumberOrderResponse><ErrorList><Error><Code>5074</Code>\
                 <Description>Telephone number is not in service.</Description>\
                 <TelephoneNumber>{number}</TelephoneNumber></Error></ErrorList>\
                 </DisconnectTelephoneNumberOrderResponse>"
            ),
        );
    }
    account.disconnects.push(number.clone());
    let id = format!("disconnect-{:04}", account.disconnects.len());
    xml(201, disconnect_answer(&id, &number, "RECEIVED"))
}

fn disconnect_answer(id: &str, number: &str, status: &str) -> String {
    format!(
        "<DisconnectTelephoneNumberOrderResponse><orderRequest><id>{id}</id>\
         <DisconnectTelephoneNumberOrderType><TelephoneNumberList><TelephoneNumber>{number}\
         </TelephoneNumber></TelephoneNumberList></DisconnectTelephoneNumberOrderType>\
         </orderRequest><OrderStatus>{status}</OrderStatus></DisconnectTelephoneNumberOrderResponse>"
    )
}

/// Bandwidth's API under `/api/v2` for account `account_id`, answering only
/// requests with `Authorization: <authorization>` (401 otherwise).
pub fn bandwidth(account_id: &str, authorization: &str) -> Handler {
    let state = Arc::new(Mutex::new(Account::default()));
    let base = format!("/api/v2/accounts/{account_id}");
    let authorization = authorization.to_string();
    Arc::new(move |r: &Recorded| {
        let tail = r.path.strip_prefix(&base)?;
        if r.header("authorization") != Some(authorization.as_str()) {
            return Some(Reply::empty(401));
        }
        let mut account = state.lock().unwrap();
        let reply = match (r.method.as_str(), tail) {
            ("GET", "/availableNumbers") => search(&account, r),
            ("POST", "/orders") => place_order(&mut account, r),
            ("GET", "/orders") => list_orders(&account, r),
            ("POST", "/disconnects") => disconnect(&mut account, r),
            ("GET", t) if t.starts_with("/orders/") => {
                let id = &t["/orders/".len()..];
                match account.orders.iter().find(|o| o.id == id) {
                    Some(o) => xml(200, order_answer(o, true)),
                    None => Reply::empty(404),
                }
            }
            ("GET", t) if t.starts_with("/disconnects/") => {
                let id = &t["/disconnects/".len()..];
                let n: usize = id.trim_start_matches("disconnect-").parse().unwrap_or(0);
                match n.checked_sub(1).and_then(|i| account.disconnects.get(i)) {
                    Some(number) => xml(200, disconnect_answer(id, number, "COMPLETE")),
                    None => Reply::empty(404),
                }
            }
            ("GET", t) if t.starts_with("/inserviceNumbers/") => {
                let tn = t["/inserviceNumbers/".len()..].replace("%2B", "+");
                if account.in_service.contains(&tn) {
                    Reply::empty(200)
                } else {
                    Reply::empty(404)
                }
            }
            _ => return None,
        };
        Some(reply)
    })
}
