-- Master key rotation: the argon2id cost beside the salt of a passphrase-derived key (so the
-- cost of new keys can be raised), and an index to find the data keys a KEK still wraps.
ALTER TABLE keyring ADD COLUMN kdf_params TEXT NULL;
CREATE INDEX credentials_by_kek ON credentials (kek_id, id);
