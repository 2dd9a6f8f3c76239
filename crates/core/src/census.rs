//! What `/metrics` says of every credential, counted from the store when it is scraped (so
//! every replica answers the same): credentials by connector and status, and how long ago
//! each last got a token.

use chrono::{DateTime, Utc};
use latch_store::{CensusRow, Store, StoreError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the time-since-last-token histogram, in seconds: a minute, five, a quarter
/// of an hour, an hour, six hours, a day, a week.
const AGE_BUCKETS: [f64; 7] = [60.0, 300.0, 900.0, 3600.0, 21_600.0, 86_400.0, 604_800.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CensusLabel {
    connector: String,
    status: String,
}

/// The census as OpenMetrics text, without the closing `# EOF` (the process's own metrics
/// follow it).
pub async fn census_text(store: &dyn Store, now: DateTime<Utc>) -> Result<String, StoreError> {
    let rows = store.credential_census().await?;
    let last_tokens = store.last_tokens().await?;
    Ok(render(&rows, &last_tokens, now))
}

fn render(rows: &[CensusRow], last_tokens: &[DateTime<Utc>], now: DateTime<Utc>) -> String {
    let mut registry = Registry::default();
    let credentials = Family::<CensusLabel, Gauge>::default();
    registry.register(
        "latch_credentials",
        "Credentials of every organization by connector and status",
        credentials.clone(),
    );
    for row in rows {
        credentials
            .get_or_create(&CensusLabel {
                connector: row.connector.clone(),
                status: row.status.clone(),
            })
            .set(row.count);
    }
    let ages = Histogram::new(AGE_BUCKETS);
    registry.register(
        "latch_credential_seconds_since_last_token",
        "How long ago each credential that ever got a token last got one",
        ages.clone(),
    );
    for at in last_tokens {
        ages.observe((now - *at).num_milliseconds().max(0) as f64 / 1000.0);
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    out.strip_suffix("# EOF\n").unwrap_or(&out).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_counted_by_connector_and_status_and_token_ages_fall_in_their_buckets() {
        let now = Utc::now();
        let rows = [
            CensusRow {
                connector: "looker".into(),
                status: "valid".into(),
                count: 3,
            },
            CensusRow {
                connector: "looker".into(),
                status: "degraded".into(),
                count: 1,
            },
        ];
        let text = render(
            &rows,
            &[
                now - chrono::Duration::seconds(30),
                now - chrono::Duration::hours(2),
            ],
            now,
        );
        assert!(text.contains("latch_credentials{connector=\"looker\",status=\"valid\"} 3"));
        assert!(text.contains("latch_credentials{connector=\"looker\",status=\"degraded\"} 1"));
        assert!(text.contains("latch_credential_seconds_since_last_token_bucket{le=\"60.0\"} 1"));
        assert!(text.contains("latch_credential_seconds_since_last_token_bucket{le=\"3600.0\"} 1"));
        assert!(
            text.contains("latch_credential_seconds_since_last_token_bucket{le=\"21600.0\"} 2")
        );
        assert!(text.contains("latch_credential_seconds_since_last_token_count 2"));
        assert!(!text.contains("# EOF"));
    }
}
