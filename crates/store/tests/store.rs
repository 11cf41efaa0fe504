//! The store against a real SQLite file: durability rules of the contract.

use actix::{Actor, Context, Handler};
use trawl_core::job::{JobFinished, JobOptions, JobState};
use trawl_core::record::{ErrorKind, Record, StoreRecords};
use trawl_core::submission::BodyFormat;
use trawl_store::{
    CreateJob, CreatedJob, FinishCancelled, PurgeJob, RecordFilter, Store, StoreWriter,
};

/// Collects JobFinished notices.
#[derive(Default)]
struct Finished(std::sync::Arc<std::sync::Mutex<Vec<i64>>>);

impl Actor for Finished {
    type Context = Context<Self>;
}

impl Handler<JobFinished> for Finished {
    type Result = ();
    fn handle(&mut self, msg: JobFinished, _: &mut Self::Context) {
        self.0.lock().unwrap().push(msg.key);
    }
}

/// A JSON body of `n` entries: entry 0 has a ref, entry 1 is not http.
fn body(n: usize) -> Vec<u8> {
    let urls: Vec<serde_json::Value> = (0..n)
        .map(|i| match i {
            0 => serde_json::json!({"url": "http://h0.example/", "ref": "r0"}),
            1 => serde_json::json!("ftp://h1.example/"),
            _ => serde_json::json!(format!("http://h{i}.example/")),
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "urls": urls })).unwrap()
}

async fn create(
    writer: &actix::Addr<StoreWriter>,
    n: usize,
    key: Option<(&str, &str)>,
) -> CreatedJob {
    writer
        .send(CreateJob {
            id: format!("job-{n}-{key:?}"),
            label: Some("l".into()),
            options: JobOptions::default(),
            body: body(n).into(),
            format: BodyFormat::Json,
            total: n as u64,
            idempotency: key.map(|(k, h)| (k.into(), h.into())),
        })
        .await
        .unwrap()
        .unwrap()
}

/// A store in `dir` and its writer, whose finished-job notices go nowhere.
fn open(dir: &tempfile::TempDir) -> (Store, actix::Addr<StoreWriter>) {
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let finished = Finished::default().start().recipient();
    let writer =
        StoreWriter::start(&store, finished, Default::default(), Default::default()).unwrap();
    (store, writer)
}

fn ok_record(job: &str, seq: u64) -> Record {
    let mut record = Record::failed(job, seq, "http://x/", None, ErrorKind::Dns, "x");
    record.error = None;
    record.ok = true;
    record.status = Some(200);
    record
}

#[actix_rt::test]
async fn records_count_once_and_complete_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sub/t.db")).unwrap();
    let seen = Finished::default();
    let finished = seen.0.clone();
    let writer = StoreWriter::start(
        &store,
        seen.start().recipient(),
        Default::default(),
        Default::default(),
    )
    .unwrap();

    let CreatedJob::Created(job) = create(&writer, 4, None).await else {
        panic!()
    };
    assert_eq!((job.view.total, job.view.done, job.view.failed), (4, 1, 1));
    assert_eq!(job.view.errors.get("invalid_url"), Some(&1));

    let pending = store.pending_urls(job.key, None, 10).unwrap();
    assert_eq!(pending.iter().map(|p| p.seq).collect::<Vec<_>>(), [0, 2, 3]);
    assert_eq!(pending[0].reference.as_deref(), Some("r0"));

    // seq 3 first: the committed prefix stops at the gap at seq 2.
    let rec3 = ok_record(&job.view.id, 3).to_stored(job.key);
    writer
        .send(StoreRecords {
            records: vec![rec3.clone(), rec3.clone()],
        })
        .await
        .unwrap();
    let page = store
        .prefix_page(job.key, None, 100, &RecordFilter::default())
        .unwrap();
    assert_eq!(page.items.len(), 0, "seq 0 is not committed yet");
    assert!(!page.exhausted);

    let rec0 = ok_record(&job.view.id, 0).to_stored(job.key);
    let rec2 = ok_record(&job.view.id, 2).to_stored(job.key);
    writer
        .send(StoreRecords {
            records: vec![rec0, rec2, rec3],
        })
        .await
        .unwrap();
    let job = store.job_by_key(job.key).unwrap().unwrap();
    assert_eq!(
        (job.view.done, job.view.succeeded, job.view.failed),
        (4, 3, 1)
    );
    assert_eq!(job.view.state, JobState::Completed);
    // The notice is sent after the commit; give the probe actor a turn to take it.
    for _ in 0..100 {
        if !finished.lock().unwrap().is_empty() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(*finished.lock().unwrap(), vec![job.key]);

    let page = store
        .prefix_page(job.key, Some(0), 2, &RecordFilter::default())
        .unwrap();
    assert_eq!(page.items.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    let failed = RecordFilter {
        ok: Some(false),
        error_kind: Some(ErrorKind::InvalidUrl),
    };
    let mut seqs = Vec::new();
    let visited = store
        .visit_records_after(job.key, None, 10, &failed, |seq, json| {
            let record: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(record["seq"], seq);
            seqs.push(seq);
        })
        .unwrap();
    assert_eq!((visited, seqs), (1, vec![1]));
}

#[actix_rt::test]
async fn cancel_fills_every_missing_record_and_purge_removes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir);
    let CreatedJob::Created(job) = create(&writer, 10_000, None).await else {
        panic!()
    };

    assert!(
        !writer
            .send(PurgeJob { key: job.key })
            .await
            .unwrap()
            .unwrap(),
        "active job kept"
    );
    assert!(writer
        .send(FinishCancelled { key: job.key })
        .await
        .unwrap()
        .unwrap());
    let view = store.job_by_key(job.key).unwrap().unwrap().view;
    assert_eq!(
        (view.state, view.done, view.total),
        (JobState::Cancelled, 10_000, 10_000)
    );
    assert_eq!(view.errors.get("cancelled"), Some(&9_999));
    let counts = store.count_jobs_by_state().unwrap();
    assert_eq!(counts, vec![(JobState::Cancelled, 1)]);
    assert!(!writer
        .send(FinishCancelled { key: job.key })
        .await
        .unwrap()
        .unwrap());

    assert!(writer
        .send(PurgeJob { key: job.key })
        .await
        .unwrap()
        .unwrap());
    assert!(store.job_by_key(job.key).unwrap().is_none());
    let visited = store
        .visit_records_after(job.key, None, 10, &RecordFilter::default(), |_, _| {})
        .unwrap();
    assert_eq!(visited, 0);
}

#[actix_rt::test]
async fn idempotency_key_replays_or_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir);
    let CreatedJob::Created(first) = create(&writer, 3, Some(("k", "h1"))).await else {
        panic!()
    };
    let CreatedJob::Replayed(again) = create(&writer, 3, Some(("k", "h1"))).await else {
        panic!()
    };
    assert_eq!(first.view.id, again.view.id);
    assert!(matches!(
        create(&writer, 3, Some(("k", "h2"))).await,
        CreatedJob::KeyReused
    ));
    // Reopening migrates nothing and sees the same jobs.
    let reopened = Store::open(store.path()).unwrap();
    assert_eq!(reopened.active_jobs().unwrap().len(), 1);
}

#[test]
fn a_new_file_has_16_kib_pages_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let page_size: i64 = conn
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!((page_size, journal.as_str()), (16384, "wal"));
}
