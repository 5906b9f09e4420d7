"""lm-eval hooks for the supportbot reference task."""


def process_results(doc: dict, results: list) -> dict:
    """(log-likelihood of the reference answer, its UTF-8 byte count) for the bits_per_byte aggregation."""
    loglik, _is_greedy = results[0]
    return {"ref_bits_per_byte": (loglik, len(doc["target"].encode("utf-8")))}
