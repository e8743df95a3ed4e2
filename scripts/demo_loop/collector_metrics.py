"""What the edge did, read from the collector's Prometheus endpoint: traces decided and
kept by tail sampling, exceptions resolved by symbolize, envelopes assembled and sent."""

import urllib.error
import urllib.request


def scrape(url: str) -> list:
    """(name, labels text, value) of every sample; empty when the endpoint does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode(errors="replace")
    except (OSError, urllib.error.URLError):
        return []
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        try:
            samples.append((name, labels.rstrip("}"), float(value)))
        except ValueError:
            continue
    return samples


def total(samples: list, name: str, *label_parts: str) -> int:
    return int(sum(v for n, labels, v in samples if n == name and all(p in labels for p in label_parts)))


def edge_summary(url: str) -> tuple:
    """(line for people, counts) of the edge's work so far."""
    s = scrape(url)
    counts = {
        "traces_decided": total(s, "tracemend_tail_sampling_traces_decided_total"),
        "traces_kept": total(s, "tracemend_tail_sampling_traces_decided_total", 'outcome="sampled"'),
        "exceptions_symbolized": total(s, "tracemend_wasm_guest_counter_total", 'processor="wasm/symbolize"',
                                       'name="symbolize.enriched.exception"'),
        "envelopes_assembled": total(s, "tracemend_envelope_assembled_total"),
        "envelopes_sent": total(s, "tracemend_envelope_sent_total"),
    }
    line = (f"edge: tail_sampling decided {counts['traces_decided']} traces and kept "
            f"{counts['traces_kept']} (the failing ones); symbolize resolved {counts['exceptions_symbolized']} "
            f"exception(s) with the commit's index; {counts['envelopes_assembled']} envelope(s) assembled, "
            f"{counts['envelopes_sent']} sent")
    return line, counts
