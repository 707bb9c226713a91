//! Structured logging. Building the subscriber and installing it are two steps so tests
//! can install a silent one. Nothing logged here or anywhere else carries passwords,
//! tokens or message content: request spans record the matched route, never the URI
//! with its query string (WebSocket tokens may travel there).

use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Registry};

use crate::config::LogFormat;

/// A subscriber writing to `sink` in the chosen format, filtered by `filter`.
pub fn subscriber<W>(filter: &str, format: LogFormat, sink: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = Registry::default().with(filter);
    match format {
        LogFormat::Json => Box::new(
            registry.with(fmt::layer().json().flatten_event(true).with_current_span(true).with_writer(sink)),
        ),
        LogFormat::Text => Box::new(registry.with(fmt::layer().with_writer(sink))),
    }
}

/// Installs `subscriber` as the process-wide default; a second call is a no-op.
pub fn install(subscriber: Box<dyn Subscriber + Send + Sync>) {
    let _ = subscriber.try_init();
}
