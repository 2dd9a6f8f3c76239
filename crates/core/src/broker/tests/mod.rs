//! The broker without HTTP and without waiting out its timings: a real SQLite store, a
//! connector that counts its logins and answers as told, and a clock that moves only when
//! told (or when the broker sleeps, which moves it at once).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use latch_connector::oauth::OAuthFlow;
use latch_connector::{
    AccessToken, AuthMethod, Connector, EgressClient, EgressPolicy, FieldError, FieldSpec, Fields,
    SecretFields, UpstreamError, ValidationOutcome, ValidationStatus,
};
use latch_store::{CredentialStatus, NewAuditEvent, NewCredential, Store};
use latch_vault::{ExposeSecret, Kek, Keyring, MasterKey, Purpose, RecordContext, SecretString};
use serde_json::json;
use tokio::sync::Notify;
use uuid::Uuid;

use super::{BrokerConfig, BrokerDeps, Clock, TokenBroker, TokenWish};
use crate::catalogue::Catalogue;
use crate::change_feed::{ChangeFeed, STALENESS};
use crate::error::CoreError;
use crate::metrics::Metrics;
use crate::secrets::Secrets;

/// Time shared by every replica of a test: it stands still until the test moves it.
struct Time {
    start: Instant,
    at: Mutex<(DateTime<Utc>, Duration)>,
    moved: Notify,
}

impl Time {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            at: Mutex::new((latch_store::now(), Duration::ZERO)),
            moved: Notify::new(),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.at.lock().unwrap().0
    }

    fn instant(&self) -> Instant {
        self.start + self.at.lock().unwrap().1
    }

    /// Moves time on by `by` and gives the tasks it wakes a moment of real time to run.
    async fn advance(&self, by: Duration) {
        {
            let mut at = self.at.lock().unwrap();
            at.0 += chrono::Duration::from_std(by).unwrap();
            at.1 += by;
        }
        self.moved.notify_waiters();
        settle().await;
    }

    /// Moves time on by `by`, one `step` at a time.
    async fn advance_in_steps(&self, by: Duration, step: Duration) {
        let mut moved = Duration::ZERO;
        while moved < by {
            self.advance(step).await;
            moved += step;
        }
    }
}

/// One replica's view of the shared time. A frozen replica's sleeps do not end, as if its
/// process had stopped.
struct ManualClock {
    time: Arc<Time>,
    frozen: Arc<AtomicBool>,
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.time.now()
    }

    fn instant(&self) -> Instant {
        self.time.instant()
    }

    fn sleep(
        &self,
        duration: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        let (time, frozen) = (self.time.clone(), self.frozen.clone());
        let deadline = time.instant() + duration;
        Box::pin(async move {
            loop {
                let moved = time.moved.notified();
                tokio::pin!(moved);
                moved.as_mut().enable();
                if time.instant() >= deadline && !frozen.load(Ordering::SeqCst) {
                    return;
                }
                moved.await;
            }
        })
    }
}

/// A moment of real time for the store's threads and the tasks they wake.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// How the fake upstream answers the next logins.
#[derive(Clone, Copy)]
enum Answer {
    Token {
        expires_in: u64,
    },
    Refused,
    Down,
    /// 429 with `Retry-After`.
    RateLimited {
        retry_after: u64,
    },
}

/// An upstream that counts logins, hands out `t-1`, `t-2`, ..., and, when gated, holds
/// login `n` until `release(n)`. As an OAuth server it takes only its current refresh token
/// (`r-0` first) and rotates it with every refresh: login `n` answers `r-n`.
struct Upstream {
    logins: AtomicU64,
    refresh_token: Mutex<String>,
    answer: Mutex<Answer>,
    released: Mutex<HashSet<u64>>,
    wake: Notify,
    gated: bool,
    revoked: Mutex<Vec<String>>,
}

