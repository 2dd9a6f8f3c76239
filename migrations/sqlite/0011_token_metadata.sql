-- What jobs need besides a token and its connector keeps from the upstream's answer (a
-- Salesforce `instance_url`): never a secret, stored in the clear beside the sealed token.
-- NULL for tokens written before it existed, read as an empty object.
ALTER TABLE credential_tokens ADD COLUMN metadata TEXT NULL;
