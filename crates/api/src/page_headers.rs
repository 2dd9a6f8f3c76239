//! The headers every page Latch serves carries (the console, `/docs`, the OAuth callback's
//! pages): its content policy, no sniffing, never in a frame, no referrer, and a
//! `Cross-Origin-Opener-Policy` so that a page of another origin it opens (the consent screen
//! in a popup) or that opened it can neither reach nor navigate its window.

use actix_web::HttpResponseBuilder;
use actix_web::http::header::{
    CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");

/// Gives `response` the headers of a page under the content security `policy`.
pub(crate) fn secure_page<'a>(
    response: &'a mut HttpResponseBuilder,
    policy: &'static str,
) -> &'a mut HttpResponseBuilder {
    response
        .insert_header((CONTENT_SECURITY_POLICY, policy))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((X_FRAME_OPTIONS, "DENY"))
        .insert_header((REFERRER_POLICY, "no-referrer"))
        .insert_header((CROSS_ORIGIN_OPENER_POLICY, "same-origin"))
}
