"""The sandbox's mutable state: switches, flood control, injected faults, sessions and stats.

Everything here is guarded by one lock in SandboxState; the HTTP handler threads only call
its methods. Nothing here sleeps: delays are computed here and slept by the caller, so a
slow request never holds the lock.
"""

import hashlib
import math
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass

from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME


@dataclass(frozen=True)
class Switch:
    name: str
    default: object
    kind: type  # int, float or bool
    help: str
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False


SWITCHES = {
    s.name: s
    for s in (
        Switch("latency_ms", 0, int, "milliseconds added to every API response", minimum=0),
        Switch("hang_ms", 0, int, "milliseconds to wait before answering at all (client timeouts)", minimum=0),
        Switch(
            "error_rate",
            0.0,
            float,
            "fraction of API calls answered with error_status; deterministic: with rate r, call n fails "
            "when floor(n*r) > floor((n-1)*r), so 0.5 fails every 2nd call and 1 fails all",
            minimum=0,
            maximum=1,
        ),
        Switch("error_status", 503, int, "the HTTP status of injected errors", minimum=500, maximum=599),
        Switch(
            "malformed_rate",
            0.0,
            float,
            "fraction of API calls answered 200 with truncated, unparseable JSON (same counting as error_rate)",
            minimum=0,
            maximum=1,
        ),
        Switch(
            "rate_limit_per_minute",
            None,
            int,
            "API calls allowed per minute (Vtiger plans: 30, 60, 90); none means unlimited",
            minimum=1,
            nullable=True,
        ),
        Switch(
            "rate_limit_per_day",
            None,
            int,
            "API calls allowed per 24 h; none means unlimited",
            minimum=1,
            nullable=True,
        ),
        Switch("session_ttl_s", 86400.0, float, "webservice session lifetime in seconds", minimum=0.001),
        Switch("session_idle_s", 1800.0, float, "webservice session idle timeout in seconds", minimum=0.001),
        Switch("challenge_ttl_s", 300.0, float, "lifetime of a getchallenge token in seconds", minimum=0.001),
        Switch(
            "selfhosted_sync_broken",
            False,
            bool,
            "answer webservice.php sync with an empty HTTP 500, as open-source 8.2 on PHP 8 does",
        ),
        Switch("max_rows", 100, int, "VTQL row cap per query and sync page (Vtiger: 100)", minimum=1),
    )
}

# Reported in the flood-control headers when no limit is set, so clients that read the
# headers see plenty of room instead of a missing header.
UNLIMITED_PER_MINUTE = 100_000
UNLIMITED_PER_DAY = 10_000_000


def validate_switches(values):
    """Check and coerce switch values (from JSON or keyword arguments); raise ValueError."""
    if not isinstance(values, dict):
        raise ValueError("the configuration must be a JSON object of switches")
    clean = {}
    for name, value in values.items():
        switch = SWITCHES.get(name)
        if switch is None:
            raise ValueError(f"unknown switch {name!r}; known switches: {', '.join(sorted(SWITCHES))}")
        if value is None:
            if not switch.nullable:
                raise ValueError(f"{name} cannot be null")
            clean[name] = None
            continue
        if switch.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            clean[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        if switch.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"{name} must be a whole number")
            value = int(value)
        else:
            value = float(value)
        if (switch.minimum is not None and value < switch.minimum) or (
            switch.maximum is not None and value > switch.maximum
        ):
            bounds = f"at least {switch.minimum}" if switch.maximum is None else f"{switch.minimum}..{switch.maximum}"
            raise ValueError(f"{name} must be {bounds}")
        clean[name] = value
    return clean


def default_switches():
    return {name: switch.default for name, switch in SWITCHES.items()}