impl Upstream {
    fn new(gated: bool) -> Arc<Self> {
        Arc::new(Self {
            logins: AtomicU64::new(0),
            refresh_token: Mutex::new("r-0".into()),
            answer: Mutex::new(Answer::Token { expires_in: 3600 }),
            released: Mutex::new(HashSet::new()),
            wake: Notify::new(),
            gated,
            revoked: Mutex::new(Vec::new()),
        })
    }

    fn logins(&self) -> u64 {
        self.logins.load(Ordering::SeqCst)
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Lets login `n` answer.
    fn release(&self, n: u64) {
        self.released.lock().unwrap().insert(n);
        self.wake.notify_waiters();
    }

    async fn held(&self, n: u64) {
        loop {
            let woken = self.wake.notified();
            if self.released.lock().unwrap().contains(&n) {
                return;
            }
            woken.await;
        }
    }
}

struct FakeConnector(Arc<Upstream>);

#[async_trait]
impl Connector for FakeConnector {
    fn id(&self) -> &'static str {
        "fake"
    }
    fn name(&self) -> &'static str {
        "Fake"
    }
    fn description(&self) -> &'static str {
        "An upstream for broker tests."
    }
    fn docs_url(&self) -> &'static str {
        "https://example.com"
    }
    fn config_fields(&self) -> &'static [FieldSpec] {
        &[]
    }
    fn secret_fields(&self) -> &'static [FieldSpec] {
        &[]
    }
    fn auth_methods(&self) -> &'static [AuthMethod] {
        &[
            AuthMethod::ClientCredentials,
            AuthMethod::OauthAuthorizationCode,
        ]
    }
    fn normalize_config(&self, config: Fields) -> Result<Fields, Vec<FieldError>> {
        Ok(config)
    }

    async fn fetch_token(
        &self,
        _: &EgressClient,
        _: &Fields,
        _: &SecretFields,
    ) -> Result<AccessToken, UpstreamError> {
        let n = self.0.logins.fetch_add(1, Ordering::SeqCst) + 1;
        if self.0.gated {
            self.0.held(n).await;
        }
        let answer = *self.0.answer.lock().unwrap();
        match answer {
            Answer::Token { expires_in } => Ok(AccessToken::new(
                SecretString::from(format!("t-{n}")),
                "Bearer",
                Some(expires_in),
            )),
            Answer::Refused => Err(UpstreamError {
                status: ValidationStatus::Invalid,
                detail: "the upstream refused the credential".into(),
                retry_after: None,
                blocked: false,
            }),
            Answer::Down => Err(UpstreamError {
                status: ValidationStatus::Unreachable,
                detail: "the upstream is down".into(),
                retry_after: None,
                blocked: false,
            }),
            Answer::RateLimited { retry_after } => Err(UpstreamError {
                status: ValidationStatus::Error,
                detail: "the upstream is rate limiting".into(),
                retry_after: Some(retry_after),
                blocked: false,
            }),
        }
    }

    async fn test_login(
        &self,
        _: &EgressClient,
        _: &Fields,
        _: &SecretFields,
    ) -> ValidationOutcome {
        unreachable!("the broker never test-logs-in")
    }

    async fn revoke(&self, _: &EgressClient, _: &Fields, _: &SecretFields, token: &SecretString) {
        self.0
            .revoked
            .lock()
            .unwrap()
            .push(token.expose_secret().to_string());
    }

    fn oauth(&self) -> Option<&dyn OAuthFlow> {
        Some(self)
    }
}

/// One replica: its own broker and clock, on a shared store, upstream and time.
struct Replica {
    broker: TokenBroker,
    frozen: Arc<AtomicBool>,
}

impl Replica {
    async fn token(&self, org_id: Uuid, id: Uuid, wish: TokenWish) -> Result<String, CoreError> {
        self.broker
            .token(org_id, id, wish)
            .await
            .map(|issued| issued.token.expose_secret().to_string())
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    upstream: Arc<Upstream>,
    time: Arc<Time>,
    org_id: Uuid,
    credential_id: Uuid,
}

impl World {
    async fn new(gated: bool) -> Self {
        Self::create(gated, AuthMethod::ClientCredentials).await
    }

