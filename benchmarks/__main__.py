"""``make bench``: every benchmark in turn, each writing its section of docs/benchmarks.md.

    python -m benchmarks            # hashing, PDQ index (100k, 1M), end-to-end lookup (1M),
                                    # grooming indicators (precision/recall), text throughput,
                                    # exchange ingest (1M records vs threatexchange fetch)
    python -m benchmarks --quick    # shorter runs of the same
"""

from __future__ import annotations

import sys

from benchmarks import (
    e2e_lookup,
    exchange_ingest,
    hashing,
    pdq_index,
    text_eval,
    text_throughput,
)


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    hashing.main(["--quick"] if quick else [])
    pdq_index.main(["--sizes", "100000,1000000"] + (["--quick"] if quick else []))
    e2e_lookup.main(["--entries", "100000" if quick else "1000000",
                     "--seconds", "10" if quick else "20"])
    text_eval.main([])
    text_throughput.main(["--rounds", "1" if quick else "3"])
    exchange_ingest.main(["--records", "100000" if quick else "1000000"])


if __name__ == "__main__":
    main()
