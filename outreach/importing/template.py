"""Downloadable import templates (CSV and XLSX) with the canonical Indonesian headers."""

from __future__ import annotations

import csv
import io

from outreach.importing.fields import FIELD_ALIASES, TEMPLATE_HEADERS
from outreach.importing.parse import DEFAULT_PRIORITY, MAX_COUNT, MAX_ROWS

# Two example rows: one with coordinates, one without (located from its kelurahan code).
EXAMPLE_ROWS: tuple[dict[str, object], ...] = (
    {
        "kode": "SMA-001",
        "nama": "SMA Negeri 1 Medan",
        "jenis": "SMA",
        "alamat": "Jl. Teuku Cik Ditiro No. 1",
        "kecamatan": "Medan Kota",
        "kode_kecamatan": "12.71.01",
        "kelurahan": "Pasar Baru",
        "kode_kelurahan": "12.71.01.1001",
        "lintang": 3.5801,
        "bujur": 98.6789,
        "ktp_el": 120,
        "cetak_ktp": 0,
        "akta_kelahiran": 5,
        "kia": 0,
        "prioritas": 2,
        "jam_buka": "Sen-Kam 07:30-13:00; Jum 07:30-11:00",
        "catatan": "Siswa kelas XII yang berusia 17 tahun",
        "nama_kontak": "Ibu Kepala Sekolah",
        "telepon_kontak": "061-4512345",
    },
    {
        "kode": "PANTI-002",
        "nama": "Panti Sosial Tresna Werdha",
        "jenis": "panti",
        "alamat": "",
        "kecamatan": "Medan Kota",
        "kode_kecamatan": "12.71.01",
        "kelurahan": "Pasar Baru",
        "kode_kelurahan": "12.71.01.1001",
        "lintang": None,
        "bujur": None,
        "ktp_el": 15,
        "cetak_ktp": 0,
        "akta_kelahiran": 0,
        "kia": 0,
        "prioritas": 1,
        "jam_buka": "Sen-Jum 09:00-15:00",
        "catatan": "Lansia terbaring; koordinat kosong diisi dari kode kelurahan",
        "nama_kontak": "",
        "telepon_kontak": "",
    },
)


def _example_values() -> list[list[object]]:
    return [[example.get(h) for h in TEMPLATE_HEADERS] for example in EXAMPLE_ROWS]


def template_csv(separator: str = ";") -> bytes:
    """Return the CSV template as UTF-8 with a BOM (so Excel shows Indonesian text correctly).

    With ``;`` (the default, what Excel uses in the Indonesian locale) coordinates are written with
    a decimal comma; with ``,`` they use a dot. Both forms are read back by the importer.
    """
    if separator not in (";", ","):
        raise ValueError("separator must be ';' or ','")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADERS)
    for row in _example_values():
        cells = []
        for value in row:
            if value is None:
                cells.append("")
            elif isinstance(value, float):
                text = f"{value:.6f}".rstrip("0").rstrip(".")
                cells.append(text.replace(".", ",") if separator == ";" else text)
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _instructions() -> list[tuple[str, str]]:
    aliases = {field: ", ".join(names) for field, names in FIELD_ALIASES.items()}
    return [
        ("Kolom / Column", "Keterangan / Notes"),
        ("nama", f"Wajib. Nama lokasi. Judul lain yang diterima: {aliases['name']}."),
        (
            "jenis",
            "sekolah/SMA/SMK/MA/SLB, kantor kelurahan/desa, rumah sakit/RS, panti, lapas/rutan, "
            "pasar/mall, rumah, balai desa; lainnya = other.",
        ),
        (
            "lintang, bujur",
            "Desimal, titik atau koma (3.5801 atau 3,5801). Kosongkan keduanya jika "
            "tidak diketahui: lokasi diperkirakan dari kode kelurahan/kecamatan.",
        ),
        ("kode_kelurahan", "Kode Kemendagri, mis. 12.71.01.1001 (simpan sebagai teks)."),
        (
            "ktp_el, cetak_ktp, akta_kelahiran, kia",
            f"Jumlah orang, bilangan bulat 0–{MAX_COUNT}, tanpa titik/koma. Kosong = 0.",
        ),
        ("prioritas", f"1 (paling mendesak) sampai 5. Kosong = {DEFAULT_PRIORITY}."),
        (
            "jam_buka",
            "Contoh: Sen-Kam 08:00-16:00; Jum 08:00-11:30,13:30-16:00. Hari: Sen Sel Rab Kam Jum "
            "Sab Min (atau Mon..Sun).",
        ),
        ("kode", "Kode unik lokasi; impor ulang dengan kode yang sama memperbarui data."),
        (
            "nama_kontak, telepon_kontak",
            "Opsional. Narahubung di lokasi (kepala sekolah, perawat ruangan); hanya untuk tim "
            "lapangan, tidak pernah tampil di halaman publik. Telepon: angka, spasi, - dan + di "
            "depan, 6–20 angka, mis. 0812-3456-7890 (simpan sebagai teks). Judul lain: "
            f"{aliases['contact_name']}; {aliases['contact_phone']}.",
        ),
        ("Batas / Limits", f"Paling banyak {MAX_ROWS} baris data per berkas."),
    ]


def template_xlsx() -> bytes:
    """Return the XLSX template: sheet "hotspot" (headers + examples) and sheet "petunjuk"."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "hotspot"
    sheet.append(list(TEMPLATE_HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in _example_values():
        sheet.append(row)
    # Codes and phones must stay text: Excel would turn 12.71.01.1001 into nonsense and drop
    # leading zeros (0812...).
    for header in ("kode", "kode_kecamatan", "kode_kelurahan", "telepon_kontak"):
        column = TEMPLATE_HEADERS.index(header) + 1
        for row_cells in sheet.iter_rows(min_col=column, max_col=column, min_row=2, max_row=500):
            for cell in row_cells:
                cell.number_format = "@"
    sheet.freeze_panes = "A2"
    help_sheet = workbook.create_sheet("petunjuk")
    for line in _instructions():
        help_sheet.append(list(line))
    help_sheet.column_dimensions["A"].width = 36
    help_sheet.column_dimensions["B"].width = 110
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
