#!/usr/bin/env python3
"""Writes the seed corpus of the .npy fuzz target (fuzz/corpus/npy/) with NumPy.

The seeds are real NumPy files covering what the reader accepts (f4/f8, both
byte orders, C and Fortran order, 1-D and 2-D, empty, format 1.0/2.0/3.0) and
what it must refuse (integer, complex, bool, float16, object/pickle, string,
structured and datetime dtypes, 0-d and 3-d shapes). The fuzzer (tests/fuzz.rs)
mutates and splices them. Rerun after a NumPy upgrade only if the files should
change; they are committed so the fuzz test needs no Python.

    python3 fuzz/make_corpus.py
"""
import io
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "npy")


def save(name, arr, version=None, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version, allow_pickle=allow_pickle)
    with open(os.path.join(OUT, name + ".npy"), "wb") as f:
        f.write(buf.getvalue())


def raw(name, header, data):
    """A hand-made version 1.0 file: header text as older writers wrote it."""
    h = header + " " * ((-(10 + len(header) + 1)) % 64) + "\n"
    with open(os.path.join(OUT, name + ".npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode("latin1") + data)


def main():
    os.makedirs(OUT, exist_ok=True)
    m = np.arange(12, dtype="<f8").reshape(3, 4) / 7 - 0.5
    save("f8_c_3x4", m)
    save("f4_c_3x4", m.astype("<f4"))
    save("f8_fortran_3x4", np.asfortranarray(m))
    save("f8_big_c_3x4", m.astype(">f8"))
    save("f4_big_fortran_2x3", np.asfortranarray(m[:2, :3].astype(">f4")))
    save("f8_1d_5", np.array([1.0, -0.0, np.inf, np.nan, 5e-324]))
    save("f4_1d_1", np.array([3.5], dtype="<f4"))
    save("f8_empty_0x3", np.zeros((0, 3)))
    save("f8_empty_4x0", np.zeros((4, 0)))
    save("f8_1x1", np.ones((1, 1)))
    save("f8_v2", m, version=(2, 0))
    save("f4_v3", m.astype("<f4"), version=(3, 0))
    save("i8_2x2", np.arange(4, dtype="<i8").reshape(2, 2))
    save("u1_3", np.arange(3, dtype="u1"))
    save("c8_2", np.array([1 + 2j, 3 - 4j], dtype="<c8"))
    save("c16_2x1", np.array([[1 + 2j], [3j]], dtype="<c16"))
    save("bool_3", np.array([True, False, True]))
    save("f2_3", np.array([1, 2, 3], dtype="<f2"))
    save("object_2", np.array([1.0, "a"], dtype=object), allow_pickle=True)
    save("str_2", np.array(["ab", "c"]))
    save("struct_2", np.zeros(2, dtype=[("a", "<f8"), ("b", "<f4")]))
    save("datetime_2", np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"))
    save("scalar_0d", np.array(2.5))
    save("f8_3d", np.zeros((2, 1, 3)))
    two = np.array([[1.0, 2.0]]).tobytes()
    raw("py2_long_shape", "{'descr': '<f8', 'fortran_order': False, 'shape': (1L, 2L), }", two)
    raw("keys_reordered_no_comma", '{"shape": (1, 2), "fortran_order": True, "descr": "<f8"}', two)
    raw("descr_d_native", "{'descr': 'd', 'fortran_order': False, 'shape': (2,), 'extra': [1, (2, 3)]}", two)


if __name__ == "__main__":
    main()
