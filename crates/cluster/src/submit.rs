//! Submitting: the file into the object store under its job id, then the
//! job id into the work queue (`Nats-Msg-Id` = job id); then waiting for
//! outcomes in the results bucket.

use crate::conn::{retry, Cluster};
use crate::error::ClusterError;
use crate::job::{JobMsg, JobResult};
use async_nats::jetstream::kv;
use async_nats::jetstream::message::PublishMessage;
use futures_util::StreamExt;
use std::collections::HashSet;
use std::time::Duration;

impl Cluster {
    /// Uploads `bytes` as job `job.id` and queues the job. A job whose
    /// result is already posted (the same file submitted again) is not
    /// sent again; its result is what the waiter reports.
    pub async fn submit(&self, job: &JobMsg, bytes: &[u8]) -> Result<(), ClusterError> {
        if self.result(&job.id).await?.is_some() {
            return Ok(());
        }
        retry("upload file", || async {
            let mut reader = bytes;
            self.files.put(job.id.as_str(), &mut reader).await
        })
        .await?;
        let payload = serde_json::to_vec(job).map_err(|e| ClusterError::Malformed {
            what: "job",
            detail: e.to_string(),
        })?;
        let subject = format!("{}.{}", self.config.subject, job.id);
        retry("queue job", || async {
            let ack = self
                .js
                .send_publish(
                    subject.clone(),
                    PublishMessage::build()
                        .payload(payload.clone().into())
                        .message_id(&job.id),
                )
                .await
                .map_err(|e| e.to_string())?;
            ack.await.map_err(|e| e.to_string())
        })
        .await?;
        Ok(())
    }
}

/// Watches the results bucket; start it before submitting so that no
/// outcome is missed.
pub struct Waiter<'a> {
    cluster: &'a Cluster,
    watch: Option<kv::Watch>,
}

impl std::fmt::Debug for Waiter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}

/// How often outcomes are also read directly (covers results posted
/// before the watch started and a watch lost with its server).
const SWEEP: Duration = Duration::from_secs(3);
/// How long one read of the sweep may take.
const SWEEP_GET: Duration = Duration::from_secs(2);

impl<'a> Waiter<'a> {
    pub async fn start(cluster: &'a Cluster) -> Result<Waiter<'a>, ClusterError> {
        let watch = retry("watch results", || cluster.results.watch_all()).await?;
        Ok(Waiter {
            cluster,
            watch: Some(watch),
        })
    }

    /// Calls `on` once for each of `ids` as its outcome arrives. Fails with
    /// [`ClusterError::Timeout`] when no outcome has arrived for `idle`.
    pub async fn wait(
        &mut self,
        ids: impl IntoIterator<Item = String>,
        idle: Duration,
        mut on: impl FnMut(JobResult),
    ) -> Result<(), ClusterError> {
        let mut pending: HashSet<String> = ids.into_iter().collect();
        let mut deadline = tokio::time::Instant::now() + idle;
        let mut sweep = tokio::time::interval(SWEEP);
        while !pending.is_empty() {
            let next = async {
                match self.watch.as_mut() {
                    Some(w) => w.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                entry = next => match entry {
                    Some(Ok(e)) if e.operation == kv::Operation::Put && pending.contains(&e.key) => {
                        if let Ok(r) = serde_json::from_slice::<JobResult>(&e.value) {
                            pending.remove(&e.key);
                            deadline = tokio::time::Instant::now() + idle;
                            on(r);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        // Lost with its server: watch again; the sweep
                        // covers what passed meanwhile.
                        self.watch = tokio::time::timeout(Duration::from_secs(10), self.cluster.results.watch_all())
                            .await
                            .ok()
                            .and_then(Result::ok);
                        if self.watch.is_none() {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                },
                _ = sweep.tick() => {
                    // One short attempt per job: a sweep that meets a
                    // server going away ends early (the next one retries)
                    // rather than holding up the watch and the deadline.
                    let ids: Vec<String> = pending.iter().cloned().collect();
                    for id in ids {
                        match tokio::time::timeout(SWEEP_GET, self.cluster.results.get(&id)).await {
                            Ok(Ok(Some(v))) => {
                                if let Ok(r) = serde_json::from_slice::<JobResult>(&v) {
                                    pending.remove(&id);
                                    deadline = tokio::time::Instant::now() + idle;
                                    on(r);
                                }
                            }
                            Ok(Ok(None)) => {}
                            Ok(Err(_)) | Err(_) => break,
                        }
                    }
                    if self.watch.is_none() {
                        self.watch = tokio::time::timeout(Duration::from_secs(10), self.cluster.results.watch_all())
                            .await
                            .ok()
                            .and_then(Result::ok);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(ClusterError::Timeout(pending.len()));
                }
            }
        }
        Ok(())
    }
}
