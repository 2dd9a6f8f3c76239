//! The console: plain HTML, CSS and JavaScript modules embedded in the binary. The page is
//! served at `/`; its assets at `/console/` under names that carry a hash of their content,
//! so they can be cached for a year and a new build is never served stale. A module imports
//! another as `./{{name.js}}`, which becomes that module's hashed name: the imported module
//! is hashed first, so a change to it changes the name of every module that imports it.
//! Every other path under `/console/` is a screen of the console and gets the page.

use std::borrow::Cow;
use std::sync::LazyLock;

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::page_headers::secure_page;
use latch_core::CoreError;

/// No inline script or style, nothing from elsewhere, never in a frame.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      img-src 'self'; connect-src 'self'; form-action 'self'; \
                      base-uri 'none'; frame-ancestors 'none'";

struct Asset {
    name: String,
    content_type: &'static str,
    body: Cow<'static, str>,
}

impl Asset {
    fn new(
        stem: &str,
        extension: &str,
        content_type: &'static str,
        body: impl Into<Cow<'static, str>>,
    ) -> Self {
        let body = body.into();
        let digest = Sha256::digest(body.as_bytes());
        let hash: String = digest[..6]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            name: format!("{stem}.{hash}.{extension}"),
            content_type,
            body,
        }
    }
}

struct Console {
    page: String,
    assets: Vec<Asset>,
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The console's modules: `app.js` is the page's; it imports the others, which may import
/// each other (never in a circle: a module's name hashes the names it imports).
const MODULES: &[(&str, &str)] = &[
    ("app", include_str!("../console/app.js")),
    ("ui", include_str!("../console/ui.js")),
    ("forms", include_str!("../console/forms.js")),
    ("consent", include_str!("../console/consent.js")),
    ("credentials", include_str!("../console/credentials.js")),
    ("sources", include_str!("../console/sources.js")),
    ("oauth_apps", include_str!("../console/oauth_apps.js")),
    ("audit", include_str!("../console/audit.js")),
    ("webhooks", include_str!("../console/webhooks.js")),
];

/// The module `stem` with every `{{name.js}}` it imports filled in, those first; its hashed
/// asset is added to `assets` once.
fn module(stem: &str, assets: &mut Vec<Asset>, importing: &mut Vec<String>) -> String {
    let js = format!("{stem}.js");
    if let Some(done) = assets
        .iter()
        .find(|asset| asset.name.starts_with(&format!("{stem}.")))
    {
        return done.name.clone();
    }
    assert!(
        !importing.contains(&js),
        "console modules import in a circle: {importing:?} then {js}"
    );
    let (_, source) = MODULES
        .iter()
        .find(|(name, _)| *name == stem)
        .unwrap_or_else(|| panic!("no console module {js}"));
    importing.push(js);
    let mut body = (*source).to_string();
    while let Some(start) = body.find("{{") {
        let end = start + body[start..].find("}}").expect("an import name ends in }}");
        let imported = body[start + 2..end]
            .strip_suffix(".js")
            .expect("an import names a .js module")
            .to_string();
        let name = module(&imported, assets, importing);
        body.replace_range(start..end + 2, &name);
    }
    importing.pop();
    let asset = Asset::new(stem, "js", JAVASCRIPT, body);
    let name = asset.name.clone();
    assets.push(asset);
    name
}

static CONSOLE: LazyLock<Console> = LazyLock::new(|| {
    let mut assets = Vec::new();
    let script = module("app", &mut assets, &mut Vec::new());
    let style = Asset::new(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_str!("../console/app.css"),
    );
    let page = include_str!("../console/index.html")
        .replace("{{js}}", &script)
        .replace("{{css}}", &style.name);
    assets.push(style);
    Console { page, assets }
});

fn secured(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    secure_page(&mut response, POLICY);
    response
}

/// `GET /`: the console's page, never cached (it names the current assets).
pub async fn page() -> HttpResponse {
    secured(HttpResponse::Ok())
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(CONSOLE.page.as_str())
}

/// `GET /console/{path}`: an asset by its hashed name, cached for a year; any other path
/// without a dot is one of the console's screens (`/console/credentials`, say), answered with
/// the page, whose script shows the screen the address names.
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let Some(asset) = CONSOLE.assets.iter().find(|asset| asset.name == name) else {
        if !name.contains('.') {
            return Ok(page().await);
        }
        return Err(ApiError::Core(CoreError::NotFound(format!(
            "no console asset {name}"
        ))));
    };
    Ok(secured(HttpResponse::Ok())
        .content_type(asset.content_type)
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(&*asset.body))
}

/// Registers the console's routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/").route(web::get().to(page)))
        .service(web::resource("/console").route(web::get().to(page)))
        .service(web::resource("/console/{path:.*}").route(web::get().to(asset)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_or_a_module_names_each_asset_by_a_hash_of_its_content() {
        let console = &*CONSOLE;
        for asset in &console.assets {
            let named = console.page.contains(&format!("/console/{}", asset.name))
                || console
                    .assets
                    .iter()
                    .any(|other| other.body.contains(&format!("\"./{}\"", asset.name)));
            assert!(named, "{} is neither on the page nor imported", asset.name);
            assert!(
                !asset.body.contains("{{"),
                "{} names a module left unfilled",
                asset.name
            );
            let hash = asset.name.split('.').nth(1).unwrap();
            assert_eq!(hash.len(), 12);
            assert!(hash.bytes().all(|byte| byte.is_ascii_hexdigit()));
        }
        assert!(!console.page.contains("{{"));
        assert!(!console.page.contains("<script>"), "no inline script");
        assert_eq!(
            console.assets.len(),
            MODULES.len() + 1,
            "every module is reached"
        );
    }
}
