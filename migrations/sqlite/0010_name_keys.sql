-- Names are unique in an organization under a folded form (Unicode NFC, case folded, white
-- space runs as one space), so that two records cannot look alike in a list. The form is
-- computed by Latch, which SQL cannot do for all of Unicode: rows stored before this
-- migration get theirs on their organization's first named write, and names that already
-- collide under it are kept as they are.
ALTER TABLE credentials ADD COLUMN name_key TEXT NULL;
ALTER TABLE data_sources ADD COLUMN name_key TEXT NULL;
ALTER TABLE oauth_apps ADD COLUMN name_key TEXT NULL;
CREATE INDEX credentials_by_name_key ON credentials (org_id, name_key);
CREATE INDEX data_sources_by_name_key ON data_sources (org_id, kind, name_key);
CREATE INDEX oauth_apps_by_name_key ON oauth_apps (org_id, name_key);
