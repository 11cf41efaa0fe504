//! `GET /v1/jobs/{id}/events`: server-sent events. `progress` carries the job object
//! when it changed, at most once a second; `end` carries the final object and closes
//! the stream, as soon as the job finishes (the store writer announces it); a `: ping`
//! comment keeps quiet streams alive every 15 s. A finished job gets `end` at once.

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use futures_util::stream;
use tokio::sync::watch;
use trawl_core::job::{JobKey, JobView};

use crate::error::ApiError;
use crate::jobs::{find_job, job_body};
use crate::state::ApiState;

/// How often the job is read for progress (and sooner when some job finishes).
const POLL: Duration = Duration::from_secs(1);
/// Longest silence before a ping comment.
const PING: Duration = Duration::from_secs(15);

/// Where one event stream is.
struct Watch {
    state: web::Data<ApiState>,
    key: JobKey,
    /// The object to send first, then the last one sent.
    pending: Option<JobView>,
    last: Option<JobView>,
    last_sent: Instant,
    /// Moves whenever jobs finish.
    finished_jobs: watch::Receiver<u64>,
}

/// `GET /v1/jobs/{id}/events`.
pub(crate) async fn events(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = find_job(&state, &id).await?;
    let watch = Watch {
        finished_jobs: state.finished_jobs.watch(),
        state,
        key: job.key,
        pending: Some(job.view),
        last: None,
        last_sent: Instant::now(),
    };
    let events = stream::unfold(Some(watch), |watch| async move {
        let mut watch = watch?;
        let (chunk, more) = next_event(&mut watch).await?;
        Some((Ok::<_, actix_web::Error>(chunk), more.then_some(watch)))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(events))
}

/// The next chunk of the stream and whether more follow; `None` ends it at once (the
/// job vanished, the store failed, or the service is shutting down).
async fn next_event(watch: &mut Watch) -> Option<(Bytes, bool)> {
    loop {
        let view = match watch.pending.take() {
            Some(view) => view,
            None => {
                next_look(&mut watch.finished_jobs).await;
                if watch.state.is_shutting_down() {
                    return None;
                }
                let store = watch.state.store.clone();
                let key = watch.key;
                web::block(move || store.job_by_key(key))
                    .await
                    .ok()?
                    .ok()??
                    .view
            }
        };
        if !view.state.is_active() {
            return Some((event("end", &view), false));
        }
        if watch.last.as_ref() != Some(&view) {
            let chunk = event("progress", &view);
            watch.last = Some(view);
            watch.last_sent = Instant::now();
            return Some((chunk, true));
        }
        if watch.last_sent.elapsed() >= PING {
            watch.last_sent = Instant::now();
            return Some((Bytes::from_static(b": ping\n\n"), true));
        }
    }
}

/// Waits until the job should be read again: [`POLL`] from now, or sooner when some
/// job finishes.
async fn next_look(finished_jobs: &mut watch::Receiver<u64>) {
    let tick = actix_web::rt::time::sleep(POLL);
    let finished = async {
        if finished_jobs.changed().await.is_err() {
            // The writer is gone (shutting down): only the tick is left.
            std::future::pending::<()>().await;
        }
    };
    futures_util::pin_mut!(tick, finished);
    futures_util::future::select(tick, finished).await;
}

fn event(name: &str, view: &JobView) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {}\n\n", job_body(view)))
}
