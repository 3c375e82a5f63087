"""A page table file's entries (src/pagetable/pagetable.h), for the tests that look at where chunks are."""
import struct


def pt_entries(path):
    """The entries of the page table file at path, in chunk order (the header
    says where they start: header_size at byte 12, nr_chunks at byte 32)."""
    with open(path, "rb") as f:
        data = f.read()
    hsize = struct.unpack_from("<I", data, 12)[0]
    nr_chunks = struct.unpack_from("<Q", data, 32)[0]
    return [e for (e,) in struct.iter_unpack("<Q", data[hsize:hsize + 8 * nr_chunks])]
