//! Opaque cursors: a position in a paged read, base64url-encoded so clients treat it
//! as a token. A cursor that does not decode is 400 `invalid_cursor`.

use actix_web::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::ApiError;

/// Encodes "after `position`" (`None` = from the start) under `kind`.
pub(crate) fn encode(kind: char, position: Option<i64>) -> String {
    let text = match position {
        Some(n) => format!("{kind}{n}"),
        None => format!("{kind}-"),
    };
    URL_SAFE_NO_PAD.encode(text)
}

/// Decodes a cursor made by [`encode`] with the same `kind`.
pub(crate) fn decode(kind: char, cursor: &str) -> Result<Option<i64>, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "the cursor is not one this API gave out",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let rest = text.strip_prefix(kind).ok_or_else(invalid)?;
    if rest == "-" {
        return Ok(None);
    }
    rest.parse::<i64>().map(Some).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_foreign_cursors() {
        assert_eq!(decode('r', &encode('r', Some(41))).unwrap(), Some(41));
        assert_eq!(decode('r', &encode('r', None)).unwrap(), None);
        assert!(decode('j', &encode('r', Some(1))).is_err());
        assert!(decode('r', "%%%").is_err());
    }
}
