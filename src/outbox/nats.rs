//! [`NatsPublisher`]: outbox messages to NATS JetStream.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_nats::ConnectOptions;
use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{Message, Publisher};
use crate::{Error, Result};

const BROKER: &str = "nats";

/// Publishes outbox messages to a NATS JetStream stream, waiting for the
/// stream's ack of each one.
///
/// The subject of a message is its [routing key](Message::routing_key)
/// (`number.<operation>.<digits>`), behind an optional
/// [prefix](Self::with_subject_prefix). The stream (`NUMBER_MANAGER` unless
/// [`with_stream`](Self::with_stream) names another) is created on the first
/// connection if it does not exist, capturing `number.>` (or
/// `<prefix>.number.>`). Each message carries its outbox
/// [`seq`](Message::seq) as `Nats-Msg-Id`, so JetStream itself drops a
/// redelivery that falls within the stream's duplicate window; a consumer
/// still deduplicates on it beyond that window. The message ids are a
/// store's outbox positions: publish the events of one store per stream.
///
/// The publisher connects on its first batch. A batch that is not acked in
/// full within the [timeout](Self::with_timeout) returns [`Error::Broker`]
/// and drops the connection (so nothing it buffered goes out later behind
/// the relay's back); the relay sends the batch again, on a new connection.
/// It needs a tokio runtime.
///
/// ```no_run
/// # async fn run() -> number_manager::Result<()> {
/// use number_manager::outbox::{NatsPublisher, Publisher};
///
/// let publisher = NatsPublisher::new("nats://127.0.0.1:4222").with_subject_prefix("prod");
/// publisher.publish(&[]).await?; // nothing to send: Ok without connecting
/// # Ok(())
/// # }
/// ```
pub struct NatsPublisher {
    url: String,
    stream: String,
    prefix: Option<String>,
    timeout: Duration,
    context: Mutex<Option<jetstream::Context>>,
}

impl NatsPublisher {
    /// The default stream name.
    pub const DEFAULT_STREAM: &'static str = "NUMBER_MANAGER";
    /// How long a batch (connecting included) may take by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A publisher for the server at `url` (`nats://host:port`). Nothing
    /// connects until the first batch.
    pub fn new(url: impl Into<String>) -> Self {
        NatsPublisher {
            url: url.into(),
            stream: Self::DEFAULT_STREAM.to_string(),
            prefix: None,
            timeout: Self::DEFAULT_TIMEOUT,
            context: Mutex::new(None),
        }
    }

    /// Publishes into the stream `name` (created if missing).
    #[must_use]
    pub fn with_stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// Puts `prefix.` before every subject (and the stream's subject filter).
    #[must_use]
    pub fn with_subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Bounds each batch, connecting included.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The subject a message is published on.
    pub fn subject(&self, message: &Message) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}.{}", message.routing_key),
            None => message.routing_key.clone(),
        }
    }

    /// The stream's subject filter: every subject this publisher uses.
    fn filter(&self) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}.number.>"),
            None => "number.>".to_string(),
        }
    }

    async fn connect(&self) -> Result<jetstream::Context> {
        let client = ConnectOptions::new()
            .connection_timeout(self.timeout)
            .connect(self.url.as_str())
            .await
            .map_err(|e| Error::broker_with(BROKER, "cannot connect", e))?;
        let mut context = jetstream::new(client);
        context.set_timeout(self.timeout);
        let config = stream::Config {
            name: self.stream.clone(),
            subjects: vec![self.filter()],
            ..stream::Config::default()
        };
        context
            .get_or_create_stream(config)
            .await
            .map_err(|e| Error::broker_with(BROKER, "cannot create the stream", e))?;
        Ok(context)
    }

    /// Sends the batch, then waits for every ack, in order.
    async fn send(&self, context: &jetstream::Context, batch: &[Message]) -> Result<()> {
        let mut acks = Vec::with_capacity(batch.len());
        for message in batch {
            let publish = PublishMessage::build()
                .payload(bytes::Bytes::copy_from_slice(&message.body))
                .message_id(message.seq.to_string());
            let ack = context
                .send_publish(self.subject(message), publish)
                .await
                .map_err(|e| Error::broker_with(BROKER, "publish failed", e))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await
                .map_err(|e| Error::broker_with(BROKER, "no ack", e))?;
        }
        Ok(())
    }

    async fn publish_connected(
        &self,
        slot: &mut Option<jetstream::Context>,
        batch: &[Message],
    ) -> Result<()> {
        let context = match slot.take() {
            Some(context) => context,
            None => self.connect().await?,
        };
        let sent = self.send(&context, batch).await;
        // After a failure the client is dropped, not left to reconnect on its
        // own: it would send what it buffered whenever it got through, behind
        // the relay's back. The next batch connects afresh.
        if sent.is_ok() {
            *slot = Some(context);
        }
        sent
    }
}

#[async_trait]
impl Publisher for NatsPublisher {
    async fn publish(&self, batch: &[Message]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut slot = self.context.lock().await;
        tokio::time::timeout(self.timeout, self.publish_connected(&mut slot, batch))
            .await
            .unwrap_or_else(|_| {
                Err(Error::broker(
                    BROKER,
                    format!("no ack within {:?}", self.timeout),
                ))
            })
    }
}

impl std::fmt::Debug for NatsPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPublisher")
            .field("url", &super::redact(&self.url))
            .field("stream", &self.stream)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
