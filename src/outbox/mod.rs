//! Durable events: the outbox and what carries it to a broker.
//!
//! Every committed change can write its [`Event`] into the store in the same
//! transaction as the change (the outbox). A relay reads the outbox in commit
//! order and hands it to a [`Publisher`], which delivers it to a broker; an
//! entry leaves the outbox only after the publisher confirmed it. Delivery is
//! therefore at least once and in order per number: a consumer that must not
//! act twice deduplicates on [`Message::seq`].

use async_trait::async_trait;

#[cfg(feature = "amqp")]
mod amqp;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "amqp")]
#[cfg_attr(docsrs, doc(cfg(feature = "amqp")))]
pub use amqp::AmqpPublisher;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub use nats::NatsPublisher;
mod relay;
pub use relay::{Relay, RelayOptions};

use crate::events::Event;
use crate::number::PhoneNumber;
use crate::Result;

/// One outbox entry on its way to a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The entry's position in the outbox: strictly increasing in commit order
    /// and never reused by the store that wrote it. Publishers send it as the
    /// message id, so a consumer can drop a redelivery.
    pub seq: u64,
    /// The number the event is about.
    pub number: PhoneNumber,
    /// `number.<operation>.<digits>`, e.g. `number.activate.14155550100`
    /// (see [`routing_key`]).
    pub routing_key: String,
    /// The event as JSON (its `Serialize` form), UTF-8.
    pub body: Vec<u8>,
}

impl Message {
    /// The message for `event`, at outbox position `seq`.
    pub fn from_event(seq: u64, event: &Event) -> Result<Self> {
        let body = serde_json::to_vec(event).map_err(|e| crate::Error::Internal {
            cause: format!("event does not serialize: {e}"),
        })?;
        Ok(Message {
            seq,
            number: event.number,
            routing_key: routing_key(event),
            body,
        })
    }
}

/// The routing key of an event: `number.<operation>.<digits>`, the operation's
/// wire name and the E.164 digits without `+`. A topic binding such as
/// `number.activate.*` or `number.*.1415#` selects by operation or prefix.
pub fn routing_key(event: &Event) -> String {
    format!(
        "number.{}.{}",
        event.operation.as_str(),
        event.number.strip_plus()
    )
}

/// Delivers outbox messages to a broker.
///
/// `publish` returns `Ok` only once the broker has taken responsibility for
/// every message of the batch (a publisher confirm, a JetStream ack). On an
/// error nothing is assumed delivered: the relay sends the whole batch again
/// later, so a broker may see a message more than once, never out of order
/// for one number. A publisher sends the batch in the order given, on one
/// ordered channel.
#[async_trait]
pub trait Publisher: Send + Sync + std::fmt::Debug {
    /// Publishes `batch` in order, returning once every message is confirmed.
    async fn publish(&self, batch: &[Message]) -> Result<()>;
}

/// A broker URI without its password, for `Debug` output and logs.
#[cfg(any(feature = "amqp", feature = "nats"))]
fn redact(uri: &str) -> String {
    let (Some(scheme), Some(at)) = (uri.find("://"), uri.rfind('@')) else {
        return uri.to_string();
    };
    match (
        uri.get(..scheme + 3),
        uri.get(scheme + 3..at),
        uri.get(at..),
    ) {
        (Some(head), Some(userinfo), Some(tail)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{head}{user}:***{tail}")
        }
        _ => uri.to_string(),
    }
}

#[cfg(all(test, any(feature = "amqp", feature = "nats")))]
mod tests {
    use super::redact;

    #[test]
    fn passwords_stay_out_of_debug_output() {
        assert_eq!(
            redact("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("nats://tok@host:4222"), "nats://tok:***@host:4222");
    }
}
