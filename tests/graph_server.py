"""A local stand-in for Microsoft Graph's sendMail, faithful to what Microsoft documents:
POST /v1.0/users/{id}/sendMail with a bearer token and {"message": ..., "saveToSentItems"?}
→ 202 Accepted with an empty body; errors as {"error": {"code", "message"}}; 429 with
Retry-After. The token must be signed by the test OAuth server and carry the Graph scope."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt


class GraphServer:
    def __init__(self, jwks: dict):
        self.jwks = jwt.PyJWKSet.from_dict(jwks)
        self.requests: list[dict] = []  # accepted sendMail calls: {"path", "body", "token"}
        self.replies: list[tuple[int, dict, dict]] = []  # scripted (status, headers, body)
        self.refused_tokens = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, headers=None, body=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                if data:
                    self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if not server.token_ok(token):
                    server.refused_tokens += 1
                    return self.reply(
                        401,
                        body={
                            "error": {
                                "code": "InvalidAuthenticationToken",
                                "message": "Access token has expired or is not yet valid.",
                            }
                        },
                    )
                if not (self.path.startswith("/v1.0/users/") and self.path.endswith("/sendMail")):
                    return self.reply(
                        404, body={"error": {"code": "ResourceNotFound", "message": "Not found"}}
                    )
                if server.replies:
                    return self.reply(*server.replies.pop(0))
                message = body.get("message") or {}
                if not message.get("toRecipients") and not message.get("bccRecipients"):
                    return self.reply(
                        400,
                        body={
                            "error": {"code": "ErrorInvalidRecipients", "message": "No recipients."}
                        },
                    )
                server.requests.append({"path": self.path, "body": body, "token": token})
                self.reply(202)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1.0"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def token_ok(self, token: str) -> bool:
        try:
            key = self.jwks[jwt.get_unverified_header(token)["kid"]]
            claims = jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_aud": False})
        except (jwt.PyJWTError, KeyError, ValueError):
            return False
        return "https://graph.microsoft.com/.default" in str(claims.get("scope", ""))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
