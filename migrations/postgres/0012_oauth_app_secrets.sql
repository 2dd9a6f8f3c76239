-- A confidential OAuth client's secret, sealed with a data key of the app's own (bound to
-- the app's id and organization) exactly as a credential's secrets are. All four are NULL
-- for an app with no secret (a public client, such as Looker's OAuth client apps), and set
-- together otherwise.
ALTER TABLE oauth_apps ADD COLUMN kek_id TEXT NULL;
ALTER TABLE oauth_apps ADD COLUMN wrapped_dek BYTEA NULL;
ALTER TABLE oauth_apps ADD COLUMN secret_nonce BYTEA NULL;
ALTER TABLE oauth_apps ADD COLUMN secret_ct BYTEA NULL;
