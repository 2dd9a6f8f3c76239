"""The generated Python client against a live Latch, as a platform would use it: save a
credential (and see a refused one come back as the typed problem), create a data source
over it, make a job key, and get that source's token with the key.

`latch-clients` runs this with the server's address, an admin key and mock-looker's
address and API key in the environment, and the generated package on PYTHONPATH.
"""

import os
import sys
import uuid

from latch_client import AuthenticatedClient
from latch_client.api.credentials import create_credential
from latch_client.api.data_sources import (
    create_data_source,
    create_job_key_for_data_source,
    issue_token_for_data_source,
)
from latch_client.models import (
    CreateCredentialRequestLooker,
    CreateCredentialRequestLookerConnector,
    CreateDataSourceRequest,
    CreateDataSourceRequestConfigType0,
    CreateDataSourceRequestConnector,
    CreateJobKeyRequest,
    CreatedApiKey,
    CredentialView,
    DataSourceView,
    LookerConfig,
    LookerSecrets,
    Problem,
    TokenRequest,
    TokenResponse,
)


def expect(condition: bool, what: str) -> None:
    if not condition:
        print(f"drive.py: {what}", file=sys.stderr)
        sys.exit(1)


def credential(name: str, secret: str) -> CreateCredentialRequestLooker:
    return CreateCredentialRequestLooker(
        name=name,
        connector=CreateCredentialRequestLookerConnector.LOOKER,
        config=LookerConfig(
            api_host_url=os.environ["LOOKER_URL"],
            client_id=os.environ["LOOKER_CLIENT_ID"],
        ),
        secrets=LookerSecrets(client_secret=secret),
    )


def main() -> None:
    admin = AuthenticatedClient(base_url=os.environ["LATCH_URL"], token=os.environ["LATCH_KEY"])

    saved = create_credential.sync_detailed(
        client=admin, body=credential("Looker production", os.environ["LOOKER_CLIENT_SECRET"])
    )
    expect(saved.status_code == 201, f"saving a credential answered {saved.status_code}: {saved.content!r}")
    expect(isinstance(saved.parsed, CredentialView), f"a saved credential reads as {saved.parsed!r}")
    expect(saved.parsed.status.value == "valid", f"the credential is {saved.parsed.status}")

    refused = create_credential.sync_detailed(
        client=admin, body=credential("Looker with a wrong secret", "not-the-secret")
    )
    expect(refused.status_code == 422, f"a refused credential answered {refused.status_code}")
    problem = refused.parsed
    expect(isinstance(problem, Problem), f"a refusal reads as {problem!r}")
    expect(problem.type_ == "urn:latch:problem:credential_rejected", f"the problem is {problem.type_}")
    expect(problem.outcome.status == "invalid", f"the outcome is {problem.outcome!r}")

    config = CreateDataSourceRequestConfigType0.from_dict({"look_ids": [12, 31], "folder": {"name": "exports"}})
    source = create_data_source.sync_detailed(
        client=admin,
        body=CreateDataSourceRequest(
            name=f"Usage exports {uuid.uuid4().hex[:8]}",
            connector=CreateDataSourceRequestConnector.LOOKER,
            credential_id=saved.parsed.id,
            config=config,
        ),
    )
    expect(source.status_code == 201, f"creating a data source answered {source.status_code}: {source.content!r}")
    expect(isinstance(source.parsed, DataSourceView), f"a data source reads as {source.parsed!r}")
    expect(source.parsed.config["folder"] == {"name": "exports"}, f"its config is {source.parsed.config!r}")

    job_key = create_job_key_for_data_source.sync_detailed(
        source.parsed.id, client=admin, body=CreateJobKeyRequest(name="nightly export")
    )
    expect(job_key.status_code == 201, f"making a job key answered {job_key.status_code}")
    expect(isinstance(job_key.parsed, CreatedApiKey), f"a job key reads as {job_key.parsed!r}")

    job = AuthenticatedClient(base_url=os.environ["LATCH_URL"], token=job_key.parsed.key)
    # The body is optional for the server; the generated call needs one (it sends its
    # "unset" marker as JSON otherwise).
    token = issue_token_for_data_source.sync_detailed(
        source.parsed.id, client=job, body=TokenRequest(min_ttl_seconds=600)
    )
    expect(token.status_code == 200, f"the source's token answered {token.status_code}: {token.content!r}")
    expect(isinstance(token.parsed, TokenResponse), f"a token reads as {token.parsed!r}")
    expect(len(token.parsed.access_token) > 0, "the token is empty")
    expect(token.parsed.token_type == "Bearer", f"the token type is {token.parsed.token_type}")
    expect(token.parsed.expires_in >= 600, f"the token lives {token.parsed.expires_in} s")
    expect(token.parsed.metadata.to_dict() == {}, f"Looker's token has metadata {token.parsed.metadata!r}")
    print("clients: the Python client saved a credential, made a data source and a job key, and got its token")


if __name__ == "__main__":
    main()
