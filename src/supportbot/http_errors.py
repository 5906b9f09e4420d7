"""Readable causes for failed HTTP calls (openai / httpx), shared by the generator and the judge client."""

from __future__ import annotations


def cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (``__cause__``, else ``__context__``), outermost first."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def is_unreachable(exc: BaseException) -> bool:
    """True when nothing listens at the endpoint (connection refused, unknown host, no route): retrying
    the same URL will not help, unlike a timeout or a 5xx."""
    import httpx

    return any(isinstance(e, httpx.ConnectError | ConnectionRefusedError) for e in cause_chain(exc))


def describe(exc: BaseException, url: str | None = None) -> str:
    """``Type: message`` of ``exc``, with its root cause when that says more (e.g. 'Connection refused'),
    and the URL that was called."""
    chain = cause_chain(exc)
    text = f"{type(exc).__name__}: {exc}"
    root = chain[-1]
    if root is not exc and str(root) and str(root) not in text:
        text += f" ({type(root).__name__}: {root})"
    return f"{text} at {url}" if url else text
