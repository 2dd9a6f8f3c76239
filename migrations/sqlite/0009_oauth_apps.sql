-- OAuth client apps: registered by an admin of one organization, each with a redirect URI of
-- its own ({LATCH_PUBLIC_URL}/v1/oauth/callback/{id}), which the upstream's admin registers,
-- so that a consent through the app can only land in that organization. Credentials made by
-- consent and connect sessions name their app.
CREATE TABLE oauth_apps (
    id               BLOB PRIMARY KEY NOT NULL,
    org_id           BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connector        TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT NULL,
    config           TEXT NOT NULL,
    -- Apps made below from the settings of credentials that predate apps keep the one
    -- redirect URI their upstream's admin registered, {LATCH_PUBLIC_URL}/v1/oauth/callback,
    -- until an admin moves them to their own.
    shared_redirect  INTEGER NOT NULL DEFAULT 0 CHECK (shared_redirect IN (0, 1)),
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT oauth_apps_org_name_unique UNIQUE (org_id, name)
);
CREATE INDEX oauth_apps_by_org ON oauth_apps (org_id, id);

ALTER TABLE credentials ADD COLUMN oauth_app_id BLOB NULL
    REFERENCES oauth_apps (id) ON DELETE RESTRICT;
ALTER TABLE connect_sessions ADD COLUMN oauth_app_id BLOB NULL
    REFERENCES oauth_apps (id) ON DELETE CASCADE;
CREATE INDEX credentials_by_oauth_app ON credentials (oauth_app_id);

-- One app per organization, connector and settings of the OAuth credentials and pending
-- sessions there are, named after its client ID and API host.
INSERT INTO oauth_apps
    (id, org_id, connector, name, description, config, shared_redirect, version, created_at,
     updated_at)
SELECT randomblob(16), org_id, connector,
       substr(label, 1, 100) || CASE WHEN n > 1 THEN ' (' || n || ')' ELSE '' END,
       'Made from the settings of credentials connected before OAuth apps',
       config, 1, 1, first_at, first_at
FROM (
    SELECT org_id, connector, config, first_at,
           coalesce(json_extract(config, '$.client_id'), 'app') || ' at '
               || coalesce(json_extract(config, '$.api_host_url'), connector) AS label,
           ROW_NUMBER() OVER (
               PARTITION BY org_id, json_extract(config, '$.client_id'),
                            json_extract(config, '$.api_host_url')
               ORDER BY first_at, config) AS n
    FROM (
        SELECT org_id, connector, config, MIN(created_at) AS first_at
        FROM (
            SELECT org_id, connector, config, created_at FROM credentials
            WHERE auth_method = 'oauth_authorization_code'
            UNION ALL
            SELECT org_id, connector, config, created_at FROM connect_sessions
            WHERE status = 'pending'
        )
        GROUP BY org_id, connector, config
    )
);

UPDATE credentials SET oauth_app_id = (
    SELECT a.id FROM oauth_apps a
    WHERE a.org_id = credentials.org_id AND a.connector = credentials.connector
      AND a.config = credentials.config
) WHERE auth_method = 'oauth_authorization_code';

UPDATE connect_sessions SET oauth_app_id = (
    SELECT a.id FROM oauth_apps a
    WHERE a.org_id = connect_sessions.org_id AND a.connector = connect_sessions.connector
      AND a.config = connect_sessions.config
) WHERE status = 'pending';
