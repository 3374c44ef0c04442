// A relying party built on openid-client, against a real Mintage, knowing only its issuer URL.
//
// openid-client plays the relying party: discovery, the authorization URL with PKCE, state
// and nonce, the code exchange (it validates the ID token: signature against jwks_uri, iss,
// aud, azp, nonce, exp, iat, and the iss of the authorization response, RFC 9207), UserInfo
// and the refresh.  The small `browser` below plays the user: it fetches the sign-in page,
// posts the username and password with the form's CSRF field and its cookies, posts the
// consent form, and reads where Mintage sends it back.  It knows no Mintage internals:
// only HTML forms, cookies and redirects.
//
// Then, with the browser still signed in: prompt=none (no page; consent_required for a
// public client, which is asked every time), prompt=login (the sign-in page again),
// max_age (openid-client checks auth_time), RP-Initiated Logout through the discovered
// end_session_endpoint, and prompt=none once signed out (login_required).
//
// Input (environment): ISSUER, CLIENT_ID, CLIENT_SECRET (empty for a public client),
// REDIRECT_URI, POST_LOGOUT_REDIRECT_URI, SCOPE, USERNAME, PASSWORD.  Output: one JSON
// summary on stdout.

import { readFileSync } from 'node:fs'
import * as client from 'openid-client'

const env = process.env
const issuer = new URL(env.ISSUER)

// --- the browser -----------------------------------------------------------------------

const jar = new Map()

function remember (response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';')
    const at = pair.indexOf('=')
    const name = pair.slice(0, at).trim()
    const value = pair.slice(at + 1).trim()
    const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a))
    if (expired || value === '' || value === '""') jar.delete(name)
    else jar.set(name, value)
  }
}

async function go (url, init = {}) {
  const headers = { ...(init.headers || {}) }
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
  const response = await fetch(url, { ...init, headers, redirect: 'manual' })
  remember(response)
  return response
}

const entities = { amp: '&', lt: '<', gt: '>', quot: '"', '#34': '"', '#39': "'", '#x27': "'" }
const decode = (s) => s.replace(/&(amp|lt|gt|quot|#34|#39|#x27);/g, (_, e) => entities[e])

function forms (html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, attrs, body]) => {
    const fields = {}
    for (const [input] of body.matchAll(/<input\b[^>]*>/g)) {
      const name = /\bname="([^"]*)"/.exec(input)
      const type = /\btype="([^"]*)"/.exec(input)
      if (name && type && type[1] === 'hidden') {
        fields[decode(name[1])] = decode((/\bvalue="([^"]*)"/.exec(input) || [, ''])[1])
      }
    }
    return { action: decode(/\baction="([^"]*)"/.exec(attrs)[1]), fields, body }
  })
}

/** From the authorization URL to the redirect back to the client: its full URL. */
async function browser (authorizationUrl, username, password) {
  let url = authorizationUrl
  let response = await go(url)
  const pages = []
  for (let step = 0; step < 6; step++) {
    if (response.status === 302 || response.status === 303) {
      const next = new URL(response.headers.get('location'), url)
      if (next.origin !== issuer.origin) return { location: next, pages }
      url = next
      response = await go(url)
      continue
    }
    const html = await response.text()
    if (response.status !== 200) throw new Error(`${response.status} at ${url}: ${html}`)
    const all = forms(html)
    const login = all.find((f) => f.action.endsWith('/login') && /name="password"/.test(f.body))
    const consent = all.find((f) => f.action.endsWith('/oauth/authorize/decision'))
    let data
    if (login) {
      pages.push('login')
      data = { ...login.fields, username, password }
      url = new URL(login.action, url)
    } else if (consent) {
      pages.push('consent')
      data = { ...consent.fields, decision: 'approve' }
      url = new URL(consent.action, url)
    } else {
      throw new Error(`no sign-in or consent form at ${url}: ${html}`)
    }
    response = await go(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(data).toString(),
    })
  }
  throw new Error('the pages never sent the browser back to the client')
}

// --- the relying party -----------------------------------------------------------------

const config = env.CLIENT_SECRET
  ? await client.discovery(issuer, env.CLIENT_ID, env.CLIENT_SECRET, client.ClientSecretBasic(), {
    execute: [client.allowInsecureRequests], // loopback http, for the test only
  })
  : await client.discovery(issuer, env.CLIENT_ID, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  })

