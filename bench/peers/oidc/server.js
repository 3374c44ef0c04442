// node-oidc-provider 9 as a peer: its default in-memory adapter, two confidential clients,
// client_credentials and introspection enabled.  The first client's access tokens are
// opaque (no resource indicator is sent), like Mintage's (S1, S3).  The second one is
// given a default resource whose tokens are RFC 9068 JWTs signed with ES256 (S5).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const env = process.env;
const port = Number(env.PORT);
const jwtResource = 'urn:mintage-bench:api';
const client = (id, secret) => ({
  client_id: id,
  client_secret: secret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'read',
  token_endpoint_auth_method: 'client_secret_basic',
});
const clients = [client(env.BENCH_CLIENT_ID, env.BENCH_CLIENT_SECRET)];
if (env.BENCH_JWT_CLIENT_ID) {
  clients.push(client(env.BENCH_JWT_CLIENT_ID, env.BENCH_JWT_CLIENT_SECRET));
}
// Fresh keys per run: RS256 for ID tokens (the default), ES256 for the JWT access tokens.
const jwk = (type, options) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  use: 'sig',
});

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients,
  jwks: {
    keys: [
      { ...jwk('rsa', { modulusLength: 2048 }), alg: 'RS256' },
      { ...jwk('ec', { namedCurve: 'P-256' }), alg: 'ES256' },
    ],
  },
  scopes: ['read'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, c) => (c.clientId === env.BENCH_JWT_CLIENT_ID ? jwtResource : undefined),
      getResourceServerInfo: () => ({
        scope: 'read',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  ttl: { ClientCredentials: 3600 },
});

provider.listen(port, '127.0.0.1');
