"""The console's security headers, one policy for the local console server (infra/local/console.py) and
the deployed site's CloudFront response headers (infra/constructs/console.py)."""

from __future__ import annotations


def security_headers(connect_src: list[str]) -> dict[str, str]:
    """The headers every console answer carries; the page may connect to itself and `connect_src` only."""
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
        f"connect-src 'self' {' '.join(connect_src)}; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
