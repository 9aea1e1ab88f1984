//! [`AmqpPublisher`]: outbox messages to an AMQP 0-9-1 broker (RabbitMQ).

use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::Mutex;

use super::{Message, Publisher};
use crate::{Error, Result};

const BROKER: &str = "amqp";

/// Publishes outbox messages to a durable topic exchange of an AMQP 0-9-1
/// broker, with publisher confirms.
///
/// Each message is published persistent (delivery mode 2), with content
/// type `application/json`, the message id set to its outbox
/// [`seq`](Message::seq), and the [`routing key`](Message::routing_key)
/// `number.<operation>.<digits>`, so a queue bound with `number.#` receives
/// every change and one bound with `number.activate.*` only activations.
/// The exchange (`number_manager` unless [`with_exchange`](Self::with_exchange)
/// names another) is declared durable on every (re)connection.
///
/// The publisher connects on its first batch and again after any failure:
/// a batch that fails (broker down, connection lost, a nack, no confirm
/// within the [timeout](Self::with_timeout)) drops the connection and
/// returns [`Error::Broker`], and the relay sends the batch again later.
/// One connection and one channel carry every batch, in order. It needs a
/// tokio runtime.
///
/// ```no_run
/// # async fn run() -> number_manager::Result<()> {
/// use number_manager::outbox::{AmqpPublisher, Publisher};
///
/// let publisher = AmqpPublisher::new("amqp://guest:guest@127.0.0.1:5672/%2f")
///     .with_exchange("numbers");
/// publisher.publish(&[]).await?; // nothing to send: Ok without connecting
/// # Ok(())
/// # }
/// ```
pub struct AmqpPublisher {
    uri: String,
    exchange: String,
    timeout: Duration,
    link: Mutex<Option<Link>>,
}

/// An open connection and its confirming channel.
struct Link {
    connection: Connection,
    channel: Channel,
}

impl AmqpPublisher {
    /// The default exchange name.
    pub const DEFAULT_EXCHANGE: &'static str = "number_manager";
    /// How long a batch (connecting included) may take by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A publisher for the broker at `uri` (`amqp://user:password@host:port/vhost`,
    /// the vhost URL-encoded: `%2f` is `/`). Nothing connects until the first batch.
    pub fn new(uri: impl Into<String>) -> Self {
        AmqpPublisher {
            uri: uri.into(),
            exchange: Self::DEFAULT_EXCHANGE.to_string(),
            timeout: Self::DEFAULT_TIMEOUT,
            link: Mutex::new(None),
        }
    }

    /// Publishes to the topic exchange `name` instead of `number_manager`.
    #[must_use]
    pub fn with_exchange(mut self, name: impl Into<String>) -> Self {
        self.exchange = name.into();
        self
    }

    /// Bounds each batch, connecting included: past it the batch fails and
    /// the connection is dropped.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The exchange messages go to.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    async fn connect(&self) -> Result<Link> {
        let connection = Connection::connect(&self.uri, ConnectionProperties::default())
            .await
            .map_err(|e| Error::broker_with(BROKER, "cannot connect", e))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| Error::broker_with(BROKER, "cannot open a channel", e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| Error::broker_with(BROKER, "cannot enable publisher confirms", e))?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await
            .map_err(|e| Error::broker_with(BROKER, "cannot declare the exchange", e))?;
        Ok(Link {
            connection,
            channel,
        })
    }

    /// Sends the batch on `link`'s channel, then waits for every confirm.
    async fn send(&self, link: &Link, batch: &[Message]) -> Result<()> {
        let mut confirms = Vec::with_capacity(batch.len());
        for message in batch {
            let properties = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_message_id(message.seq.to_string().into());
            let confirm = link
                .channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    message.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &message.body,
                    properties,
                )
                .await
                .map_err(|e| Error::broker_with(BROKER, "publish failed", e))?;
            confirms.push((message.seq, confirm));
        }
        for (seq, confirm) in confirms {
            match confirm
                .await
                .map_err(|e| Error::broker_with(BROKER, "no confirm", e))?
            {
                Confirmation::Ack(_) => {}
                Confirmation::Nack(_) => {
                    return Err(Error::broker(BROKER, format!("message {seq} was nacked")));
                }
                Confirmation::NotRequested => {
                    return Err(Error::broker(BROKER, "publisher confirms are off"));
                }
            }
        }
        Ok(())
    }

    async fn publish_linked(&self, slot: &mut Option<Link>, batch: &[Message]) -> Result<()> {
        let stale = slot
            .as_ref()
            .is_some_and(|link| !link.channel.status().connected());
        if stale {
            *slot = None;
        }
        let link = match slot.take() {
            Some(link) => link,
            None => self.connect().await?,
        };
        let sent = self.send(&link, batch).await;
        // Keep the link only when it just worked: after a failure the
        // channel's state (and which confirms are outstanding) is unknown.
        if sent.is_ok() {
            *slot = Some(link);
        } else {
            close(link).await;
        }
        sent
    }
}

/// Closes a link that failed, without waiting long on a broker that is gone.
async fn close(link: Link) {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        link.connection.close(200, "reconnecting".into()),
    )
    .await;
}

#[async_trait]
impl Publisher for AmqpPublisher {
    async fn publish(&self, batch: &[Message]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut slot = self.link.lock().await;
        match tokio::time::timeout(self.timeout, self.publish_linked(&mut slot, batch)).await {
            Ok(result) => result,
            Err(_) => {
                // The timed-out future may have left a half-used link behind.
                if let Some(link) = slot.take() {
                    close(link).await;
                }
                Err(Error::broker(
                    BROKER,
                    format!("no confirm within {:?}", self.timeout),
                ))
            }
        }
    }
}

impl std::fmt::Debug for AmqpPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpPublisher")
            .field("uri", &super::redact(&self.uri))
            .field("exchange", &self.exchange)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
