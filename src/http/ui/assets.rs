//! The stylesheet and scripts, embedded in the binary (read from disk in debug builds, so an
//! edit shows on reload).
//!
//! The pages name them by fingerprinted URLs, `/static/{fingerprint}/app.css`, where the
//! fingerprint is a hash over every asset's content. Those are served `immutable` for a year: a
//! changed asset changes the fingerprint, so the pages name new URLs. One fingerprint for all
//! assets (not one per file) keeps the modules' relative imports (`./follower.mjs`) inside
//! the same fingerprinted directory, so an imported module is never older than its importer.
//! Plain `/static/app.css` and URLs with an outdated fingerprint (a page from before an
//! upgrade) still answer, with the content hash as the ETag and `no-cache`, so browsers
//! revalidate them cheaply (304) and never run a stale script.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::UiError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Hex characters of the fingerprint in asset URLs.
const FINGERPRINT_LEN: usize = 16;

/// The hash over every embedded asset's name and content.
fn compute_fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut names: Vec<_> = Assets::iter().collect();
    names.sort();
    let mut hasher = Sha256::new();
    for name in names {
        if let Some(file) = Assets::get(&name) {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(file.metadata.sha256_hash());
        }
    }
    hasher.finalize()[..FINGERPRINT_LEN / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The current fingerprint. Release builds embed the assets, so it is computed once; debug
/// builds read them from disk, so it is computed each time and an edit shows on reload.
pub fn fingerprint() -> String {
    if cfg!(debug_assertions) {
        return compute_fingerprint();
    }
    static FINGERPRINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FINGERPRINT.get_or_init(compute_fingerprint).clone()
}

/// The URL the pages use for an asset: `url("app.css")` is `/static/{fingerprint}/app.css`.
pub fn url(path: &str) -> String {
    format!("/static/{}/{path}", fingerprint())
}

/// Splits `{fingerprint}/rest` into the fingerprint and the asset's path, when the first
/// segment has a fingerprint's shape (no asset directory is 16 hex characters long).
fn split_fingerprint(path: &str) -> Option<(&str, &str)> {
    let (first, rest) = path.split_once('/')?;
    let shaped = first.len() == FINGERPRINT_LEN
        && first
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    shaped.then_some((first, rest))
}

/// `GET /static/{*path}`: `{fingerprint}/{asset}` or plain `{asset}`.
pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (immutable, path) = match split_fingerprint(&path) {
        Some((given, asset)) => (given == fingerprint(), asset),
        None => (false, path.as_str()),
    };
    let Some(file) = Assets::get(path) else {
        return UiError::NotFound.into_response();
    };
    let hash = file.metadata.sha256_hash();
    let etag: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{etag}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, content_type(path))],
            file.data.into_owned(),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_styles_get_their_types() {
        assert_eq!(
            content_type("js/follower.mjs"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("odd"), "application/octet-stream");
    }

    #[test]
    fn fingerprinted_paths_are_split_and_others_left_alone() {
        let current = fingerprint();
        assert_eq!(current.len(), FINGERPRINT_LEN);
        let path = format!("{current}/js/follower.mjs");
        assert_eq!(
            split_fingerprint(&path),
            Some((current.as_str(), "js/follower.mjs"))
        );
        assert_eq!(split_fingerprint("js/follower.mjs"), None);
        assert_eq!(split_fingerprint("app.css"), None);
        assert_eq!(split_fingerprint("0123456789ABCDEF/app.css"), None);
        assert_eq!(url("app.css"), format!("/static/{current}/app.css"));
    }

    #[test]
    fn the_assets_the_pages_name_are_embedded() {
        for path in [
            "app.css",
            "js/follower.mjs",
            "js/status-page.mjs",
            "js/jobs-page.mjs",
            "js/topics-page.mjs",
        ] {
            assert!(Assets::get(path).is_some(), "{path} is missing");
        }
    }
}
