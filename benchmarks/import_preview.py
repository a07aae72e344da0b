"""Time the hotspot import preview for 5,000 rows (target: under 5 s).

Run: .venv/bin/python benchmarks/import_preview.py [ROWS]

Generates a seeded ';'-separated CSV with decimal commas, a mix of rows with coordinates, rows to
locate from the gazetteer, some broken rows and near-duplicates, plus 5,000 stored hotspots to
match against, then prints the preview time for CSV and for the same rows as XLSX.
"""

from __future__ import annotations

import io
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from outreach.importing import AreaCheck, ExistingHotspot, preview_file  # noqa: E402
from outreach.importing.fields import TEMPLATE_HEADERS  # noqa: E402

KINDS = ["SMA", "SMK", "Kantor Kelurahan", "Rumah Sakit", "panti", "lapas", "pasar", "rumah"]


def make_rows(count: int, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        lat, lon = 3.5 + rng.random() * 0.25, 98.6 + rng.random() * 0.15
        located = i % 10 != 0
        row = {
            "kode": f"H{i:05d}",
            "nama": f"{rng.choice(KINDS)} {i % 1500}",
            "jenis": rng.choice(KINDS),
            "alamat": f"Jl. Contoh No. {i}",
            "kecamatan": "Medan Kota",
            "kode_kecamatan": "12.71.01",
            "kelurahan": "Pasar Baru",
            "kode_kelurahan": "12.71.01.1001",
            "lintang": f"{lat:.6f}".replace(".", ",") if located else "",
            "bujur": f"{lon:.6f}".replace(".", ",") if located else "",
            "ktp_el": str(rng.randint(0, 400)),
            "cetak_ktp": str(rng.randint(0, 50)),
            "akta_kelahiran": str(rng.randint(0, 30)),
            "kia": str(rng.randint(0, 30)),
            "prioritas": str(rng.randint(1, 5)),
            "jam_buka": "Sen-Kam 08:00-16:00; Jum 08:00-11:30,13:30-16:00",
            "catatan": "",
        }
        if i % 97 == 0:
            row["lintang"], row["bujur"] = row["bujur"] or "98,6", row["lintang"] or "3,5"
        if i % 89 == 0:
            row["ktp_el"] = "1.000"
        rows.append([row[h] for h in TEMPLATE_HEADERS])
    return rows


def csv_data(rows: list[list[str]]) -> bytes:
    lines = [";".join(TEMPLATE_HEADERS)]
    lines += [";".join(f'"{c}"' if ";" in c else c for c in row) for row in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def xlsx_data(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("hotspot")
    sheet.append(list(TEMPLATE_HEADERS))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rows = make_rows(count)
    rng = random.Random(11)
    existing = [
        ExistingHotspot(
            i,
            f"{rng.choice(KINDS)} {i % 1500}",
            3.5 + rng.random() * 0.25,
            98.6 + rng.random() * 0.15,
            f"H{i:05d}" if i % 2 else None,
            "12.71.01.1001",
        )
        for i in range(5000)
    ]
    area = AreaCheck(3.5952, 98.6722, 30)
    for label, data in (("csv", csv_data(rows)), ("xlsx", xlsx_data(rows))):
        started, cpu_started = time.perf_counter(), time.process_time()
        preview = preview_file(f"bench.{label}", data, existing=existing, area=area)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        counts = preview.counts()
        # CPU time is printed too: on a shared machine wall time includes waiting for a core.
        print(
            f"{label}: {count} rows previewed in {elapsed:.2f} s wall, {cpu:.2f} s CPU "
            f"(valid {counts['valid']}, invalid {counts['invalid']}, update {counts['update']}, "
            f"warnings {counts['warnings']}; target < 5 s)"
        )


if __name__ == "__main__":
    main()