    async fn create(gated: bool, auth_method: AuthMethod) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/latch.db", dir.path().display());
        let store = latch_store::connect(&url).await.unwrap();
        let keyring = Arc::new(Keyring::new(Kek::new(
            "kek-1",
            MasterKey::generate().unwrap(),
        )));
        let org = store.ensure_organization("acme").await.unwrap();
        let credential_id = Uuid::now_v7();
        let context = RecordContext::new(org.id, credential_id);
        let (data_key, wrapped) = keyring.generate_data_key(&context).unwrap();
        let sealed = data_key.seal(&context, Purpose::Secret, b"{}").unwrap();
        store
            .insert_credential(
                &NewCredential {
                    id: credential_id,
                    org_id: org.id,
                    connector: "fake".into(),
                    name: "fake".into(),
                    description: None,
                    config: json!({}),
                    secret_ct: sealed.ciphertext,
                    secret_nonce: sealed.nonce,
                    wrapped_dek: wrapped.bytes,
                    kek_id: wrapped.kek_id,
                    status: CredentialStatus::Valid,
                    status_detail: None,
                    identity: None,
                    validated_at: None,
                    oauth_app_id: None,
                    auth_method: auth_method.as_str().into(),
                },
                &NewAuditEvent {
                    org_id: Some(org.id),
                    actor_key_id: None,
                    action: "credential.created".into(),
                    target_type: "credential".into(),
                    target_id: None,
                    outcome: "success".into(),
                    detail: json!({}),
                },
            )
            .await
            .unwrap();
        Self {
            _dir: dir,
            store,
            keyring,
            upstream: Upstream::new(gated),
            time: Time::new(),
            org_id: org.id,
            credential_id,
        }
    }

    fn replica(&self) -> Arc<Replica> {
        let metrics = Arc::new(Metrics::default());
        let frozen = Arc::new(AtomicBool::new(false));
        let clock = Arc::new(ManualClock {
            time: self.time.clone(),
            frozen: frozen.clone(),
        });
        Arc::new(Replica {
            frozen,
            broker: TokenBroker::new(
                BrokerDeps {
                    store: self.store.clone(),
                    secrets: Secrets::new(
                        self.keyring.clone(),
                        Catalogue::new(vec![Arc::new(FakeConnector(self.upstream.clone()))]),
                    ),
                    egress: EgressClient::new(EgressPolicy::default()).unwrap(),
                    changes: Arc::new(ChangeFeed::new(0, STALENESS)),
                    redirect_uri: "http://127.0.0.1:9/v1/oauth/callback".into(),
                },
                metrics,
                BrokerConfig::default(),
                clock,
            ),
        })
    }

    async fn token(&self, replica: &Replica, wish: TokenWish) -> Result<String, CoreError> {
        replica.token(self.org_id, self.credential_id, wish).await
    }
}

/// A token request of `replica`'s, running on its own.
fn spawn_token(
    world: &Arc<World>,
    replica: &Arc<Replica>,
) -> tokio::task::JoinHandle<Result<String, CoreError>> {
    let (world, replica) = (world.clone(), replica.clone());
    tokio::spawn(async move { world.token(&replica, wish(300)).await })
}

fn wish(min_ttl: u64) -> TokenWish {
    TokenWish {
        min_ttl: Duration::from_secs(min_ttl),
        force_refresh: false,
        rejected: None,
    }
}

/// Lets spawned requests run until `done` holds. The store answers from threads of its own,
/// so this gives them real time (a millisecond at a time, five seconds at most); the broker's
/// own waits end only when the test moves time.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..5_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test]
async fn requests_on_a_cold_cache_share_one_login() {
    let world = Arc::new(World::new(true).await);
    let replica = world.replica();
    let requests: Vec<_> = (0..20).map(|_| spawn_token(&world, &replica)).collect();
    until("the first login", || world.upstream.logins() == 1).await;
    world.upstream.release(1);
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap(), "t-1");
    }
    assert_eq!(world.upstream.logins(), 1);
}

