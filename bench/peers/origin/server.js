'use strict';
// The origin's server, as the origin sets it up: express + oauth2-server 3.1.1 with a
// minimal in-memory model and accessTokenLifetime 3600.  Maps keep every lookup O(1), the
// kindest in-memory model a peer can have.  Secrets are compared as plain strings, as
// such models do.  Only the `/_bench/seed` route is ours: it loads pre-minted refresh
// tokens for the refresh-rotation scenario (S4) and is not on any measured path.
const fs = require('fs');
const express = require('express');
const OAuth2Server = require('oauth2-server');

const { Request, Response } = OAuth2Server;
const env = process.env;
const client = {
  id: env.BENCH_CLIENT_ID,
  clientSecret: env.BENCH_CLIENT_SECRET,
  grants: ['client_credentials', 'password', 'refresh_token'],
  redirectUris: [],
};
const user = { id: 'bench-user', username: 'bench', password: env.BENCH_USER_PASSWORD };
const accessTokens = new Map();
const refreshTokens = new Map();

const model = {
  async getClient(clientId, clientSecret) {
    if (clientId !== client.id) return null;
    if (clientSecret != null && clientSecret !== client.clientSecret) return null;
    return client;
  },
  async getUserFromClient() {
    return { id: client.id };
  },
  async getUser(username, password) {
    return username === user.username && password === user.password ? user : null;
  },
  async saveToken(token, c, u) {
    const saved = { ...token, client: c, user: u };
    accessTokens.set(token.accessToken, saved);
    if (token.refreshToken) refreshTokens.set(token.refreshToken, saved);
    return saved;
  },
  async getAccessToken(accessToken) {
    return accessTokens.get(accessToken) || null;
  },
  async getRefreshToken(refreshToken) {
    return refreshTokens.get(refreshToken) || null;
  },
  async revokeToken(token) {
    return refreshTokens.delete(token.refreshToken);
  },
};

const oauth = new OAuth2Server({ model, accessTokenLifetime: 3600 });
const app = express();
app.use(express.urlencoded({ extended: false }));

function fail(res, err) {
  res.status(err.code || 500).json({ error: err.name, error_description: err.message });
}

app.post('/oauth/token', async (req, res) => {
  const response = new Response(res);
  try {
    await oauth.token(new Request(req), response);
    res.set(response.headers).status(response.status).json(response.body);
  } catch (err) {
    fail(res, err);
  }
});

app.get('/resource', async (req, res) => {
  try {
    const token = await oauth.authenticate(new Request(req), new Response(res));
    res.json({ client_id: token.client.id, sub: token.user.id, scope: token.scope });
  } catch (err) {
    fail(res, err);
  }
});

app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

// Bench-only: replace the previous pool with refresh tokens read from a file (one a line).
let seeded = [];
app.post('/_bench/seed', express.json(), (req, res) => {
  for (const value of seeded) refreshTokens.delete(value);
  seeded = fs.readFileSync(req.body.file, 'utf8').split('\n').filter(Boolean);
  const expires = new Date(Date.now() + 14 * 24 * 3600 * 1000);
  for (const refreshToken of seeded) {
    refreshTokens.set(refreshToken, {
      refreshToken, refreshTokenExpiresAt: expires, scope: 'read', client, user,
    });
  }
  res.json({ seeded: seeded.length });
});

app.listen(Number(env.PORT), '127.0.0.1');
