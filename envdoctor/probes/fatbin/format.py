"""The fat-binary format's numbers (magics, kinds, flags, section names) and the scanner's bounds."""

from __future__ import annotations

import struct

# 2: embedded containers are searched for; family-specific SASS keeps its "f" (sm_103f).
SCANNER_VERSION = 2

# Every value BinaryScan.error can take besides None.
ERROR_CODES = frozenset(
    {
        "unreadable",  # the file could not be opened or read (missing, permission denied, I/O error)
        "not-a-file",  # a directory, device, FIFO or socket
        "empty",  # zero-length file
        "not-elf-or-pe",  # neither ELF, PE nor a bare fat binary
        "unsupported-elf",  # ELF32 or big-endian
        "bad-elf-header",  # ELF header fields that cannot be right
        "no-section-headers",  # ELF without a section header table: nothing can be said
        "truncated",  # a header or a declared size runs past the end of the file or its container
        "bad-fatbin-header",  # a fat-binary section or container that does not parse
        "header-loop",  # a header chain that does not advance
        "search-limit",  # the search for embedded containers met too many false candidates and stopped
    }
)

FATBIN_MAGIC = 0xBA55ED50
WRAPPER_MAGIC = 0x466243B1
CONTAINER_HEADER = 16
# An entry header must at least reach the flags word (0x28..0x30); real ones are 64..120 bytes.
MIN_ENTRY_HEADER = 0x30
WRAPPER_SIZE = 24

KIND_PTX = 1
KIND_SASS = 2
KIND_LTO = 8

FLAG_LZ4 = 0x2000
FLAG_ZSTD = 0x8000
FLAG_ARCH_SPECIFIC = 0x100000
FLAG_FAMILY = 0x200000

# Names of sections that hold fat binaries.
_ELF_FATBIN = ".nv_fatbin"
_ELF_RELFATBIN = "__nv_relfatbin"
_ELF_SEGMENT = ".nvFatBinSegment"
_PE_FATBIN = (".nv_fatb", ".nv_fatbin")
_PE_SEGMENT = (".nvFatBi", ".nvFatBinSegment")

_MAX_PADDING = 4096  # zero bytes skipped between containers before giving up on a region
_MAX_ENTRIES = 1_000_000  # far above anything real (libtorch_cuda.so has ~3000)
_MAX_WRAPPERS = 65536
_MAX_SECTIONS = 1 << 20

# The search for embedded containers.
_SEARCH_WINDOW = 1 << 20  # bytes read at a time
_MAX_REJECTED = 100_000  # magic hits that fail the sanity checks before the search gives up
_MAX_EMBEDDED_HEADER = 256  # container header sizes accepted while searching (16 in every file seen)
_MAX_EMBEDDED_ENTRY_HEADER = 0x400  # entry header sizes accepted while searching (64..128 seen)
_MAGIC_BYTES = struct.pack("<I", FATBIN_MAGIC)
