// node-oidc-provider 9 as a peer: its default in-memory adapter, one confidential client,
// client_credentials and introspection enabled.  Access tokens for client_credentials
// are opaque (no resource indicator is sent), like Mintage's.
import Provider from 'oidc-provider';

const env = process.env;
const port = Number(env.PORT);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: env.BENCH_CLIENT_ID,
      client_secret: env.BENCH_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'read',
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  scopes: ['read'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
  ttl: { ClientCredentials: 3600 },
});

provider.listen(port, '127.0.0.1');
