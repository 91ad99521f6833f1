"""The webhook sink: one HTTP POST per alert, in the body the receiving service expects.

Formats: ``json`` (the alert object), ``slack`` (``{"text": …}``), ``discord``
(``{"content": …}``), ``telegram`` (the Bot API's ``sendMessage``: ``{"chat_id", "text"}`` to
``https://api.telegram.org/bot<TOKEN>/sendMessage``) and ``ntfy`` (the message as plain text
POSTed to the topic URL, with the ``Title``, ``Priority`` and ``Tags`` headers ntfy reads).

Proxies come from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) as for every
HTTP tool; a loopback URL always goes direct. Only the host of a URL is ever logged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx
import msgspec

from pairs_tui.sinks.notice import (
    AlertNotice,
    DeliveryFailed,
    alert_body,
    alert_text,
    alert_title,
)
from pairs_tui.sinks.settings import WebhookSinkSettings

log = logging.getLogger("pairs_tui.sinks")

# httpx logs every request with its full URL at INFO, and the app logs at INFO: that line
# would write a Telegram bot token or a Slack hook path into the log file.
logging.getLogger("httpx").setLevel(logging.WARNING)

NTFY_PRIORITY = "high"
"""ntfy's priority 4: a phone vibrates and sounds longer than for a default message."""
_NTFY_TAGS = {"above": "chart_with_upwards_trend", "below": "chart_with_downwards_trend"}
"""ntfy turns these tags into emoji in front of the title."""

_encode = msgspec.json.Encoder().encode


def webhook_request(
    settings: WebhookSinkSettings, notice: AlertNotice
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one alert's POST, in ``settings.format``."""
    fmt = settings.format
    headers = {"Content-Type": "application/json"}
    content: bytes
    if fmt == "json":
        content = _encode(alert_body(notice))
    elif fmt == "slack":
        content = _encode({"text": alert_text(notice)})
    elif fmt == "discord":
        content = _encode({"content": alert_text(notice)})
    elif fmt == "telegram":
        content = _encode({"chat_id": settings.chat_id, "text": alert_text(notice)})
    else:  # ntfy: header values go out as ASCII, so the title is made of symbols only
        content = notice.event.message.encode()
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Title": alert_title(notice),
            "Priority": NTFY_PRIORITY,
            "Tags": _ntfy_tag(notice),
        }
    return content, {**headers, **settings.headers}


def _ntfy_tag(notice: AlertNotice) -> str:
    if notice.event.metric == "stale":
        return "warning"
    below = notice.event.op in ("<", "<=")
    return _NTFY_TAGS["below" if below else "above"]


def sink_name(settings: WebhookSinkSettings) -> str:
    """``webhook telegram (api.telegram.org)``: kind, format and host, never path or query."""
    host = urlsplit(settings.url).hostname or "?"
    return f"webhook {settings.format} ({host})"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_client(urls: Sequence[str]) -> httpx.AsyncClient:
    """The one HTTP client of a delivery service.

    Proxies from the environment are honoured, except for loopback hosts, which are mounted
    direct (``NO_PROXY`` need not list them). A proxy the client cannot use (``ALL_PROXY`` on
    SOCKS without ``socksio``) is logged and skipped instead of stopping the run.
    """
    direct: dict[str, httpx.AsyncBaseTransport | None] = {}
    for url in urls:
        host = urlsplit(url).hostname or ""
        if is_loopback(host):
            direct[f"all://[{host}]" if ":" in host else f"all://{host}"] = None
    try:
        return httpx.AsyncClient(mounts=direct, trust_env=True)
    except ImportError as exc:
        log.warning("alert webhooks: the proxy from the environment is unusable (%s): direct", exc)
        return httpx.AsyncClient(trust_env=False)


class WebhookSink:
    """POSTs each alert to one URL.

    Args:
        settings: The sink's entry in ``config.toml``.
        client: The delivery service's HTTP client (shared by its webhooks; closed by it).
    """

    def __init__(self, settings: WebhookSinkSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.name = sink_name(settings)
        """Kind, format and host: what logs and the screen call it."""
        self._client = client
        parts = urlsplit(settings.url)
        secrets = (settings.url, parts.path, parts.query, parts.username, parts.password)
        self._secrets = sorted(
            (s for s in (*secrets, *settings.headers.values()) if s and len(s) > 1),
            key=len,
            reverse=True,
        )
        """Text that must never reach a log line."""

    async def send(self, notice: AlertNotice) -> None:
        """POST one alert.

        Raises:
            DeliveryFailed: no answer within the timeout, a network error, or a status that is
                not 2xx.
        """
        content, headers = webhook_request(self.settings, notice)
        timeout = self.settings.timeout_seconds
        try:
            # httpx's timeout bounds each phase; this bounds the whole exchange.
            async with asyncio.timeout(timeout):
                response = await self._client.post(
                    self.settings.url, content=content, headers=headers, timeout=timeout
                )
        except (TimeoutError, httpx.TimeoutException):
            raise DeliveryFailed(f"no answer within {timeout:g} s") from None
        except Exception as exc:  # httpx.HTTPError, InvalidURL, ...: any may quote the URL
            raise DeliveryFailed(self._safe(f"{type(exc).__name__}: {exc}")) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")

    def _safe(self, text: str) -> str:
        """``text`` with every secret of this sink blanked out."""
        for secret in self._secrets:
            text = text.replace(secret, "…")
        return text
