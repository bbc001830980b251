//! The connection and the JetStream objects every node shares.

use crate::error::ClusterError;
use async_nats::jetstream::{self, consumer, kv, object_store, stream};
use mugai_core::config::ClusterConfig;
use std::future::Future;
use std::time::Duration;

/// A connection to the NATS cluster with the job stream, the file bucket
/// and the results bucket (created on first use with the configured
/// replicas).
pub struct Cluster {
    pub config: ClusterConfig,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub stream: stream::Stream,
    pub files: object_store::ObjectStore,
    /// The stream under `files`, read message by message (see
    /// [`Cluster::read_file`]).
    pub file_stream: stream::Stream,
    pub results: kv::Store,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("nats", &self.config.nats)
            .finish_non_exhaustive()
    }
}

/// How long one operation is retried while the NATS cluster elects a new
/// leader or the client reconnects to another server.
const RETRY_FOR: Duration = Duration::from_secs(60);
/// How long one attempt may take.
const ATTEMPT: Duration = Duration::from_secs(15);

/// Runs `op` until it succeeds or [`RETRY_FOR`] has passed.
pub(crate) async fn retry<T, E, F, Fut>(what: &'static str, mut op: F) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let start = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        // An attempt whose server went away may never answer: bounded.
        let attempt = match tokio::time::timeout(ATTEMPT, op()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("no answer in time".to_string()),
        };
        match attempt {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() < RETRY_FOR => {
                tracing::debug!(what, error = %e, "retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(ClusterError::nats(what)(e)),
        }
    }
}

impl Cluster {
    /// Connects (to any of `config.nats`) as `name` and makes sure of the
    /// stream and buckets.
    pub async fn connect(config: &ClusterConfig, name: &str) -> Result<Cluster, ClusterError> {
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .connect(config.nats.clone())
            .await
            .map_err(|e| ClusterError::nats("connect")(e.to_string()))?;
        let js = jetstream::new(client.clone());
        let replicas = config.replicas;
        let stream_config = stream::Config {
            name: config.stream.clone(),
            subjects: vec![format!("{}.>", config.subject)],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let stream = retry("job stream", || async {
            match js.get_stream(&config.stream).await {
                Ok(s) => Ok(s),
                Err(_) => js
                    .create_stream(stream_config.clone())
                    .await
                    .map_err(|e| e.to_string()),
            }
        })
        .await?;
        let ttl = Duration::from_secs(config.results_ttl_secs);
        // Both buckets' streams are made here rather than by the client
        // library: reads must go to the stream leader (no direct get),
        // since a replica that has just rejoined answers "not found" for
        // what the others hold; and the library's own `create_key_value`
        // first reads account information in a form server 2.9 does not
        // send.
        let files = retry("file bucket", || async {
            match js.get_object_store(&config.objects).await {
                Ok(s) => Ok(s),
                Err(_) => {
                    js.create_stream(stream::Config {
                        name: format!("OBJ_{}", config.objects),
                        subjects: vec![
                            format!("$O.{}.C.>", config.objects),
                            format!("$O.{}.M.>", config.objects),
                        ],
                        max_age: ttl,
                        storage: stream::StorageType::File,
                        num_replicas: replicas,
                        discard: stream::DiscardPolicy::New,
                        allow_rollup: true,
                        allow_direct: false,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    js.get_object_store(&config.objects)
                        .await
                        .map_err(|e| e.to_string())
                }
            }
        })
        .await?;
        let file_stream = retry("file bucket stream", || {
            js.get_stream(format!("OBJ_{}", config.objects))
        })
        .await?;
        let results = retry("results bucket", || async {
            match js.get_key_value(&config.results).await {
                Ok(s) => Ok(s),
                Err(_) => {
                    js.create_stream(stream::Config {
                        name: format!("KV_{}", config.results),
                        subjects: vec![format!("$KV.{}.>", config.results)],
                        max_messages_per_subject: 1,
                        max_age: ttl,
                        storage: stream::StorageType::File,
                        num_replicas: replicas,
                        allow_rollup: true,
                        deny_delete: true,
                        allow_direct: false,
                        discard: stream::DiscardPolicy::New,
                        duplicate_window: ttl.min(Duration::from_secs(120)),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    js.get_key_value(&config.results)
                        .await
                        .map_err(|e| e.to_string())
                }
            }
        })
        .await?;
        Ok(Cluster {
            config: config.clone(),
            client,
            js,
            stream,
            files,
            file_stream,
            results,
        })
    }

    /// The durable pull consumer the workers share. Redelivery is not
    /// capped on the server: a worker counts deliveries itself and
    /// quarantines a job past `max_deliver`, so that no job is ever
    /// dropped without an outcome.
    pub async fn consumer(&self) -> Result<consumer::PullConsumer, ClusterError> {
        let cfg = consumer::pull::Config {
            durable_name: Some(self.config.consumer.clone()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(self.config.ack_wait_secs),
            max_deliver: -1,
            max_ack_pending: 10_000,
            ..Default::default()
        };
        retry("job consumer", || {
            self.stream
                .get_or_create_consumer(&self.config.consumer, cfg.clone())
        })
        .await
    }

    /// Reads object `name` from the file bucket, at most `max + 1` bytes;
    /// `None` when it is not there (or not yet on the server that
    /// answers). Each chunk is one request to the stream's leader: the
    /// library's own reader makes a consumer for every object, and on a
    /// NATS cluster each consumer is a replicated asset whose creation
    /// stalls while a server is down or the cluster elects a new leader.
    /// One attempt, not retried here; bounded by the caller.
    pub async fn read_file(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, ClusterError> {
        use async_nats::jetstream::object_store::InfoErrorKind;
        let info = match self.files.info(name).await {
            Ok(i) if i.deleted => return Ok(None),
            Ok(i) => i,
            Err(e) if e.kind() == InfoErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ClusterError::nats("read file")(e.to_string())),
        };
        let subject = format!("$O.{}.C.{}", self.config.objects, info.nuid);
        let cap = (info.size as u64).min(max.saturating_add(1));
        let mut bytes = Vec::with_capacity(usize::try_from(cap).unwrap_or(0).min(64 << 20));
        let mut from = 1u64;
        for _ in 0..info.chunks {
            let m = match self
                .file_stream
                .get_first_raw_message_by_subject(&subject, from)
                .await
            {
                Ok(m) => m,
                Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                    return Ok(None)
                }
                Err(e) => return Err(ClusterError::nats("read file")(e.to_string())),
            };
            from = m.sequence.saturating_add(1);
            let room =
                usize::try_from(max.saturating_add(1) - bytes.len() as u64).unwrap_or(usize::MAX);
            bytes.extend_from_slice(&m.payload[..m.payload.len().min(room)]);
            if bytes.len() as u64 > max {
                break;
            }
        }
        if (bytes.len() as u64) < cap {
            // Fewer bytes than the object's record says: not complete here.
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    /// The posted result of a job, if any.
    pub async fn result(&self, id: &str) -> Result<Option<crate::JobResult>, ClusterError> {
        let v = retry("read result", || self.results.get(id)).await?;
        match v {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| ClusterError::Malformed {
                        what: "result",
                        detail: e.to_string(),
                    })
            }
        }
    }
}
