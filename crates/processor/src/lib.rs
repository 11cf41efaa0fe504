//! Trawl's processor: turns the raw outcome of a fetch into the record of the contract.
//!
//! A [`Processor`] actor runs on a `SyncArbiter` (parsing is CPU work) and answers a
//! [`ProcessBatch`](trawl_core::fetch::ProcessBatch) with one stored record per outcome
//! ([`Processor::process_batch`]). It hashes the batch's bodies four at a time, side by
//! side, and builds each group's records right after: decode the body, keep a JSON body
//! as its original text, read what an HTML page says about itself in one streaming
//! pass, and evaluate the job's extraction rules, compiled once per job
//! ([`CompiledRules`]). The API calls [`CompiledRules::compile`] to reject a bad rule
//! at submission time.
//!
//! # Layout
//! - [`processor`](Processor): the actor, with its per-job cache of compiled rules.
//! - `record`: `process`, which assembles a record from an outcome.
//! - `digest`: the SHA-256 of a batch's bodies, several side by side.
//! - `decode`: content types (untyped HTML sniffed), the encoding (header, BOM, the
//!   HTML standard's prescan) and decoding.
//! - `json`: JSON bodies kept as their text, and JSON Pointers evaluated on it.
//! - `json_check`: the one-pass check that a body is valid JSON, within a depth.
//! - `html`: an HTML page's summary, links, visible text and CSS rule values.
//! - `scan`: the fast tokenizer that every HTML record pays for.
//! - `namespace`: the foreign content of `<svg>` and `<math>`, followed as lol_html does.
//! - `summary`: the summary and link targets, gathered during that pass.
//! - `visible`: the visible text, gathered during that pass.
//! - `links`: link targets made absolute, with a fast path for the plain forms.
//! - `select`: the CSS selectors the fast pass evaluates itself.
//! - `capture`: CSS rule values, and their evaluation during the fast pass.
//! - `rules`: extraction rules, compiled and evaluated; [`RuleError`].
//! - `text`: entity decoding and whitespace collapsing shared by the above.
//!
//! Every oddity that does not fail a fetch becomes a note on the record; the codes are
//! `undecodable_bytes`, `invalid_json`, `json_too_deep`, `html_parse_error`,
//! `text_truncated`, `body_base64`, `body_truncated`, `extract_truncated` and
//! `invalid_rule`, and `processing_failed` when processing a body panicked (the thread
//! survives and the URL keeps its record).
#![deny(missing_docs)]

mod capture;
mod decode;
mod digest;
mod html;
mod json;
mod json_check;
mod links;
mod namespace;
mod processor;
#[cfg(test)]
mod random_cases;
mod record;
mod rules;
mod scan;
mod select;
mod summary;
mod text;
mod visible;

pub use processor::Processor;
pub use rules::{CompiledRules, RuleError};
