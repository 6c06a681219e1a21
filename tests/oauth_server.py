"""The OAuth server process for tests: tests/oauth/server.mjs over HTTPS on loopback."""

import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


class OAuthServer:
    def __init__(self, certificates, tmp_dir: Path):
        self.certificates = certificates
        key, cert = tmp_dir / "oauth-key.pem", tmp_dir / "oauth-cert.pem"
        certificates.cert.private_key_pem.write_to_path(str(key))
        certificates.cert.cert_chain_pems[0].write_to_path(str(cert))
        self.ca_file = tmp_dir / "oauth-ca.pem"
        certificates.ca.cert_pem.write_to_path(str(self.ca_file))
        self.process = subprocess.Popen(
            ["node", str(ROOT / "tests/oauth/server.mjs"), "0", str(key), str(cert)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.process.kill()
            raise RuntimeError(f"OAuth server did not start: {line}{self.process.stdout.read()}")
        self.port = int(line.split()[1])
        self.url = f"https://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.http.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would override verify=
        self.http.verify = str(self.ca_file)

    def control(self, **settings) -> None:
        self.http.post(f"{self.url}/__control", json=settings, timeout=5).raise_for_status()

    def reset(self) -> None:
        self.control(
            strict=False,
            access_ttl=3600,
            identity="mailer@example.com",
            fail_next=None,
            omit_refresh_token=False,
            revoke_all=True,
            reset_stats=True,
        )

    def stats(self) -> dict:
        return self.http.get(f"{self.url}/__stats", timeout=5).json()

    def jwks(self) -> dict:
        return self.http.get(f"{self.url}/jwks", timeout=5).json()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        time.sleep(0)
