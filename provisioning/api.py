"""The backend's /api/v1 as the technician CLI uses it (standard library HTTP)."""

import json
import urllib.error
import urllib.request

DEFAULT_API_URL = "http://127.0.0.1:5000/api/v1"


class ApiError(Exception):
    """The backend refused a request or could not be reached."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", field: str = ""):
        super().__init__(message)
        self.message, self.status, self.code, self.field = message, status, code, field


class ApiClient:
    def __init__(self, base_url: str = DEFAULT_API_URL, token: str | None = None,
                 timeout_s: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                answer = json.loads(error.read() or b"{}")
            except ValueError:
                answer = {}
            raise ApiError(answer.get("message") or f"HTTP {error.code}", status=error.code,
                           code=answer.get("error", ""), field=answer.get("field", "")) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(f"cannot reach the backend at {self.base_url}: {reason}") from None

    def login(self, username: str, password: str) -> str:
        self.token = self.request("POST", "/tokens",
                                  {"username": username, "password": password})["token"]
        return self.token

    def register_device(self, device_id: str, branch_id: int, *, name: str = "",
                        lang: str = "en") -> dict:
        return self.request("POST", "/devices", {"device_id": device_id, "branch_id": branch_id,
                                                 "name": name, "lang": lang})

    def revoke_device(self, device_id: str) -> dict:
        return self.request("POST", f"/devices/{device_id}/revoke")

    def device(self, device_id: str) -> dict:
        return self.request("GET", f"/devices/{device_id}")

    def enrolment_token(self, device_id: str, branch_id: int, *, name: str = "",
                        lang: str = "en") -> dict:
        return self.request("POST", "/enrolment-tokens", {"device_id": device_id,
                                                          "branch_id": branch_id, "name": name,
                                                          "lang": lang})