#[tokio::test]
async fn a_token_is_handed_out_while_exactly_min_ttl_is_left_and_refreshed_a_second_later() {
    let world = World::new(false).await;
    world.upstream.answer(Answer::Token { expires_in: 600 });
    let replica = world.replica();
    assert_eq!(world.token(&replica, wish(300)).await.unwrap(), "t-1");
    world.time.advance(Duration::from_secs(300)).await;
    assert_eq!(world.token(&replica, wish(300)).await.unwrap(), "t-1");
    world.time.advance(Duration::from_secs(1)).await;
    assert_eq!(world.token(&replica, wish(300)).await.unwrap(), "t-2");
    assert_eq!(world.upstream.logins(), 2);
}

/// The `Retry-After` of a failed token request.
fn waited(result: Result<String, CoreError>) -> u64 {
    match result {
        Err(CoreError::Unavailable {
            retry_after: Some(seconds),
            ..
        }) => seconds,
        other => panic!("not a wait: {other:?}"),
    }
}

#[tokio::test]
async fn failed_logins_back_off_doubling_from_one_second_up_to_the_cap() {
    let world = World::new(false).await;
    world.upstream.answer(Answer::Down);
    let replica = world.replica();
    // Each wait is drawn between half and all of 1, 2, 4, 8, then 10 (the cap) seconds.
    let mut logins = 0;
    for full in [1u64, 2, 4, 8, 10, 10] {
        let wait = waited(world.token(&replica, wish(300)).await);
        logins += 1;
        assert_eq!(world.upstream.logins(), logins);
        assert!((full.div_ceil(2)..=full).contains(&wait), "{full}: {wait}");
        // Asking again during the wait fails fast, without calling the upstream.
        assert!(world.token(&replica, wish(300)).await.is_err());
        assert_eq!(world.upstream.logins(), logins, "no login while waiting");
        world.time.advance(Duration::from_secs(wait)).await;
    }
    world.upstream.answer(Answer::Token { expires_in: 3600 });
    assert_eq!(world.token(&replica, wish(300)).await.unwrap(), "t-7");
    // A token resets the backoff: once it has expired, the next failure waits a second at
    // most again.
    world.upstream.answer(Answer::Down);
    world.time.advance(Duration::from_secs(3600)).await;
    let wait = waited(world.token(&replica, wish(300)).await);
    assert!(wait <= 1, "{wait}");
}

#[tokio::test]
async fn a_rate_limited_login_is_not_tried_again_before_retry_after_and_soon_after_it() {
    let world = World::new(false).await;
    world
        .upstream
        .answer(Answer::RateLimited { retry_after: 30 });
    let replica = world.replica();
    assert_eq!(waited(world.token(&replica, wish(300)).await), 30);
    world.time.advance(Duration::from_secs(29)).await;
    assert!(world.token(&replica, wish(300)).await.is_err());
    assert_eq!(
        world.upstream.logins(),
        1,
        "nothing before Retry-After passes"
    );
    world.upstream.answer(Answer::Token { expires_in: 3600 });
    world.time.advance(Duration::from_secs(1)).await;
    assert_eq!(world.token(&replica, wish(300)).await.unwrap(), "t-2");
}

#[tokio::test]
async fn a_refused_credential_is_remembered_and_not_tried_again() {
    let world = World::new(false).await;
    world.upstream.answer(Answer::Refused);
    let replica = world.replica();
    for _ in 0..3 {
        let refused = world.token(&replica, wish(300)).await;
        assert!(
            matches!(refused, Err(CoreError::CredentialInvalid(_))),
            "{refused:?}"
        );
    }
    assert_eq!(world.upstream.logins(), 1);
    let stored = world
        .store
        .get_credential(world.org_id, world.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, CredentialStatus::Invalid);
    // Even once the cool-down is over: the store says invalid until someone fixes it.
    world.time.advance(Duration::from_secs(3600)).await;
    assert!(world.token(&replica, wish(300)).await.is_err());
    assert_eq!(world.upstream.logins(), 1);
}

