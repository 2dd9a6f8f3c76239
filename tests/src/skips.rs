//! Saying loudly, once per test binary, that a suite was skipped: libtest captures what a
//! passing test prints, so a skip said with `eprintln!` would vanish and the test would show
//! as a silent "ok". These lines go to the process's standard error directly.

use std::io::Write;
use std::sync::Once;

static POSTGRES: Once = Once::new();
static BROWSER: Once = Once::new();
static OIDC_PROVIDER: Once = Once::new();
static WEBHOOK_VERIFIER: Once = Once::new();

/// Says once that the PostgreSQL half of the suites did not run.
pub fn postgres() {
    POSTGRES.call_once(|| {
        say("SKIPPED postgres: LATCH_TEST_POSTGRES_URL is not set; every `postgres::` test passes without running");
    });
}

/// Says once that the browser suites did not run.
pub fn browser(why: &str) {
    BROWSER.call_once(|| {
        say(&format!(
            "SKIPPED browser: {why}; every browser test passes without running"
        ));
    });
}

/// Says once that the suite against panva's `oidc-provider` did not run.
pub fn oidc_provider(why: &str) {
    OIDC_PROVIDER.call_once(|| {
        say(&format!(
            "SKIPPED oidc-provider: {why}; every oidc_provider test passes without running"
        ));
    });
}

/// Says once that the webhook tests, which verify deliveries with standardwebhooks, did not run.
pub fn webhook_verifier() {
    WEBHOOK_VERIFIER.call_once(|| {
        say("SKIPPED webhook-verifier: .venv/webhooks is missing (tests/webhook-verifier/install); every webhook delivery test passes without running");
    });
}

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "\n!!!!! {line} !!!!!\n");
}
