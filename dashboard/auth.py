"""The dashboard's login: password hashes, who must log in, and a limit on wrong tries.

Plain Python (no Streamlit), so the CLI, `dashcam up` and the tests use it as the app does.

Hash: scrypt from the standard library (OpenSSL's), n=2**17, r=8, p=1 (OWASP's minimum for
scrypt): 128 MiB and ~0.3 s per check on a small server, so a stolen hash costs an attacker
memory as well as time per guess, which PBKDF2 does not. The parameters travel in the string,
so stronger ones later still read old hashes. The format has no `$` (shells and systemd expand
it in environment files): `scrypt:N:r:p:salt:key`, salt and key in URL-safe base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dashcam.settings import Settings

N, R, P = 2**17, 8, 1
KEY_BYTES = 32
# OpenSSL refuses scrypt above its 32 MiB default unless told: 128 * r * n bytes plus slack.
_MAXMEM = 256 * 1024 * 1024
MAX_PASSWORD = 1024  # characters: longer is no password, and a denial of service


class LoginConfigError(ValueError):
    """The dashboard must not start: it would be reachable beyond loopback without a login."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM,
                         dklen=KEY_BYTES)
    return f"scrypt:{n}:{r}:{p}:{_b64(salt)}:{_b64(key)}"


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, key) of a stored hash; ValueError saying what is wrong with it."""
    parts = stored.strip().split(":")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("it is not scrypt:N:r:p:salt:key (make one with `dashcam dashboard-password`)")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ValueError("its numbers or base64 parts do not parse") from None
    if n < 2**14 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or 128 * r * n > _MAXMEM // 2:
        raise ValueError(f"its parameters n={n} r={r} p={p} are out of range")
    if len(salt) < 16 or len(key) < 16:
        raise ValueError("its salt or key is too short")
    return n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    n, r, p, salt, key = parse_hash(stored)
    if not password or len(password) > MAX_PASSWORD:
        return False
    got = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=len(key))
    return hmac.compare_digest(got, key)


def is_loopback(address: str | None) -> bool:
    """127.0.0.0/8, ::1 and `localhost`. Anything else (0.0.0.0, a LAN address, a host name)
    may be reachable from other machines."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def login_required(settings: Settings, address: str | None = None) -> bool:
    """Beyond loopback always; on loopback only when `DASHCAM_DASHBOARD_LOGIN=always`."""
    return settings.dashboard_login == "always" or not is_loopback(address or settings.dashboard_address)


def startup_problem(settings: Settings, address: str | None = None) -> str | None:
    """Why the dashboard must not start with these settings, or None."""
    address = address or settings.dashboard_address
    if not login_required(settings, address):
        return None
    where = f"DASHCAM_DASHBOARD_ADDRESS={address}" if not is_loopback(address) \
        else "DASHCAM_DASHBOARD_LOGIN=always"
    if settings.dashboard_password_hash is None:
        return (f"{where} needs a login, and DASHCAM_DASHBOARD_PASSWORD_HASH is not set: run "
                "`dashcam dashboard-password` and put the line it prints in the main server's .env "
                "(or bind the dashboard to 127.0.0.1 and serve it through a reverse proxy).")
    try:
        parse_hash(settings.dashboard_password_hash.get_secret_value())
    except ValueError as exc:
        return f"DASHCAM_DASHBOARD_PASSWORD_HASH is not usable: {exc}."
    if not settings.dashboard_user.strip():
        return "DASHCAM_DASHBOARD_USER is empty: set the name the household logs in with."
    return None


def check_startup(settings: Settings, address: str | None = None) -> None:
    if problem := startup_problem(settings, address):
        raise LoginConfigError(problem)


@dataclass
class Limiter:
    """Wrong tries per source: `free` of them, then each further one locks that source out for
    `base_s`, doubling, at most `cap_s`. A right one clears the source. Thread-safe (every
    browser session of the dashboard runs in one process)."""

    free: int = 5
    base_s: float = 30.0
    cap_s: float = 900.0
    max_sources: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _fails: dict[str, tuple[int, float]] = field(default_factory=dict)  # source -> (n, until)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_s(self, source: str) -> float:
        """Seconds before this source may try again (0: now)."""
        with self._lock:
            _, until = self._fails.get(source, (0, 0.0))
            return max(0.0, until - self.clock())

    def failed(self, source: str) -> float:
        """Count a wrong try; returns the wait it earned."""
        with self._lock:
            n, _ = self._fails.pop(source, (0, 0.0))
            n += 1
            wait = 0.0 if n <= self.free else min(self.cap_s, self.base_s * 2 ** (n - self.free - 1))
            self._fails[source] = (n, self.clock() + wait)
            while len(self._fails) > self.max_sources:  # oldest first: dicts keep insertion order
                self._fails.pop(next(iter(self._fails)))
            return wait

    def succeeded(self, source: str) -> None:
        with self._lock:
            self._fails.pop(source, None)


# One per dashboard process. Behind a reverse proxy on the same machine, the proxy's
# X-Forwarded-For names the source; all sources together also get a (looser) limit, so many
# addresses guessing at once still slow down.
PER_SOURCE = Limiter()
EVERYONE = Limiter(free=50, base_s=5.0, cap_s=300.0)


@dataclass
class Attempt:
    ok: bool
    message: str


def attempt(settings: Settings, source: str, user: str, password: str) -> Attempt:
    """One login try: the limits first (a locked-out try is not even hashed), then the check."""
    wait = max(PER_SOURCE.wait_s(source), EVERYONE.wait_s("*"))
    if wait > 0:
        return Attempt(False, f"Too many wrong tries: wait {wait:.0f} s before the next one.")
    stored = settings.dashboard_password_hash
    # Both checked every time: a wrong user name must not answer faster than a wrong password.
    password_ok = stored is not None and verify_password(password, stored.get_secret_value())
    user_ok = hmac.compare_digest(user.strip().encode(), settings.dashboard_user.encode())
    if password_ok and user_ok:
        PER_SOURCE.succeeded(source)
        return Attempt(True, "")
    wait = max(PER_SOURCE.failed(source), EVERYONE.failed("*"))
    tail = f" Wait {wait:.0f} s before the next try." if wait else ""
    return Attempt(False, "Wrong user name or password." + tail)
