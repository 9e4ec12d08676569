"""Static CUDA coverage: list the device code (SASS and PTX) embedded in shared libraries.

Reads only headers: the ELF section header table or the PE section table, then the headers of the
fat-binary containers and of their entries.  Payloads are never read or decompressed, so the cost
grows with the number of entries, not with the size of the file (a 500 MB ``libtorch_cuda.so``
with ~3000 entries takes milliseconds).

Layout of a fat binary (little-endian), as found in ``.nv_fatbin`` (ELF), ``__nv_relfatbin``
(ELF relocatable objects) and ``.nv_fatb`` (PE images, section names cut to 8 characters):

* container header, 16 bytes: u32 magic 0xBA55ED50, u16 version, u16 header size,
  u64 size of the entries that follow.  Containers follow each other, maybe with zero padding.
* entry header (``header size`` bytes, 64 to 120 seen): u16 kind (1 PTX, 2 SASS/ELF, 8 LTO-IR),
  u16 version, u32 header size, u64 payload size, ..., u32 arch at +0x1C (75, 90, 120...),
  u64 flags at +0x28.  The next entry starts at entry + header size + payload size.

Entry flags, checked against ``cuobjdump`` 13.5 on nvcc 13.0 output (see tests/fixtures/fatbin):

* 0x1 64-bit device code, 0x10 Linux host (0x40 Windows host per other parsers; not checked here:
  the PE fixtures carry a fat binary built on Linux);
* 0x2000 payload compressed with LZ4 (``-compress-mode=speed``),
  0x8000 payload compressed with zstd (the default mode of CUDA 13);
* 0x10000 on LTO-IR entries;
* 0x100000 arch-specific target (``sm_90a``, ``sm_100a``: runs on exactly that arch);
* 0x200000 family-specific target (``sm_100f``, ``sm_103f``, ``sm_120f``).  ``cuobjdump
  --list-elf`` prints such SASS without the ``f`` (``sm_103``); ``-elf`` and ``--list-ptx`` keep
  it.  This scanner keeps the suffix for both, so the name says what nvcc was asked for;
* 0x1000000 on every SASS entry for sm_100 and newer (their 96/112-byte headers carry extra
  target data); no bearing on the arch name.

The ``.nvFatBinSegment`` section (``.nvFatBi`` in PE) holds 24-byte wrappers (u32 magic
0x466243B1, u32 version, u64 address of a container, u64 more) that the CUDA runtime registers.
When a wrapper points at a container outside the fat-binary sections already read (for example
a section renamed by a post-link tool), that container is read too, like the runtime would.

Registered and embedded containers.  The containers above are the *registered* ones: the CUDA
runtime loads them when the library is loaded, and they are all ``cuobjdump`` lists.  Some
libraries keep most of their device code elsewhere and load it themselves through the driver API:
NVIDIA's cuFFT registers a one-entry stub and keeps ~24,000 further containers in ``.ldata``
(ELF) / ``.data`` (PE).  Unless asked for the registered ones only, the scanner also searches the
file's initialised, non-executable data sections for the container magic and keeps each hit whose
header and whole entry chain are sane (version, header sizes, entry kinds, archs, a chain that ends
exactly where the container says).  These *embedded* entries are reported apart from the
registered ones.  The search reads the sections in 1 MiB windows (never the whole file), jumps
over every container it accepts (its payloads are never searched), and stops after
``_MAX_REJECTED`` candidates that fail the checks, so its cost is bounded by the size of the data
sections, not by what a hostile file puts in them.

Layout of this package (each module's docstring says more):
  format.py      the format's numbers and the scanner's bounds
  results.py     FatbinEntry, BinaryScan: what a scan returns
  reader.py      bounded reads of one file
  containers.py  walking containers and their entries
  embedded.py    the bounded search of data sections for embedded containers
  elf.py, pe.py  the two file formats' sections
  cache.py       ScanCache: results kept by file stamp
  scan.py        scan_file, scan_entries, scan_paths: the entry points
Only what __all__ names is for use outside the package.
"""

from __future__ import annotations

from envdoctor.probes.fatbin.cache import ScanCache
from envdoctor.probes.fatbin.format import ERROR_CODES, FATBIN_MAGIC, MIN_ENTRY_HEADER, SCANNER_VERSION
from envdoctor.probes.fatbin.results import BinaryScan, FatbinEntry
from envdoctor.probes.fatbin.scan import is_shared_library_name, scan_entries, scan_file, scan_paths

__all__ = [
    "FatbinEntry",
    "BinaryScan",
    "ScanCache",
    "scan_file",
    "scan_entries",
    "scan_paths",
    "is_shared_library_name",
    "FATBIN_MAGIC",
    "MIN_ENTRY_HEADER",
    "SCANNER_VERSION",
    "ERROR_CODES",
]
