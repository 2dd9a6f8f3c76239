// panva's oidc-provider (OpenID Certified), run by the end-to-end suite as an authorization
// server Latch had no hand in, for the generic `oauth2` connector.
//
// It listens on 127.0.0.1 on a port of the system's choosing and prints one JSON line,
// {"issuer": "http://127.0.0.1:PORT"}, then one line per event the suite watches
// ({"event": "grant.revoked"}, ...). Clients are registered by the suite at run time through
// the server's own Dynamic Client Registration (RFC 7591) and updated through its
// Registration Management (RFC 7592), as an admin registers a client and then adds the
// redirect URI Latch shows for its app.
//
// One person, "ada" (Ada Lovelace), approves every consent: the interaction route below signs
// her in and grants what the client asked, where a real deployment shows its login and consent
// forms (the library's own example does the same through forms).
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const ACCOUNT = { sub: 'ada', name: 'Ada Lovelace' };

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'latch-suite', use: 'sig', alg: 'RS256' };

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  scopes: ['openid', 'profile', 'offline_access', 'read', 'write'],
  claims: { openid: ['sub'], profile: ['name'] },
  async findAccount(ctx, sub) {
    if (sub !== ACCOUNT.sub) return undefined;
    return { accountId: sub, claims: async () => ({ ...ACCOUNT }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // PKCE on every authorization code request (RFC 7636; OAuth 2.1 asks it of every client).
  pkce: { methods: ['S256'], required: () => true },
  // A refresh token for every client allowed the refresh_token grant, `offline_access` or not,
  // and a new one at each refresh: the old one is spent, and spending it twice ends the grant.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    Grant: 86400,
    IdToken: 600,
    Interaction: 600,
    RefreshToken: 86400,
    Session: 86400,
  },
});

for (const event of [
  'grant.success',
  'grant.error',
  'grant.revoked',
  'refresh_token.consumed',
  'revocation.error',
  'server_error',
]) {
  provider.on(event, (ctx, detail) => {
    const line = { event };
    if (detail instanceof Error) line.error = `${detail.name}: ${detail.message}`;
    console.log(JSON.stringify(line));
  });
}

async function approve(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: ACCOUNT.sub } };
  } else if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    throw new Error(`no answer for the prompt ${prompt.name}`);
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/token') {
    // How the client authenticated: the server takes a secret either way, so the suite
    // tells client_secret_basic from client_secret_post by this line.
    const basic = /^basic /i.test(req.headers.authorization ?? '');
    console.log(JSON.stringify({ event: basic ? 'token_request.basic' : 'token_request.no_basic' }));
  }
  if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
    approve(req, res).catch((error) => {
      res.statusCode = 400;
      res.setHeader('content-type', 'text/plain');
      res.end(`interaction failed: ${error.message}`);
    });
    return;
  }
  callback(req, res);
});

console.log(JSON.stringify({ issuer }));
