//! Content decoding with a limit on the decoded size, so a compression bomb (a small
//! gzip, deflate, brotli or zstd body that expands to gigabytes) stops at
//! `fetcher.max_body_bytes` instead of filling memory.

use std::io::Read;

use bytes::Bytes;
use trawl_core::record::{ErrorKind, RecordError};

/// The encodings offered in `Accept-Encoding`, and the only ones decoded.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// Decodes `raw` per its Content-Encoding, reading at most `limit` decoded bytes.
pub(crate) fn decode(encoding: Option<&str>, raw: Bytes, limit: u64) -> Result<Bytes, RecordError> {
    let encoding = encoding.unwrap_or("").trim().to_ascii_lowercase();
    let decoded = match encoding.as_str() {
        "" | "identity" => return Ok(raw),
        "gzip" | "x-gzip" => read_limited(flate2::read::MultiGzDecoder::new(&raw[..]), limit),
        "deflate" => {
            // RFC 9110's deflate is zlib-wrapped; some servers send raw deflate.
            match read_limited(flate2::read::ZlibDecoder::new(&raw[..]), limit) {
                Err(Decode::Corrupt(_)) => {
                    read_limited(flate2::read::DeflateDecoder::new(&raw[..]), limit)
                }
                zlib => zlib,
            }
        }
        "br" => read_limited(
            brotli_decompressor::Decompressor::new(&raw[..], 8192),
            limit,
        ),
        "zstd" => match ruzstd::decoding::StreamingDecoder::new(&raw[..]) {
            Ok(decoder) => read_limited(decoder, limit),
            Err(e) => Err(Decode::Corrupt(e.to_string())),
        },
        other => {
            return Err(RecordError {
                kind: ErrorKind::Protocol,
                message: format!(
                    "the server used content-encoding {other:?}, which was not offered"
                ),
            })
        }
    };
    decoded.map(Bytes::from).map_err(|failure| match failure {
        Decode::TooLarge => RecordError {
            kind: ErrorKind::BodyTooLarge,
            message: format!("the {encoding} body decodes to more than {limit} bytes"),
        },
        Decode::Corrupt(e) => RecordError {
            kind: ErrorKind::Protocol,
            message: format!("the {encoding} body does not decode: {e}"),
        },
    })
}

enum Decode {
    TooLarge,
    Corrupt(String),
}

fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, Decode> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Decode::Corrupt(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(Decode::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Bytes {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        Bytes::from(encoder.finish().unwrap())
    }

    #[test]
    fn gzip_within_the_limit_decodes() {
        let decoded = decode(Some("gzip"), gzip(b"hello world"), 100).unwrap();
        assert_eq!(&decoded[..], b"hello world");
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 50 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024, "the bomb is small: {}", bomb.len());
        let err = decode(Some("gzip"), bomb, 1024 * 1024).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BodyTooLarge);
    }

    #[test]
    fn zlib_and_raw_deflate_bombs_stop_at_the_limit() {
        let data = vec![0u8; 8 * 1024 * 1024];
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        zlib.write_all(&data).unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        raw.write_all(&data).unwrap();
        for bomb in [zlib.finish().unwrap(), raw.finish().unwrap()] {
            let err = decode(Some("deflate"), Bytes::from(bomb), 1024).unwrap_err();
            assert_eq!(err.kind, ErrorKind::BodyTooLarge, "{}", err.message);
        }
    }

    #[test]
    fn corrupt_and_unknown_encodings_are_protocol_errors() {
        assert_eq!(
            decode(Some("gzip"), Bytes::from_static(b"not gzip"), 100)
                .unwrap_err()
                .kind,
            ErrorKind::Protocol
        );
        assert_eq!(
            decode(Some("compress"), Bytes::from_static(b"x"), 100)
                .unwrap_err()
                .kind,
            ErrorKind::Protocol
        );
        assert_eq!(
            &decode(Some("identity"), Bytes::from_static(b"x"), 100).unwrap()[..],
            b"x"
        );
    }
}