class _FixedWindow:
    """A request budget over a window that opens with the first request after the last one closed.

    Anchoring on the first request (not on the clock) keeps a test that runs across a
    minute boundary from seeing its budget refilled half-way.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.opened = None
        self.used = 0

    def _roll(self, now):
        if self.opened is None or now >= self.opened + self.seconds:
            self.opened, self.used = now, 0

    def reset_at(self, now):
        self._roll(now)
        return self.opened + self.seconds

    def try_take(self, now, limit):
        self._roll(now)
        if limit is not None and self.used >= limit:
            return False
        self.used += 1
        return True


class _Faults:
    """Deterministic fault schedule: call n fails when floor(n*rate) > floor((n-1)*rate)."""

    def __init__(self):
        self.calls = 0

    def next_fails(self, rate):
        self.calls += 1
        return rate > 0 and math.floor(self.calls * rate + 1e-9) > math.floor((self.calls - 1) * rate + 1e-9)


@dataclass
class Admission:
    """What the state decided for one API request, before it is handled."""

    headers: list  # flood-control headers to send with the answer
    rate_limited: bool
    retry_after: int
    fault: str | None  # "error", "malformed" or None
    delay_s: float
    wake: threading.Event  # set by reset/stop to cut delays short


@dataclass
class _Session:
    username: str
    created: float
    last_used: float


class SandboxState:
    def __init__(self, switches=None, clock=time.time):
        self._lock = threading.Lock()
        self._clock = clock
        self._base = {**default_switches(), **validate_switches(dict(switches or {}))}
        self.stopped = threading.Event()
        self._reset_locked()

    # -- configuration --

    def _reset_locked(self):
        self.switches = dict(self._base)
        self._minute = _FixedWindow(60)
        self._day = _FixedWindow(86400)
        self._error_faults = _Faults()
        self._malformed_faults = _Faults()
        self._sessions = {}
        self._challenges = {}
        self._requests = Counter()
        self._counters = Counter()
        self._wake = threading.Event()

    def configure(self, **changes):
        clean = validate_switches(changes)
        with self._lock:
            self.switches.update(clean)
            # A test that sets a rate expects the pattern to start from its next call.
            if "error_rate" in clean:
                self._error_faults = _Faults()
            if "malformed_rate" in clean:
                self._malformed_faults = _Faults()
            return dict(self.switches)

    def config(self):
        with self._lock:
            return dict(self.switches)

    def switch(self, name):
        with self._lock:
            return self.switches[name]

    def reset(self):
        """Switches back to their start values, counters to zero, sessions and windows cleared."""
        with self._lock:
            self._wake.set()  # requests still sleeping from before the reset answer now
            self._reset_locked()
            return dict(self.switches)

    def stop(self):
        self.stopped.set()
        with self._lock:
            self._wake.set()

    # -- per request --

    def admit(self, endpoint):
        """Count an API request, apply flood control and decide its injected fault and delay."""
        with self._lock:
            now = self._clock()
            self._requests[endpoint] += 1
            self._counters["total_requests"] += 1
            per_minute = self.switches["rate_limit_per_minute"]
            per_day = self.switches["rate_limit_per_day"]
            minute_ok = self._minute.try_take(now, per_minute)
            day_ok = minute_ok and self._day.try_take(now, per_day)
            if minute_ok and not day_ok:
                self._minute.used -= 1  # refused calls don't spend the minute budget either
            reset_minute = self._minute.reset_at(now)
            minute_limit = per_minute or UNLIMITED_PER_MINUTE
            day_limit = per_day or UNLIMITED_PER_DAY
            headers = [
                ("X-FloodControl-MinuteLimit", str(minute_limit)),
                ("X-FloodControl-Remaining", str(max(minute_limit - self._minute.used, 0))),
                ("X-FloodControl-Reset", str(math.ceil(reset_minute))),
                ("X-RateLimit-DailyLimit", str(day_limit)),
                ("X-RateLimit-Remaining", str(max(day_limit - self._day.used, 0))),
            ]
            limited = not (minute_ok and day_ok)
            retry_after = 0
            fault = None
            if limited:
                self._counters["rate_limited"] += 1
                until = reset_minute if not minute_ok else self._day.reset_at(now)
                retry_after = max(1, math.ceil(until - now))
                headers.append(("Retry-After", str(retry_after)))
            elif self._error_faults.next_fails(self.switches["error_rate"]):
                fault = "error"
                self._counters["errors_injected"] += 1
            elif self._malformed_faults.next_fails(self.switches["malformed_rate"]):
                fault = "malformed"
                self._counters["malformed_injected"] += 1
            delay = (self.switches["latency_ms"] + self.switches["hang_ms"]) / 1000
            if self.switches["hang_ms"]:
                self._counters["hung"] += 1
            return Admission(headers, limited, retry_after, fault, delay, self._wake)

    def count(self, name, amount=1):
        with self._lock:
            self._counters[name] += amount

    def stats(self):
        with self._lock:
            now = self._clock()
            return {
                "total_requests": self._counters["total_requests"],
                "requests": dict(sorted(self._requests.items())),
                "rate_limited": self._counters["rate_limited"],
                "errors_injected": self._counters["errors_injected"],
                "malformed_injected": self._counters["malformed_injected"],
                "hung": self._counters["hung"],
                "auth_failures": self._counters["auth_failures"],
                "challenges": self._counters["challenges"],
                "logins": self._counters["logins"],
                "sessions_expired": self._counters["sessions_expired"],
                "active_sessions": sum(1 for s in self._sessions.values() if self._session_alive(s, now)),
                "minute_window_used": self._minute.used,
            }

    # -- webservice.php challenge and sessions --

    def new_challenge(self, username):
        with self._lock:
            now = self._clock()
            token = secrets.token_hex(7)[:13]  # uniqid() length
            expires = now + self.switches["challenge_ttl_s"]
            # One token per user: a new challenge replaces the old one, as in vtiger_ws_userauthtoken.
            self._challenges[username] = (token, expires)
            self._counters["challenges"] += 1
            return {"token": token, "serverTime": int(now), "expireTime": int(expires)}

    def login(self, username, access_key_hash):
        """'ok', 'bad_token' or 'bad_key'; on 'ok' also the new session name."""
        with self._lock:
            now = self._clock()
            challenge = self._challenges.get(username or "")
            if challenge is None or challenge[1] < now:
                return "bad_token", None
            expected = hashlib.md5((challenge[0] + DEMO_ACCESS_KEY).encode(), usedforsecurity=False).hexdigest()
            if username != DEMO_USERNAME or access_key_hash != expected:
                self._counters["auth_failures"] += 1
                return "bad_key", None
            session_name = secrets.token_hex(10)
            self._sessions[session_name] = _Session(username, now, now)
            self._counters["logins"] += 1
            return "ok", session_name

    def _session_alive(self, session, now):
        return (
            now - session.created <= self.switches["session_ttl_s"]
            and now - session.last_used <= self.switches["session_idle_s"]
        )

    def touch_session(self, session_name):
        """True if the session is valid (and marks it used); expired sessions are dropped."""
        with self._lock:
            now = self._clock()
            session = self._sessions.get(session_name)
            if session is None:
                return False
            if not self._session_alive(session, now):
                del self._sessions[session_name]
                self._counters["sessions_expired"] += 1
                return False
            session.last_used = now
            return True