#[tokio::test]
async fn a_replica_waiting_for_another_s_login_hands_out_the_winner_s_token() {
    let world = Arc::new(World::new(true).await);
    let (winner, waiter) = (world.replica(), world.replica());
    let first = spawn_token(&world, &winner);
    until("the winner's login", || world.upstream.logins() == 1).await;
    let second = spawn_token(&world, &waiter);
    // The waiter polls every 50 ms while the login is held; then the winner writes.
    world
        .time
        .advance_in_steps(Duration::from_millis(500), Duration::from_millis(50))
        .await;
    assert!(!second.is_finished(), "the waiter waits for the winner");
    world.upstream.release(1);
    assert_eq!(first.await.unwrap().unwrap(), "t-1");
    until_with_time(&world.time, "the waiter's answer", || second.is_finished()).await;
    assert_eq!(second.await.unwrap().unwrap(), "t-1");
    assert_eq!(world.upstream.logins(), 1);
}

/// As `until`, moving time on by 50 ms between looks: for requests that wait by polling.
async fn until_with_time(time: &Time, what: &str, done: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        time.advance(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test]
async fn a_lease_is_renewed_while_a_slow_login_runs_so_no_second_login_starts() {
    let world = Arc::new(World::new(true).await);
    let (slow, waiter) = (world.replica(), world.replica());
    let first = spawn_token(&world, &slow);
    until("the slow login", || world.upstream.logins() == 1).await;
    // Past the 30 s the lease was first taken for: renewed every 10 s, it holds.
    world
        .time
        .advance_in_steps(Duration::from_secs(45), Duration::from_secs(1))
        .await;
    let second = spawn_token(&world, &waiter);
    world
        .time
        .advance_in_steps(Duration::from_secs(1), Duration::from_millis(50))
        .await;
    assert_eq!(world.upstream.logins(), 1, "the lease held");
    world.upstream.release(1);
    assert_eq!(first.await.unwrap().unwrap(), "t-1");
    until_with_time(&world.time, "the waiter's answer", || second.is_finished()).await;
    assert_eq!(second.await.unwrap().unwrap(), "t-1");
    assert_eq!(world.upstream.logins(), 1);
}

/// A token request whose login (login 1) is under way when its replica's whole process
/// stalls past the lease (it renews nothing), and another replica's request, which takes
/// over and logs in (login 2): the successor replica and both requests, neither answered.
async fn a_lease_lapses_mid_login(
    world: &Arc<World>,
) -> (
    Arc<Replica>,
    tokio::task::JoinHandle<Result<String, CoreError>>,
    tokio::task::JoinHandle<Result<String, CoreError>>,
) {
    let (stalled, successor) = (world.replica(), world.replica());
    let late = spawn_token(world, &stalled);
    until("the stalled login", || world.upstream.logins() == 1).await;
    stalled.frozen.store(true, Ordering::SeqCst);
    world.time.advance(Duration::from_secs(31)).await;
    let taken_over = spawn_token(world, &successor);
    until("the successor's login", || world.upstream.logins() == 2).await;
    (successor, late, taken_over)
}

#[tokio::test]
async fn a_lease_that_lapses_while_its_holder_stalls_passes_on_and_the_late_session_is_logged_out()
{
    let world = Arc::new(World::new(true).await);
    let (_, late, taken_over) = a_lease_lapses_mid_login(&world).await;
    world.upstream.release(2);
    assert_eq!(taken_over.await.unwrap().unwrap(), "t-2");
    // Now the stalled login answers, too late.
    world.upstream.release(1);
    let late = late.await.unwrap();
    // The stalled holder's write was refused: it hands out the winner's token and its own
    // session is logged out upstream.
    assert_eq!(late.unwrap(), "t-2");
    until("the late session's logout", || {
        world
            .upstream
            .revoked
            .lock()
            .unwrap()
            .contains(&"t-1".to_string())
    })
    .await;
}

mod rotation;