/** One authorization: extra request `params`, extra openid-client `checks`. */
async function signIn ({ params = {}, checks = {} } = {}) {
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: env.REDIRECT_URI,
    scope: env.SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  })
  const { location, pages } = await browser(authorizationUrl, env.USERNAME, env.PASSWORD)
  const tokens = await client.authorizationCodeGrant(config, location, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    ...checks,
  })
  return { tokens, nonce, pages, location, claims: tokens.claims() }
}

/** What a failed sign-in failed with. */
function described (err) {
  const cause = err.cause instanceof Error ? err.cause : null
  return {
    message: err.message,
    error: err.error ?? null, // an authorization error response (login_required...)
    code: cause?.code ?? err.code ?? null,
    detail: cause?.message ?? null,
    claim: cause?.cause?.claim ?? null,
  }
}

/** What a sign-in that must fail failed with. */
async function failure (attempt) {
  try {
    await attempt()
  } catch (err) {
    return described(err)
  }
  return null
}

const brief = ({ pages, claims }) => ({ pages, sub: claims.sub, auth_time: claims.auth_time })

/** The brief of a sign-in, or what it failed with. */
async function outcome (attempt) {
  try {
    return brief(await attempt())
  } catch (err) {
    return described(err)
  }
}

const first = await signIn()
const claims = first.tokens.claims()
const userinfo = await client.fetchUserInfo(config, first.tokens.access_token, claims.sub)
const refreshed = await client.refreshTokenGrant(config, first.tokens.refresh_token)
const refreshedClaims = refreshed.claims()
const userinfoAfterRefresh = await client.fetchUserInfo(config, refreshed.access_token, claims.sub)

// The relying party's own checks bite: a sign-in whose ID token carries the nonce of
// its request, validated against another expected nonce, is refused.
const wrongNonce = await failure(() => signIn({ checks: { expectedNonce: client.randomNonce() } }))

// OpenID Connect Core §3.1.2.1 with the session still open; a public client on a
// loopback redirect URI is asked for consent every time (RFC 8252 §8.6), so for it
// prompt=none answers consent_required
const silent = await outcome(() => signIn({ params: { prompt: 'none' } }))
await new Promise((resolve) => setTimeout(resolve, 1100)) // a later auth_time, to the second
const again = await signIn({ params: { prompt: 'login' } })
const maxAge = await signIn({ params: { max_age: '3600' }, checks: { maxAge: 3600 } })

// RP-Initiated Logout 1.0 through the discovered end_session_endpoint
const logoutState = client.randomState()
const logoutUrl = client.buildEndSessionUrl(config, {
  id_token_hint: again.tokens.id_token,
  post_logout_redirect_uri: env.POST_LOGOUT_REDIRECT_URI,
  state: logoutState,
})
const loggedOut = await browser(logoutUrl, env.USERNAME, env.PASSWORD)
const afterLogout = await failure(() => signIn({ params: { prompt: 'none' } }))

const pkg = JSON.parse(readFileSync(new URL('./node_modules/openid-client/package.json', import.meta.url)))
const server = config.serverMetadata()
process.stdout.write(JSON.stringify({
  openidClientVersion: pkg.version,
  nodeVersion: process.version,
  server: {
    issuer: server.issuer,
    supportsPKCE: server.supportsPKCE(),
    userinfo_endpoint: server.userinfo_endpoint,
    jwks_uri: server.jwks_uri,
  },
  pages: first.pages,
  callback: { iss: first.location.searchParams.get('iss') },
  nonce: first.nonce,
  token: {
    token_type: first.tokens.token_type,
    scope: first.tokens.scope,
    expires_in: first.tokens.expiresIn(),
    access_token_is_jwt: first.tokens.access_token.split('.').length === 3,
    has_refresh_token: typeof first.tokens.refresh_token === 'string',
  },
  idToken: claims,
  userinfo,
  refreshed: {
    new_access_token: refreshed.access_token !== first.tokens.access_token,
    new_refresh_token: refreshed.refresh_token !== first.tokens.refresh_token,
    idToken: refreshedClaims ?? null,
  },
  userinfoAfterRefresh,
  wrongNonce,
  silent,
  promptLogin: brief(again),
  maxAge: brief(maxAge),
  logout: {
    end_session_endpoint: server.end_session_endpoint ?? null,
    pages: loggedOut.pages,
    returned_to: loggedOut.location.origin + loggedOut.location.pathname,
    state_matches: loggedOut.location.searchParams.get('state') === logoutState,
  },
  afterLogout,
}, null, 2) + '\n')
