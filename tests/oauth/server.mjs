// A real OAuth 2.0 / OpenID Connect server for the test suite, built on oauth2-mock-server.
//
// The mock is lax (any refresh token, codes reusable, one-hour tokens). This wrapper adds
// what a strict provider does, switched on through POST /__control:
//   strict: single-use authorization codes and rotating single-use refresh tokens
//   access_ttl: access-token lifetime in seconds; identity: the consenting mailbox
//   fail_next: {status, error, error_description} for the next token request
//   omit_refresh_token: answer without a refresh token; revoke_all: forget every refresh token
//   reset_stats: zero the counters below
// GET /__stats counts token requests by grant and the invalid_grant answers.
// Microsoft-shaped (/{tenant}/oauth2/v2.0/...) and Google-shaped paths map onto the mock's.
import fs from "node:fs";
import https from "node:https";
import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

const [port, keyFile, certFile] = process.argv.slice(2);
const issuer = new OAuth2Issuer();
await issuer.keys.generate("RS256");
const service = new OAuth2Service(issuer);

const state = {
  strict: false,
  access_ttl: 3600,
  identity: "mailer@example.com",
  fail_next: null,
  omit_refresh_token: false,
  codes: new Set(),
  refresh_tokens: new Set(),
  stats: { authorization_code: 0, refresh_token: 0, client_credentials: 0, invalid_grant: 0 },
  last_token_request: null,
  refusals: [],
};

service.on("beforeAuthorizeRedirect", ({ url }) => {
  const code = url.searchParams.get("code");
  if (code) state.codes.add(code);
});

service.on("beforeTokenSigning", (token) => {
  token.payload.exp = token.payload.iat + state.access_ttl;
  if (state.identity) {
    token.payload.email = state.identity;
    token.payload.preferred_username = state.identity;
  }
});

function refuse(response, error, description, req) {
  response.statusCode = 400;
  response.body = { error, error_description: description };
  if (error === "invalid_grant") state.stats.invalid_grant += 1;
  state.refusals.push({ at: Date.now(), grant_type: req.body.grant_type, client_id: req.body.client_id, ua: req.headers["user-agent"], scope: req.body.scope ?? null, keys: Object.keys(req.body) });
}

service.on("beforeResponse", (response, req) => {
  const body = req.body;
  state.stats[body.grant_type] = (state.stats[body.grant_type] ?? 0) + 1;
  state.last_token_request = { ...body, authorization: req.headers.authorization ?? null };
  if (state.fail_next) {
    const fail = state.fail_next;
    state.fail_next = null;
    response.statusCode = fail.status ?? 400;
    response.body = { error: fail.error, error_description: fail.error_description ?? "" };
    if (fail.error === "invalid_grant") state.stats.invalid_grant += 1;
    return;
  }
  if (state.strict && body.grant_type === "authorization_code") {
    if (!state.codes.delete(body.code)) return refuse(response, "invalid_grant", "The code was already used or is unknown.", req);
  }
  if (state.strict && body.grant_type === "refresh_token") {
    if (!state.refresh_tokens.delete(body.refresh_token)) {
      return refuse(response, "invalid_grant", "AADSTS70000: The refresh token was already used, revoked or is unknown.", req);
    }
  }
  if (response.body.refresh_token) {
    if (state.omit_refresh_token) delete response.body.refresh_token;
    else state.refresh_tokens.add(response.body.refresh_token);
  }
  if (response.body.expires_in) response.body.expires_in = state.access_ttl;
});

function rewrite(url) {
  return url
    .replace(/^\/[^/]+\/oauth2\/v2\.0\/(authorize|token)/, "/$1")
    .replace(/^\/[^/]+\/v2\.0\/\.well-known\/openid-configuration/, "/.well-known/openid-configuration")
    .replace(/^\/o\/oauth2\/v2\/auth/, "/authorize");
}

function readJson(req) {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data ? JSON.parse(data) : {}));
  });
}

const handler = service.requestHandler;
const server = https.createServer(
  { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) },
  async (req, res) => {
    if (req.url === "/__control" && req.method === "POST") {
      const update = await readJson(req);
      if (update.revoke_all) state.refresh_tokens.clear();
      if (update.reset_stats) {
        for (const grant of Object.keys(state.stats)) state.stats[grant] = 0;
        state.last_token_request = null;
        state.refusals = [];
      }
      delete update.revoke_all;
      delete update.reset_stats;
      Object.assign(state, update);
      res.writeHead(204).end();
      return;
    }
    if (req.url === "/__stats") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ ...state.stats, last_token_request: state.last_token_request, refusals: state.refusals }));
      return;
    }
    req.url = rewrite(req.url);
    handler(req, res);
  },
);
server.listen(Number(port), "127.0.0.1", () => {
  issuer.url = `https://127.0.0.1:${server.address().port}`;
  console.log(`READY ${server.address().port}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
